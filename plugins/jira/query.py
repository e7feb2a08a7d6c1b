"""`jira.query`: any JQL filed as a population, with the fields and principles the config gives.

The general form of every Jira collector: a team files its own populations (threat-model reviews,
AI red-team findings, model retirement requests) in config alone, naming the principles they
evidence with the instance's `principles:` key. With `period_field` the population is the run's
period by that date (incremental, like event evidence); without, it is the JQL's whole result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector

from .params import PERMISSIONS, SECRET_PARAMS, params_schema
from .population import Plan, gather
from .records import transitions


class QueryCollector(Collector):
    name = "jira.query"
    version = "1"
    description = (
        "Issues a JQL selects, with the fields you name (custom fields by display name); optionally "
        "limited to the run's period by resolved/created/updated, and with status transitions. "
        "Give the principles it evidences with the instance's `principles:` key."
    )
    principles = ()
    kind = "snapshot"
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        "",
        {
            "jql": {"type": "string", "minLength": 1, "description": "The JQL selecting the population"},
            "period_field": {
                "enum": ["resolved", "created", "updated"],
                "description": "Keep only issues whose date lies in the run's period [last end, now)",
            },
            "transitions": {
                "type": "boolean",
                "default": False,
                "description": "Add each issue's status transitions from the changelog",
            },
            "name": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9._-]*$",
                "default": "issues",
                "description": "The artefact's name",
            },
        },
    )
    params_schema["required"] = ["server", "jql"]

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        with_history = bool(ctx.params.get("transitions"))
        plan = Plan(
            period_field=ctx.params.get("period_field"), history_of=("status",) if with_history else ()
        )
        population = gather(ctx, plan)
        for record in population.records:
            if with_history:
                record["transitions"] = transitions(record.pop("history"))
        yield population.artefact(str(ctx.params.get("name") or "issues"), [])


COLLECTORS: tuple[type[Collector], ...] = (QueryCollector,)
