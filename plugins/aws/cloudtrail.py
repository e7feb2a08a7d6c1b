"""`aws.cloudtrail`: whether CloudTrail records, and every change made to the AI services in the period.

Auditors sample changes from the whole population of the period (P8, P11 secure updates, P12
monitoring): SageMaker and Bedrock management events from `LookupEvents`, one paginated query per
event source and region, filtered to exactly [start, end) since `EndTime` is inclusive. Read-only
events (List*, Describe*, this tool's own) are access, not change: left out unless asked for. The
trails beside them show the record is trustworthy: logging, multi-region, log file validation.

`LookupEvents` allows 2 requests per second per account and region: every attempt waits for a token.
A denied `DescribeTrails` or `GetTrailStatus` is a gap, but a denied `LookupEvents` fails the instance:
a population with a hole would move the cursor past it for good. `LookupEvents` keeps 90 days (a
longer period is a finding) and shows an event minutes after the call, so the newest minutes of a
period may still be arriving (the host has no settle delay for periods yet).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .common import (
    Gaps,
    Target,
    error_code,
    or_gap,
    paginate,
    params_schema,
    raise_for_failed_targets,
    targets,
)

DEFAULT_SOURCES = ["sagemaker.amazonaws.com", "bedrock.amazonaws.com"]
LOOKUP_LIMIT_PER_SECOND = 2.0  # AWS's LookupEvents quota, per account and region
EVENT_HISTORY = dt.timedelta(days=90)
Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    """At most `rate` requests per second with no burst (a bucket of one token refilled at `rate`).

    Hooked to botocore's `before-send`, so every HTTP attempt, retries too, waits for its token.
    """

    def __init__(self, rate: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def take(self, **_: Any) -> None:
        with self._lock:
            now = self._clock()
            if self._next is not None and now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def trails(client: Any, target: Target, gaps: Gaps, known: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The trails this region sees (multi-region and organization trails too), with their status.

    A multi-region trail appears in every region: its status is asked once per account (`known`).
    """
    where = f"{target.account}/{target.region}"
    listed = or_gap(gaps, where, "cloudtrail:DescribeTrails", lambda: client.describe_trails(), None)
    if listed is None:
        return None
    out = []
    for trail in listed.get("trailList", []):
        key = f"{target.account} {trail['TrailARN']}"
        if key not in known:
            known[key] = _status(client, trail["TrailARN"], gaps, where)
        out.append({**trail, "Account": target.account, "Status": known[key]})
    return out


def _status(client: Any, arn: str, gaps: Gaps, where: str) -> dict[str, Any] | None:
    """GetTrailStatus by ARN (required for shadow and organization trails); denied or gone: a gap."""
    call = f"cloudtrail:GetTrailStatus {arn}"
    try:
        status = or_gap(gaps, where, call, lambda: client.get_trail_status(Name=arn), None)
    except Exception as exc:  # a trail deleted between the two calls
        if error_code(exc) != "TrailNotFoundException":
            raise
        gaps.add(where, call, exc)
        return None
    return None if status is None else {k: v for k, v in status.items() if k != "ResponseMetadata"}


def events(ctx: CollectContext, client: Any, target: Target) -> tuple[list[dict[str, Any]], int]:
    """The period's events of each configured source in this region, and how many were read-only."""
    bucket = TokenBucket(float(ctx.params.get("lookups_per_second", LOOKUP_LIMIT_PER_SECOND)))
    client.meta.events.register("before-send.cloudtrail.LookupEvents", bucket.take)
    period, keep_read_only = ctx.period, bool(ctx.params.get("include_read_only", False))
    kept, read_only = [], 0
    for source in ctx.params.get("event_sources", DEFAULT_SOURCES):
        found = paginate(
            client,
            "lookup_events",
            "Events",
            LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": source}],
            StartTime=period.start,  # inclusive, as the period's start
            EndTime=period.end,  # inclusive, unlike the period's end: filtered below
        )
        for event in found:
            if not period.contains(event["EventTime"]):
                continue
            if event.get("ReadOnly") == "true" and not keep_read_only:
                read_only += 1
                continue
            kept.append(_event(event, target))
    return kept, read_only


def _event(event: dict[str, Any], target: Target) -> dict[str, Any]:
    """The event as listed, with its full CloudTrail record parsed (request parameters, identity)."""
    detail = json.loads(event["CloudTrailEvent"]) if event.get("CloudTrailEvent") else None
    return {**event, "CloudTrailEvent": detail, "Account": target.account, "Region": target.region}


