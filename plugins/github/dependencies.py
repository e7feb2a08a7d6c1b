"""`github.dependencies`: each repository's dependency-graph SBOM, and the open Dependabot alerts by age.

What an auditor wants decides the shape: the SBOM of a repository *as GitHub exported it* (SPDX
JSON), one artefact per repository (`sbom-<repo>.spdx.json`), because
- it is a document in its own right that SPDX tools open unchanged;
- the host stores a snapshot again only when its bytes change, so a nightly run over 1,000
  repositories stores the few SBOMs that changed and records the rest as "unchanged" (one combined
  artefact would store every SBOM again whenever any one changed);
- every SBOM is fetched conditionally (ETag): an unchanged one costs a 304, which GitHub does not
  count against the hourly limit, and hands back the same bytes, so it files as unchanged.
A `dependencies` artefact then indexes them (package count and SHA-256 of each SBOM filed, or why
there is none) and holds the open Dependabot alerts with their severity and age, read from the one
organisation-wide listing (100 a page) instead of a listing per repository.

Findings: a critical alert open longer than `critical_days` (high), a high one longer than
`high_days` (medium). A repository whose dependency graph is off (404), or a token without
"Dependabot alerts: read" (403), is a gap in the evidence, not a failure: the SBOMs still file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from evidentia import Artefact, CollectContext, Collector, Finding
from evidentia.collector import Severity, canonical_json, utc_iso

from .client import GitHubClient, GitHubError
from .common import Gaps, client, is_gap, params_schema, parse_time, repositories, source_of

SEVERITIES = ("critical", "high", "medium", "low")
AGE_BUCKETS = ((7, "0-7 days"), (30, "8-30 days"), (90, "31-90 days"), (None, "over 90 days"))
OVERDUE: dict[str, tuple[str, str, Severity]] = {
    # alert severity -> (threshold parameter, finding code, finding severity)
    "critical": ("critical_days", "critical-alert-overdue", "high"),
    "high": ("high_days", "high-alert-overdue", "medium"),
}
SPDX = "application/spdx+json"
LIMITS = [
    "Dependabot alerts open when collected; dismissed and fixed alerts are not listed",
    "an SBOM is GitHub's dependency-graph export: what the graph does not detect (vendored code, "
    "downloads at build time) is not in it",
]


def _bucket(age: dt.timedelta) -> str:
    for days, label in AGE_BUCKETS:
        if days is None or age <= dt.timedelta(days=days):
            return label
    raise AssertionError("unreachable")  # pragma: no cover - the last bucket has no limit


def alert_record(alert: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """One open Dependabot alert as filed: where, what, how severe, since when."""
    advisory = alert.get("security_advisory") or {}
    vulnerability = alert.get("security_vulnerability") or {}
    package = (alert.get("dependency") or {}).get("package") or vulnerability.get("package") or {}
    created = parse_time(alert.get("created_at"))
    age = now - created if created else None
    patched = vulnerability.get("first_patched_version") or {}
    return {
        "repository": (alert.get("repository") or {}).get("name"),
        "number": alert.get("number"),
        "severity": str(advisory.get("severity") or vulnerability.get("severity") or "unknown").lower(),
        "ecosystem": package.get("ecosystem"),
        "package": package.get("name"),
        "manifest": (alert.get("dependency") or {}).get("manifest_path"),
        "ghsa_id": advisory.get("ghsa_id"),
        "cve_id": advisory.get("cve_id"),
        "summary": advisory.get("summary"),
        "first_patched_version": patched.get("identifier"),
        "created_at": alert.get("created_at"),
        "age_days": round(age.total_seconds() / 86400, 2) if age is not None else None,
        "age_bucket": _bucket(age) if age is not None else None,
        "url": alert.get("html_url"),
    }


def overdue_findings(
    records: list[dict[str, Any]], limits: dict[str, int], now: dt.datetime
) -> Iterator[Finding]:
    """An alert open *longer* than its threshold: exactly N days old is not yet overdue."""
    for record in records:
        rule = OVERDUE.get(record["severity"])
        created = parse_time(record["created_at"])
        if rule is None or created is None:
            continue
        param, code, severity = rule
        if now - created > dt.timedelta(days=limits[param]):
            subject = f"{record['repository']}/dependabot/{record['number']}"
            yield Finding(
                code,
                f"{subject}: {record['severity']} {record['ghsa_id']} in {record['package']} "
                f"({record['manifest']}) open {record['age_days']:.0f} days, over {limits[param]}",
                severity,
                subject=subject,
            )


def alert_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_severity: dict[str, dict[str, int]] = {}
    by_repository: dict[str, dict[str, int]] = {}
    for r in records:
        row = by_severity.setdefault(r["severity"], {"total": 0, **{label: 0 for _, label in AGE_BUCKETS}})
        row["total"] += 1
        if r["age_bucket"]:
            row[r["age_bucket"]] += 1
        repo = by_repository.setdefault(r["repository"], {})
        repo[r["severity"]] = repo.get(r["severity"], 0) + 1
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return {
        "open": len(records),
        "by_severity": dict(sorted(by_severity.items(), key=lambda kv: order.get(kv[0], len(order)))),
        "by_repository": dict(sorted(by_repository.items())),
    }


class Dependencies(Collector):
    """Dependency-graph SBOMs (SPDX) per repository, and open Dependabot alerts by severity and age."""

    name = "github.dependencies"
    description = "Dependency-graph SBOM (SPDX) per repository and open Dependabot alerts by age"
    principles = ("P7", "P11")
    kind = "snapshot"
    params_schema = params_schema(
        {
            "critical_days": {
                "type": "integer",
                "minimum": 1,
                "default": 30,
                "description": "A critical alert open longer than this many days is a finding",
            },
            "high_days": {
                "type": "integer",
                "minimum": 1,
                "default": 90,
                "description": "A high alert open longer than this many days is a finding",
            },
            "sboms": {
                "type": "boolean",
                "default": True,
                "description": "File each repository's SBOM (one request per repository, 304 if unchanged)",
            },
        }
    )
    secret_params = ("token",)
    permissions = (
        "classic token: repo (read), read:org, security_events (the alerts listing needs an organisation "
        "owner or security manager)",
        "fine-grained / GitHub App: Metadata: read, Contents: read (SBOM), Dependabot alerts: read",
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gh, gaps, org = client(ctx), Gaps(), ctx.params["org"]
        source = source_of(ctx)
        index: list[dict[str, Any]] = []
        try:
            repos = list(repositories(ctx, gh, gaps))
            names = {r["name"] for r in repos}
            alerts = self._alerts(ctx, gh, gaps, names)
            for repo in repos:
                entry: dict[str, Any] = {"repository": repo["name"], "sbom": None}
                if ctx.params.get("sboms", True):
                    artefact = self._sbom(ctx, gh, gaps, repo["name"], source)
                    if artefact is not None:
                        entry["sbom"] = {"artefact": artefact.name, **artefact.summary}
                        yield artefact
                index.append(entry)
        finally:
            gh.close()
        limits = {p: int(ctx.params.get(p) or d) for p, d in (("critical_days", 30), ("high_days", 90))}
        findings = list(overdue_findings(alerts or [], limits, ctx.now))
        document = {
            "organization": org,
            "source": str(ctx.params.get("base_url")),
            "as_of": utc_iso(ctx.now),
            "thresholds_days": limits,
            "repositories": sorted(index, key=lambda e: e["repository"]),
            "dependabot_alerts": None if alerts is None else {**alert_summary(alerts), "alerts": alerts},
            "gaps": gaps.items,
            "limits": LIMITS,
        }
        summary = {
            "repositories": len(index),
            "sboms": sum(1 for e in index if e["sbom"]),
            "open_alerts": None if alerts is None else len(alerts),
            "findings": len(findings),
            "gaps": len(gaps.items),
        }
        yield Artefact.json("dependencies", document, source=source, findings=findings, summary=summary)

    def _alerts(
        self, ctx: CollectContext, gh: GitHubClient, gaps: Gaps, names: set[str]
    ) -> list[dict[str, Any]] | None:
        """Open alerts of the selected repositories, oldest first; None when the token may not see them."""
        org = ctx.params["org"]
        path = f"/orgs/{quote(org, safe='')}/dependabot/alerts"
        try:
            found = [
                alert_record(a, ctx.now)
                for a in gh.pages(path, {"state": "open"})
                if (a.get("repository") or {}).get("name") in names
            ]
        except GitHubError as exc:
            if not is_gap(exc):
                raise
            gaps.add_error(org, exc)
            return None
        return sorted(found, key=lambda r: (r["created_at"] or "", r["repository"], r["number"]))

    def _sbom(
        self, ctx: CollectContext, gh: GitHubClient, gaps: Gaps, repo: str, source: str
    ) -> Artefact | None:
        path = f"/repos/{quote(ctx.params['org'], safe='')}/{quote(repo, safe='')}/dependency-graph/sbom"
        try:
            _, body = gh.get(path)
        except GitHubError as exc:
            if not is_gap(exc):
                raise
            gaps.add_error(repo, exc)
            return None
        sbom = (body or {}).get("sbom") or {}
        content = canonical_json(sbom)
        summary = {
            "spdx_version": sbom.get("spdxVersion"),
            "document_namespace": sbom.get("documentNamespace"),
            "packages": len(sbom.get("packages") or []),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        return Artefact(
            name=f"sbom-{repo}",
            content=content,
            media_type=SPDX,
            extension="spdx.json",
            source=f"{source} repo {repo}",
            summary=summary,
        )
