"""`jira.vendors`: a vendor register kept in Jira, with AI providers and their assessments.

Each vendor issue is filed with the service it provides, whether it is an AI provider (a yes/no
field or a label), the data shared with it, its risk rating and its last assessment. Finding:
`ai-vendor-not-assessed`, an AI provider with no assessment in the last `max_assessment_age_days`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .params import PERMISSIONS, SECRET_PARAMS, days, field_name, names, params_schema
from .population import Plan, gather
from .records import lower_set, truthy
from .window import parse_time

DEFAULT_JQL = "issuetype = Vendor"
ROLES = {
    "service_field": ("service", "Service"),
    "ai_field": ("ai_provider", "AI provider"),
    "data_field": ("data_shared", "Data shared"),
    "risk_field": ("risk_rating", "Risk rating"),
    "assessment_field": ("last_assessment", "Last assessment"),
}


class VendorsCollector(Collector):
    name = "jira.vendors"
    version = "1"
    description = (
        "A vendor register kept in Jira: vendor, service, AI provider or not, data shared, risk rating, "
        "last assessment; finding for AI vendors without an assessment in the last year."
    )
    principles = ("P7",)
    kind = "snapshot"
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        DEFAULT_JQL,
        {
            **{
                param: field_name(f"The field holding the {role.replace('_', ' ')}", default)
                for param, (role, default) in ROLES.items()
            },
            "vendor_field": field_name("The field naming the vendor (default: the summary)"),
            "ai_labels": names("Labels that mark an AI provider", ["ai-vendor"]),
            "max_assessment_age_days": days("Oldest acceptable assessment of an AI vendor", 365, 1),
        },
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        p = ctx.params
        named = {param: p.get(param) for param in [*ROLES, "vendor_field"]}
        population = gather(ctx, Plan(named_fields=named))
        oldest = ctx.now - dt.timedelta(days=int(p["max_assessment_age_days"]))
        findings = []
        for record in population.records:
            values = record["fields"]
            record["vendor"] = values.get(p["vendor_field"]) if p.get("vendor_field") else record["summary"]
            for param, (role, _) in ROLES.items():
                record[role] = values.get(p[param]) if p.get(param) else None
            record["ai_provider"] = truthy(record["ai_provider"]) or bool(
                lower_set(record["labels"]) & lower_set(p.get("ai_labels"))
            )
            assessed = parse_time(record["last_assessment"])
            if record["ai_provider"] and (assessed is None or assessed < oldest):
                when = f"last assessed {record['last_assessment']}" if assessed else "never assessed"
                findings.append(
                    Finding(
                        "ai-vendor-not-assessed",
                        f"AI vendor {record['vendor']} ({record['key']}) is {when}: no assessment in the "
                        f"last {p['max_assessment_age_days']} days",
                        "high",
                        subject=record["key"],
                    )
                )
        yield population.artefact("vendors", findings)


COLLECTORS: tuple[type[Collector], ...] = (VendorsCollector,)
