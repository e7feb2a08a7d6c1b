"""`jira.query`: any JQL filed as a population, with the fields and principles the config gives.

The general form of every Jira collector: a team files its own populations (threat-model reviews,
AI red-team findings, model retirement requests) in config alone, naming the principles they
evidence with the instance's `principles:` key. `jira.query` files the JQL's whole result as a
snapshot; `jira.events` files the run's period by one date field, as event evidence: the host's
cursor chains the periods night after night, the settle delay covers Jira's search-index lag, and
`evidentia sample` can draw from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Kind

from .params import EVENTS_SETTLE, PERMISSIONS, SECRET_PARAMS, params_schema
from .population import Plan, gather
from .records import transitions


class QueryCollector(Collector):
    name = "jira.query"
    version = "1"
    description = (
        "Issues a JQL selects, as a snapshot, with the fields you name (custom fields by display "
        "name) and optionally their status transitions. Give the principles it evidences with the "
        "instance's `principles:` key."
    )
    principles = ()
    kind: ClassVar[Kind] = "snapshot"  # widened: its subclass jira.events files events
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        "",
        {
            "jql": {"type": "string", "minLength": 1, "description": "The JQL selecting the population"},
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


class EventsQueryCollector(QueryCollector):
    """A JQL population over the run's period: the general form of `jira.changes` and `jira.incidents`."""

    name = "jira.events"
    description = (
        "Issues a JQL selects whose resolved/created/updated date lies in the run's period "
        "[last end, now - settle), as event evidence (no gap, no duplicate across nights), with the "
        "fields you name and optionally their status transitions. Give the principles with `principles:`."
    )
    kind = "events"
    default_settle = EVENTS_SETTLE
    params_schema: ClassVar[dict[str, Any]] = {
        **QueryCollector.params_schema,
        "properties": {
            **QueryCollector.params_schema["properties"],
            "period_field": {
                "enum": ["resolved", "created", "updated"],
                "default": "resolved",
                "description": "The date deciding which period an issue belongs to",
            },
        },
    }


COLLECTORS: tuple[type[Collector], ...] = (QueryCollector, EventsQueryCollector)
