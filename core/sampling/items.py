"""The item convention: how the (id, time) records of one events artefact are read.

A JSON object whose records are a list under `items`, each with an `id` and an `at` time.
Collectors written before it are read through the fallback keys they already use (`commits` and
`sha` for `local.git`, `events` and `EventId` for `aws.cloudtrail`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..report.source import parse_time
from .errors import SamplingError

# The convention first, then the keys of the built-in event collectors that predate it (local.git,
# aws.cloudtrail). Deliberately no guessing beyond these: a wrong id or time key would silently
# miscount the population (pull request numbers repeat across repositories, `created` is not when
# a change landed).
ITEM_KEYS = ("items", "commits", "events")
ID_KEYS = ("id", "sha", "EventId")
TIME_KEYS = ("at", "committer.date", "EventTime")


def extract_items(data: Any, where: str) -> list[tuple[str, dt.datetime | None]]:
    """The (id, time) of each record of an events artefact; `where` names it in errors.

    The convention: a JSON object with the records as a list under `items` (or, for collectors
    that predate it, the first of ITEM_KEYS present; a top-level JSON array also counts), each
    record an object with an `id` (or the first of ID_KEYS present) and an ISO 8601 `at` (or the
    first of TIME_KEYS present, dotted keys reaching into nested objects). A record without a
    readable time is placed by its artefact's period.
    """
    records = _records(data, where)
    out = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise SamplingError(f"{where}: item {index} is not a JSON object")
        ident = next((record[k] for k in ID_KEYS if isinstance(record.get(k), (str, int))), None)
        if ident is None or isinstance(ident, bool) or str(ident) == "":
            raise SamplingError(
                f"{where}: item {index} has no id (looked for {', '.join(ID_KEYS)})",
                hint="give each item an `id` that is unique and stable across runs",
            )
        if not str(ident).isprintable():
            raise SamplingError(
                f"{where}: item {index} has an id with a line break or control character: {str(ident)!r}",
                hint="ids are read one per line by the stock-tools re-draw; keep them to printable text",
            )
        out.append((str(ident), _item_time(record)))
    counts = Counter(ident for ident, _ in out)
    repeated = sorted(ident for ident, n in counts.items() if n > 1)
    if repeated:
        raise SamplingError(
            f"{where}: item ids are not unique ({', '.join(repeated[:3])} appear more than once)",
            hint="each item's `id` must identify it within the instance (qualify it: `repo#12`)",
        )
    return out


def _records(data: Any, where: str) -> Sequence[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in ITEM_KEYS:
            if isinstance(data.get(key), list):
                return list(data[key])
    raise SamplingError(
        f"{where}: cannot find the population's items (a list under one of: {', '.join(ITEM_KEYS)})",
        hint="event collectors put their records in a top-level `items` list, each with `id` and `at`",
    )


def _item_time(record: Mapping[str, Any]) -> dt.datetime | None:
    """The first readable time under TIME_KEYS, in UTC; a time without a zone is read as UTC."""
    for key in TIME_KEYS:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        moment = parse_time(value)
        if moment is not None:
            return moment.astimezone(dt.timezone.utc)
    return None
