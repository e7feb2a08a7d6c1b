"""Keeps secrets out of evidence, metadata and logs.

Two lines of defence: the exact values of secrets resolved for this run (the strongest: they are
known), and patterns of common token formats, which also catch secrets a source echoes back that we
never held. Both work on bytes, so the same rules apply to JSON, CSV, text and binary artefacts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

MASK = "[REDACTED]"
PATTERNS: tuple[tuple[str, str], ...] = (
    ("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("aws-access-key-id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    (
        "aws-secret-access-key",
        r"(?i)(?<=aws_secret_access_key)(?:[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}",
    ),
    ("atlassian-token", r"\bATAT[A-Za-z0-9_\-=]{20,}"),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("authorization", r"(?i)\b(?:bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{16,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    (
        "private-key",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    ),
)
_COMPILED = [(name, re.compile(p.encode())) for name, p in PATTERNS]


class Scrubber:
    """Redacts known secret values and token-shaped strings; counts what it redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._literals: list[bytes] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for value in secrets:
            if value and len(value) >= 4:
                self._literals.append(value.encode("utf-8"))
        self._literals.sort(key=len, reverse=True)

    def scrub_bytes(self, data: bytes) -> tuple[bytes, int]:
        count = 0
        mask = MASK.encode()
        for literal in self._literals:
            if literal in data:
                count += data.count(literal)
                data = data.replace(literal, mask)
        for _, pattern in _COMPILED:
            data, n = pattern.subn(mask, data)
            count += n
        return data, count

    def scrub(self, text: str) -> str:
        return self.scrub_bytes(text.encode("utf-8", "surrogateescape"))[0].decode("utf-8", "surrogateescape")


def redact_fields(content: bytes, fields: Iterable[str]) -> tuple[bytes, int]:
    """Blank the values of named keys anywhere in a JSON document (collector-declared fields)."""
    wanted = {f.lower() for f in fields}
    if not wanted:
        return content, 0
    try:
        data = json.loads(content)
    except ValueError:
        return content, 0
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if str(key).lower() in wanted and value not in (None, ""):
                    count += 1
                    out[key] = MASK
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    redacted = walk(data)
    if not count:
        return content, 0
    from .collector import canonical_json

    return canonical_json(redacted), count


class ScrubbingFilter(logging.Filter):
    """A logging filter that renders each record and scrubs the text before any handler sees it."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrubber.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrubber.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