@dataclass
class Sweep:
    """What a run reads across its accounts and regions: trails (statuses once each) and events."""

    seen: list[dict[str, str]] = field(default_factory=list)
    trails: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, Any] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by EventId: never twice
    read_only: int = 0

    def read(self, ctx: CollectContext, target: Target, gaps: Gaps) -> None:
        client = target.client(ctx, "cloudtrail")
        listed = trails(client, target, gaps, self.statuses)
        if listed is not None:
            self.seen.append({"account": target.account, "region": target.region})
            self.trails += listed
        found, skipped = events(ctx, client, target)
        self.events.update((e["EventId"], e) for e in found)
        self.read_only += skipped


def unique_trails(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per account and trail: a multi-region trail is listed by every region it covers."""
    by_key = {(t["Account"], t["TrailARN"]): t for t in found}
    return [by_key[key] for key in sorted(by_key)]


def trail_findings(found: list[dict[str, Any]], accounts: set[str]) -> list[Finding]:
    """Trails not logging or unvalidated; accounts (whose trails were read) without a multi-region trail."""
    out = []
    for arn, trail in sorted({t["TrailARN"]: t for t in found}.items()):
        status = trail.get("Status")
        if status is not None and not status.get("IsLogging"):
            out.append(Finding("trail-not-logging", f"trail {arn} is not logging", "high", subject=arn))
        if not trail.get("LogFileValidationEnabled"):
            text = f"trail {arn} has log file validation off: its logs could be altered undetected"
            out.append(Finding("log-file-validation-off", text, "medium", subject=arn))
    covered = {t["Account"] for t in found if t.get("IsMultiRegionTrail")}
    for account in sorted(accounts - covered):
        text = f"account {account} has no multi-region trail: activity in other regions is not recorded"
        out.append(Finding("no-multi-region-trail", text, "high", subject=account))
    return out


def history_findings(period_start: dt.datetime, period_end: dt.datetime) -> list[Finding]:
    if period_end - period_start <= EVENT_HISTORY:
        return []
    text = "the period starts more than 90 days ago; LookupEvents keeps 90 days, so older events are missing"
    return [Finding("period-beyond-event-history", text, "high")]


class CloudTrailCollector(Collector):
    name = "aws.cloudtrail"
    version = "1"
    description = (
        "AWS CloudTrail: trails with logging, multi-region and log file validation status, and the "
        "period's management events of AI services (SageMaker, Bedrock) from LookupEvents, paced to "
        "its 2 requests per second; findings for trails not logging, unvalidated or not multi-region."
    )
    principles = ("P8", "P11", "P12")
    kind = "events"
    default_lookback = EVENT_HISTORY
    # CloudTrail delivers events "within an average of about 5 minutes", not guaranteed: an event
    # that arrives after the cursor passed its time would fall between two populations.
    default_settle = dt.timedelta(minutes=15)
    permissions = (
        "sts:GetCallerIdentity",
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:LookupEvents",
    )
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        {
            "event_sources": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[a-z0-9.-]+\.amazonaws\.com$"},
                "uniqueItems": True,
                "default": DEFAULT_SOURCES,
                "description": "Event sources whose management events form the population (one "
                "LookupEvents query each); [] collects the trails only",
            },
            "include_read_only": {
                "type": "boolean",
                "default": False,
                "description": "Keep read-only events (List*, Describe*, Get*) in the population",
            },
            "lookups_per_second": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": LOOKUP_LIMIT_PER_SECOND,
                "default": LOOKUP_LIMIT_PER_SECOND,
                "description": "LookupEvents requests per second per account and region (AWS allows "
                "2; lower it when other tools share the quota)",
            },
        }
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gaps, sweep = Gaps(), Sweep()
        for target in targets(ctx, gaps):
            sweep.read(ctx, target, gaps)
        raise_for_failed_targets(gaps)  # before filing: a partial population is never filed
        all_trails = unique_trails(sweep.trails)
        findings = trail_findings(all_trails, {s["account"] for s in sweep.seen})
        findings += history_findings(ctx.period.start, ctx.period.end)
        changes = sorted(sweep.events.values(), key=lambda e: (e["EventTime"], e["EventId"]))
        yield Artefact.json(
            "ai-service-changes",
            {
                "period": ctx.period.to_dict(),
                "event_sources": ctx.params.get("event_sources", DEFAULT_SOURCES),
                "read_only_events": "included" if ctx.params.get("include_read_only") else "excluded",
                "trails_read_in": sweep.seen,
                "trails": all_trails,
                "events": changes,
                "gaps": gaps.to_list(),
            },
            source="cloudtrail",
            findings=findings,
            summary={"events": len(changes), "read_only_skipped": sweep.read_only, "trails": len(all_trails)},
        )


COLLECTORS: tuple[type[Collector], ...] = (CloudTrailCollector,)
