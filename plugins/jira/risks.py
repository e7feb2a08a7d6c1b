"""`jira.risks`: the AI risk register and threat models kept as Jira issues.

Each risk or threat model is filed with its owner, status and review date. Findings flag what an
auditor would ask about first: a risk nobody owns, and an open risk past its review date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .params import PERMISSIONS, SECRET_PARAMS, field_name, params_schema
from .population import Plan, gather
from .window import parse_time

DEFAULT_JQL = 'issuetype in (Risk, "Threat Model") OR labels in (ai-risk, threat-model)'


class RisksCollector(Collector):
    name = "jira.risks"
    version = "1"
    description = (
        "The AI risk register and threat models (issues of a type or label) with owner, status and "
        "review date; findings for risks without an owner and open risks past their review date."
    )
    principles = ("P2", "P3")
    kind = "snapshot"
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        DEFAULT_JQL,
        {
            "owner_field": field_name("A user field naming the risk owner (default: the assignee)"),
            "review_date_field": field_name("The next-review date field (default: the due date)"),
        },
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        p = ctx.params
        plan = Plan(
            named_fields={k: p.get(k) for k in ("owner_field", "review_date_field")},
            system_fields=("duedate",),
        )
        population = gather(ctx, plan)
        findings = []
        for record in population.records:
            fields = population.raw[record["key"]].get("fields") or {}
            record["owner"] = (
                record["fields"].get(p["owner_field"]) if p.get("owner_field") else record["assignee"]
            )
            review = (
                record["fields"].get(p["review_date_field"])
                if p.get("review_date_field")
                else fields.get("duedate")
            )
            record["review_date"] = review
            findings.extend(risk_findings(record, ctx.now))
        yield population.artefact("risks", findings)


def risk_findings(record: dict[str, Any], now: dt.datetime) -> list[Finding]:
    key, out = record["key"], []
    if not record["owner"]:
        out.append(
            Finding("risk-without-owner", f"{key} ({record['summary']}) has no owner", "medium", subject=key)
        )
    review = parse_time(record["review_date"])
    if record["resolution"] is None and review is not None and review < now:
        out.append(
            Finding(
                "risk-review-overdue",
                f"{key} was due for review on {record['review_date']} and is still open",
                "medium",
                subject=key,
            )
        )
    return out


COLLECTORS: tuple[type[Collector], ...] = (RisksCollector,)
