"""The API a collector author writes against: `Collector`, `Artefact`, `Finding` and `CollectContext`.

A collector knows one kind of evidence from one source. It declares what it is (name, principles,
parameters, permissions) as class attributes, so the host can list, validate and document it without
running it, and it yields `Artefact`s from `collect(ctx)`. It never touches the store: formatting
paths, timestamps and hashes, deduplicating, and writing the ledger are the host's job.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import boto3
    import requests

Kind = Literal["snapshot", "events"]
Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


def utc_iso(moment: dt.datetime) -> str:
    """Render a moment as ISO 8601 UTC with a `Z`, the only timestamp form in evidence."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: evidence timestamps must be timezone-aware")
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot put {type(value).__name__} into JSON evidence")


def canonical_json(data: Any) -> bytes:
    """Serialise evidence deterministically, so identical content hashes identically."""
    text = json.dumps(
        data, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


@dataclass(frozen=True)
class Finding:
    """Something an auditor should look at, attached to the artefact that shows it.

    `code` is stable and machine-readable (`merged-without-approval`); `message` is for people;
    `subject` names what it is about (a commit, a user, a file).
    """

    code: str
    message: str
    severity: Severity = "medium"
    subject: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"finding severity must be one of {SEVERITIES}, not {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.subject is not None:
            out["subject"] = self.subject
        return out


@dataclass(frozen=True)
class Artefact:
    """One piece of evidence: bytes plus what the host cannot know by itself.

    `name` identifies the artefact within its collector instance across runs (`commits`,
    `policy-ai-security.md`): the host compares a snapshot with the last one of the same name to
    record "unchanged" instead of storing it twice. `principles`, when given, replace the
    collector's declared principles for this artefact (a document folder maps each glob to its own).
    """

    name: str
    content: bytes
    media_type: str = "application/json"
    extension: str = "json"
    source: str = ""
    findings: tuple[Finding, ...] = ()
    principles: tuple[str, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        name: str,
        data: Any,
        *,
        source: str = "",
        findings: Iterable[Finding] = (),
        principles: Iterable[str] = (),
        summary: Mapping[str, Any] | None = None,
    ) -> Artefact:
        """Build a JSON artefact with canonical serialisation (datetimes become UTC ISO 8601)."""
        return cls(
            name=name,
            content=canonical_json(data),
            source=source,
            findings=tuple(findings),
            principles=tuple(principles),
            summary=dict(summary or {}),
        )


@dataclass(frozen=True)
class Period:
    """The half-open interval [start, end) that event evidence covers."""

    start: dt.datetime
    end: dt.datetime

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end

    def to_dict(self) -> dict[str, str]:
        return {"start": utc_iso(self.start), "end": utc_iso(self.end)}


class CollectContext:
    """What the host hands to `collect()`: parameters, period, logging and instrumented clients.

    Every API call a collector makes should go through `http_session()`, `boto3_session()` or be
    noted with `record_call()`, so the artefact's provenance says exactly what was asked and the
    run summary can count requests.
    """

    def __init__(
        self,
        *,
        instance_id: str,
        params: Mapping[str, Any],
        period: Period,
        logger: logging.Logger,
        is_first_run: bool,
        base_dir: Path | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        scrub: Callable[[str], str] = lambda text: text,
        cache_dir: Path | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.params = params
        self.period = period
        self.log = logger
        self.is_first_run = is_first_run
        self.base_dir = base_dir or Path.cwd()
        # a folder this instance may keep between runs (HTTP ETags and the like); not evidence, and
        # None when the host keeps nothing, so a collector must work without it
        self.cache_dir = cache_dir
        self._cancelled = cancelled
        self._scrub = scrub
        self._calls: list[str] = []
        self.request_count = 0

    @property
    def now(self) -> dt.datetime:
        """The instant snapshots describe: the end of this run's period."""
        return self.period.end

    def path(self, value: str | Path) -> Path:
        """Resolve a path parameter against the config file's folder (cron-safe)."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def calls(self) -> list[str]:
        return list(self._calls)

    def record_call(self, description: str, *, count: bool = True) -> None:
        """Note one call made to the source (`GET /orgs/acme/members?per_page=100`).

        `count=False` records the call without counting a request, for clients that count each
        HTTP attempt themselves (boto3, retries).
        """
        if count:
            self.request_count += 1
        self._calls.append(self._scrub(description))

    def scrub(self, text: str) -> str:
        """Remove this run's secrets and token-shaped strings from text (for messages)."""
        return self._scrub(text)

    def count_requests(self, n: int) -> None:
        """Count requests that are not separate calls (retries, extra pages of one listing)."""
        self.request_count += n

    def take_calls(self) -> list[str]:
        """Hand over the calls made since the last artefact, so each artefact names its own."""
        calls, self._calls = self._calls, []
        return calls

    def check_cancelled(self) -> None:
        """Raise `CollectionCancelled` if the instance's time-out has passed."""
        from .errors import CollectionCancelled

        if self._cancelled():
            raise CollectionCancelled(f"{self.instance_id}: cut off by its time-out")

    def http_session(self) -> requests.Session:
        """A requests session with the shared retry policy that records every call it makes."""
        from .http import instrumented_session

        return instrumented_session(self)

    def boto3_session(self, **kwargs: Any) -> boto3.session.Session:
        """A boto3 session whose clients record every API call they make."""
        from .http import instrumented_boto3_session

        return instrumented_boto3_session(self, **kwargs)


class Collector:
    """Base class for collectors. Subclass it, declare the class attributes, implement `collect`.

    - `name`: dotted and unique across all plugins (`local.git`, `github.changes`).
    - `principles`: EN 304 223 principle IDs (`P5`) the evidence supports.
    - `kind`: `snapshot` (state at an instant) or `events` (a population over a period; the host
      keeps a cursor so consecutive runs cover [last end, now) with no gap and no overlap).
    - `params_schema`: JSON Schema of `params` (an object); validated before any collection starts.
    - `secret_params`: parameter names that hold secrets; config must give them as `${ENV_VAR}`.
    - `permissions`: what the credentials must allow (IAM actions, token scopes), read-only.
    - `redact_fields`: keys whose values are removed from JSON evidence wherever they appear.
    - `default_lookback`: how far back the first run of an events collector looks.
    - `default_settle`: how late the source makes an event visible (a search index, log delivery).
      An events period ends this long before the run, so an event that lands late in the source is
      still inside a period some run has yet to cover, instead of behind a cursor that moved past it.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    principles: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[Kind] = "snapshot"
    params_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    secret_params: ClassVar[tuple[str, ...]] = ()
    permissions: ClassVar[tuple[str, ...]] = ()
    redact_fields: ClassVar[tuple[str, ...]] = ()
    default_lookback: ClassVar[dt.timedelta] = dt.timedelta(days=90)
    default_settle: ClassVar[dt.timedelta] = dt.timedelta(0)

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        """Yield the artefacts for this run. Raise to report failure; the host isolates it."""
        raise NotImplementedError
