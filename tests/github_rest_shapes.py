"""Minimal valid REST bodies derived from GitHub's published response schemas, for the loopback server.

GitHub's objects carry dozens of required fields (a repository ~80, a user 18) that no collector
reads. The server starts every object from a *skeleton* generated here from the reference OpenAPI
description (required fields only, each a neutral value of its declared type) and lays its real
values over it, so each body it sends has the documented shape. `github_rest_skeletons.json` is
checked in (a user's clone has no ../shared); a test regenerates it and fails if it differs, and
another validates every body the server sent against the reference schema.

    python3 tests/github_rest_shapes.py   # rewrite the skeletons
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
SKELETONS = TESTS / "github_rest_skeletons.json"
REFERENCE = TESTS.parent.parent / "shared" / "reference" / "github-rest-subset.json"

# operation path -> name of the skeleton (the item of a list, or the object)
OPERATIONS = {
    "/orgs/{org}": "organization",
    "/orgs/{org}/repos": "repository",
    "/orgs/{org}/outside_collaborators": "user",
    "/orgs/{org}/installations": "installation",
    "/repos/{owner}/{repo}/pulls": "pull",
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews": "review",
    "/repos/{owner}/{repo}/commits/{ref}/status": "combined_status",
    "/repos/{owner}/{repo}/branches/{branch}/protection": "protection",
    "/repos/{owner}/{repo}/dependency-graph/sbom": "sbom",
    "/orgs/{org}/dependabot/alerts": "alert",
}


def response_schema(reference: dict[str, Any], path: str, status: str = "200") -> dict[str, Any]:
    schema: dict[str, Any] = reference["paths"][path]["get"]["responses"][status]["content"][
        "application/json"
    ]["schema"]
    return schema


def example(schema: dict[str, Any]) -> Any:
    """The least value that satisfies `schema`: required properties only, neutral leaves."""
    for key in ("allOf",):
        if key in schema:
            merged: dict[str, Any] = {}
            for part in schema[key]:
                value = example(part)
                if isinstance(value, dict):
                    merged.update(value)
            return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example(schema[key][0])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: example(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer" or kind == "number":
        return max(0, schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2025-01-01T00:00:00Z"
        if fmt == "uri":
            return "https://github.invalid/"
        if fmt == "email":
            return "nobody@github.invalid"
        return ""
    return None


def skeletons(reference: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, name in OPERATIONS.items():
        schema = response_schema(reference, path)
        if schema.get("type") == "array":
            schema = schema["items"]
        if name == "installation":
            schema = schema["properties"]["installations"]["items"]
        out[name] = example(schema)
    return out


def template_of(path: str, reference: dict[str, Any]) -> str | None:
    """The OpenAPI path template a concrete request path belongs to (`/repos/a/b/pulls` -> ...)."""
    for template in reference["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return template
    return None


if __name__ == "__main__":
    if not REFERENCE.is_file():
        sys.exit(f"the reference description is not at {REFERENCE}")
    data = skeletons(json.loads(REFERENCE.read_text(encoding="utf-8")))
    SKELETONS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SKELETONS}")
