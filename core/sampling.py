"""Reproducible samples of an event population, for SOC 2 Type II testing of operating effectiveness.

An auditor tests a control by sampling its occurrences (changes, access reviews, incidents) over
the audit window, and must be able to show the sample was random and the population complete.
So the population is read from the store alone (the instance's `events` artefacts, each checked
against its ledger SHA-256), and the draw is one anyone can repeat with stock tools: rank every
item by `sha256("<seed>:<item id>")` in lowercase hex and take the first N. The result is filed as
new evidence with the seed, the method, the whole population, the artefacts it came from and any
hole in the window's coverage; existing evidence is never touched.

Items follow one small convention (see `extract_items`): a JSON object whose records are a list
under `items`, each with an `id` and an `at` time. Collectors written before it are read through
the fallback keys they already use (`commits` and `sha` for `local.git`, `events` and `EventId`
for `aws.cloudtrail`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .collector import Period, utc_iso
from .errors import StoreError

if TYPE_CHECKING:
    from .report.model import ArtefactCoverage

METHOD = "sha256-rank"
# The convention first, then the keys of the built-in event collectors that predate it (local.git,
# aws.cloudtrail). Deliberately no guessing beyond these: a wrong id or time key would silently
# miscount the population (pull request numbers repeat across repositories, `created` is not when
# a change landed).
ITEM_KEYS = ("items", "commits", "events")
ID_KEYS = ("id", "sha", "EventId")
TIME_KEYS = ("at", "committer.date", "EventTime")

Frequency = Literal["annual", "quarterly", "monthly", "weekly", "daily", "many-times-a-day"]
# (frequency, the most occurrences a year read as it, smallest and largest sample). A population
# is read as the frequency whose nominal yearly count (1, 4, 12, 52, 365) is nearest in ratio: the
# limits are the geometric means between neighbours, and more than two a day is many times a day.
GUIDANCE: tuple[tuple[Frequency, float, int, int], ...] = (
    ("annual", 2, 1, 1),
    ("quarterly", 7, 2, 2),
    ("monthly", 25, 2, 5),
    ("weekly", 138, 5, 15),
    ("daily", 730, 20, 40),
    ("many-times-a-day", float("inf"), 25, 60),
)
FREQUENCIES: tuple[Frequency, ...] = tuple(row[0] for row in GUIDANCE)
GUIDANCE_SOURCE = (
    "Frequency-based (non-statistical) sample sizes for tests of operating effectiveness of controls, "
    "as audit firms commonly publish them for SOX 404 and SOC 2 Type II work: annual 1, quarterly 2, "
    "monthly 2-5, weekly 5-15, daily 20-40, many times a day 25-60. It is practice, not a requirement of "
    "a standard: the service auditor sets the size (AICPA AT-C 205 and its Audit Sampling guide), "
    "higher for riskier or manual controls. Without --size Evidentia takes the upper bound, the "
    "conservative choice, and tests a population no larger than that whole. Frequency is how often the "
    "control operates; an item of an events population is one operation of it (a change approved, a "
    "review done, an incident reviewed)."
)
INFERENCE_RULE = (
    "Without --frequency, items a year = items * 365 / days of the window covered by evidence; the "
    "frequency is the one whose nominal count (1, 4, 12, 52, 365 a year) is nearest in ratio: up to "
    "2 annual, 7 quarterly, 25 monthly, 138 weekly, 730 daily, more many times a day."
)
# What an auditor runs in the folder holding the filed sample (SAMPLE.json): bash, jq, sha256sum,
# sort. It reads the seed, the size and the population from the file and compares its own draw with
# the filed one, writing nothing; README.md shows it verbatim (a test runs it from there).
REDRAW = """\
seed=$(jq -r .method.seed SAMPLE.json); n=$(jq '.sample | length' SAMPLE.json)
jq -r '.population.items[].id' SAMPLE.json | while IFS= read -r id; do
  printf '%s %s\\n' "$(printf '%s:%s' "$seed" "$id" | sha256sum | cut -d' ' -f1)" "$id"
done | LC_ALL=C sort | head -n "$n" | cut -d' ' -f2- |
  diff - <(jq -r '.sample[].id' SAMPLE.json) && echo "sample re-drawn: identical"
"""


class SamplingError(StoreError):
    """The population cannot be sampled as asked (unknown instance, snapshots, nothing in the window)."""


@dataclass(frozen=True)
class Item:
    """One record of the population: what the auditor asks the auditee to show evidence for."""

    id: str
    at: dt.datetime | None
    artefact: int  # the ledger seq of the artefact it was read from

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": utc_iso(self.at) if self.at else None, "artefact": self.artefact}


@dataclass(frozen=True)
class SourceArtefact:
    """An events artefact the population was read from, so completeness can be checked."""

    seq: int
    sha256: str
    path: str
    period: Period
    items: int
    in_window: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "sha256": self.sha256,
            "path": self.path,
            "period": self.period.to_dict(),
            "items": self.items,
            "items_in_window": self.in_window,
        }


@dataclass(frozen=True)
class Population:
    instance: str
    collector: str
    window: Period
    principles: tuple[str, ...]
    items: tuple[Item, ...]
    artefacts: tuple[SourceArtefact, ...]
    covered: tuple[Period, ...]
    holes: tuple[Period, ...]
    duplicates: tuple[str, ...]
    unplaced: int  # items with no time of their own, in an artefact only partly inside the window


# -- the window -------------------------------------------------------------------------------------


def parse_bound(text: str, option: str) -> dt.datetime:
    """A window bound: `YYYY-MM-DD` is UTC midnight, else ISO 8601 with a zone.

    The same reading as `evidentia export`, so a sample and an audit pack drawn with the same
    `--from`/`--to` cover the same window, and the pack holds every artefact the sample read.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SamplingError(
            f"{option} {text!r} is not a date or time",
            hint="use YYYY-MM-DD (UTC midnight) or ISO 8601 with a zone, e.g. 2026-07-01T12:00:00Z",
        ) from None
    if moment.tzinfo is None:
        raise SamplingError(f"{option} {text!r} has no time zone", hint="add Z for UTC: 2026-07-01T12:00:00Z")
    return moment.astimezone(dt.timezone.utc)


def make_window(start: str, end: str) -> Period:
    """The half-open window `[--from, --to)`: `--to` is excluded, as every period in the store is."""
    window = Period(parse_bound(start, "--from"), parse_bound(end, "--to"))
    if window.end <= window.start:
        raise SamplingError(
            f"the window [{start}, {end}) is empty: --to must come after --from",
            hint="--to is excluded: --from 2026-01-01 --to 2027-01-01 is the year 2026",
        )
    return window


def check_seed(seed: str) -> str:
    """A seed the stock-tools re-draw reproduces byte for byte: printable, one line, no outer spaces."""
    if not seed or not seed.isprintable() or seed != seed.strip() or len(seed) > 200:
        raise SamplingError(
            f"--seed {seed!r} cannot be re-drawn with stock tools",
            hint="use 1-200 printable characters without leading or trailing spaces",
        )
    return seed


# -- items inside one artefact --------------------------------------------------------------------


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
    for key in TIME_KEYS:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (
                moment.astimezone(dt.timezone.utc)
                if moment.tzinfo
                else moment.replace(tzinfo=dt.timezone.utc)
            )
    return None


# -- the population ----------------------------------------------------------------------------------


def read_population(root: Path, instance: str, window: Period) -> Population:
    """Every item of `instance` in `window`, from the store's events artefacts (hashes checked)."""
    from .report.coverage import collect_artefacts
    from .report.populations import merge_periods, population_coverage
    from .report.source import read_ledger

    entries = read_ledger(root).entries
    mine = [e for e in entries if e.get("type") == "artefact" and e.get("instance") == instance]
    _check_instance(entries, mine, instance)
    artefacts = collect_artefacts(entries, window.end, [])
    events = [a for a in artefacts if a.instance == instance and a.kind == "events" and a.period is not None]
    overlapping = [
        a for a in events if a.period and a.period.start < window.end and window.start < a.period.end
    ]
    if not overlapping:
        raise SamplingError(
            f"instance {instance!r} has no evidence in the window {_span(window)}",
            hint=f"its events cover {_span_list(merge_periods(a.period for a in events if a.period))}",
        )
    items, duplicates, sources, unplaced = _read_items(root, instance, overlapping, window)
    [pop] = [p for p in population_coverage(entries, artefacts) if p.instance == instance]
    covered = _clip(pop.covered, window)
    principles = sorted({p for a in overlapping for p in a.principles}, key=_principle_order)
    return Population(
        instance=instance,
        collector=overlapping[0].collector,
        window=window,
        principles=tuple(principles),
        items=tuple(sorted(items, key=lambda i: (i.at or window.start, i.id))),
        artefacts=tuple(sources),
        covered=tuple(covered),
        holes=tuple(_gaps(covered, window)),
        duplicates=tuple(sorted(set(duplicates))),
        unplaced=unplaced,
    )


def _read_items(
    root: Path, instance: str, artefacts: Sequence[ArtefactCoverage], window: Period
) -> tuple[list[Item], list[str], list[SourceArtefact], int]:
    """(items in the window, ids seen again, the artefacts read, items that could not be placed).

    An item's own time decides; one without a time counts only if its artefact lies wholly in the
    window, since it may have happened in the part outside. An id seen twice (overlapping
    collections) is one occurrence of the control, so it counts once.
    """
    items: dict[str, Item] = {}
    duplicates, sources, unplaced = [], [], 0
    for a in artefacts:
        assert a.period is not None
        read = extract_items(_load(root, a.path, a.sha256), f"{instance}: {a.path}")
        inside = a.period.start >= window.start and a.period.end <= window.end
        kept = 0
        for ident, at in read:
            if at is None and not inside:
                unplaced += 1
                continue
            if at is not None and not window.contains(at):
                continue
            kept += 1
            if ident in items:
                duplicates.append(ident)
            else:
                items[ident] = Item(ident, at, a.seq)
        sources.append(SourceArtefact(a.seq, a.sha256, a.path, a.period, len(read), kept))
    return list(items.values()), duplicates, sources, unplaced


def _check_instance(
    entries: Sequence[Mapping[str, Any]], mine: Sequence[Mapping[str, Any]], instance: str
) -> None:
    if not mine:
        known = sorted({str(e.get("instance")) for e in entries if e.get("type") == "artefact"})
        raise SamplingError(
            f"unknown instance {instance!r}: the store has no evidence from it",
            hint=f"instances with evidence: {', '.join(known) or 'none'}",
        )
    if not any(e.get("kind") == "events" for e in mine):
        collector = mine[-1].get("collector", "?")
        raise SamplingError(
            f"instance {instance!r} ({collector}) files snapshots, not an event population",
            hint="samples are drawn from event collectors' populations (changes, tickets, incidents)",
        )


def _load(root: Path, rel: str, sha256: str) -> Any:
    """The artefact's JSON, refused if its bytes no longer match the ledger (tampered or damaged)."""
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        raise SamplingError(f"{rel} cannot be read: {exc.strerror}", hint="run `evidentia verify`") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SamplingError(f"{rel} does not match its ledger SHA-256", hint="run `evidentia verify`")
    try:
        return json.loads(data)
    except ValueError:
        raise SamplingError(f"{rel} is not JSON: cannot read a population from it") from None


def _principle_order(pid: str) -> tuple[int, str]:
    digits = pid.lstrip("P")
    return (int(digits), pid) if digits.isdigit() else (1 << 30, pid)


def _clip(periods: Sequence[Period], window: Period) -> list[Period]:
    out = []
    for p in periods:
        start, end = max(p.start, window.start), min(p.end, window.end)
        if start < end:
            out.append(Period(start, end))
    return out


def _gaps(covered: Sequence[Period], window: Period) -> list[Period]:
    """The parts of the window no successful run covered, including before the first and after the last."""
    gaps, cursor = [], window.start
    for p in covered:
        if p.start > cursor:
            gaps.append(Period(cursor, p.start))
        cursor = max(cursor, p.end)
    if cursor < window.end:
        gaps.append(Period(cursor, window.end))
    return gaps


def _span(period: Period) -> str:
    return f"[{utc_iso(period.start)}, {utc_iso(period.end)})"


def _span_list(periods: Sequence[Period]) -> str:
    return ", ".join(_span(p) for p in periods) or "nothing"


# -- size guidance and the draw --------------------------------------------------------------------


@dataclass(frozen=True)
class Guidance:
    frequency: Frequency
    frequency_source: str
    low: int
    high: int
    size: int
    size_source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "frequency_source": self.frequency_source,
            "recommended": {"min": self.low, "max": self.high},
            "size": self.size,
            "size_source": self.size_source,
            "table": [{"frequency": f, "sample_min": lo, "sample_max": hi} for f, _, lo, hi in GUIDANCE],
            "source": GUIDANCE_SOURCE,
            "inference": INFERENCE_RULE,
        }


def infer_frequency(population: Population) -> tuple[Frequency, str]:
    """The control frequency the population suggests: its items per year over the covered time."""
    days = sum((p.end - p.start).total_seconds() for p in population.covered) / 86400
    if days <= 0:
        days = (population.window.end - population.window.start).total_seconds() / 86400
    per_year = len(population.items) * 365 / days
    frequency = next(f for f, limit, _, _ in GUIDANCE if per_year <= limit)
    return (
        frequency,
        f"inferred: {len(population.items)} items over {days:.1f} covered days ({per_year:.0f}/year)",
    )


def guidance(population: Population, size: int | None, frequency: Frequency | None) -> Guidance:
    """The sample size: as asked, else the guidance table's upper bound, capped at the population."""
    if frequency is None:
        freq, source = infer_frequency(population)
    else:
        freq, source = frequency, "given"
    _, _, low, high = next(row for row in GUIDANCE if row[0] == freq)
    total = len(population.items)
    if size is not None:
        chosen, why = (
            min(size, total),
            "given" if size <= total else f"given ({size}), capped at the population",
        )
    elif total <= high:
        chosen, why = total, f"the whole population: {total} items, no more than the guidance's {high}"
    else:
        chosen, why = high, f"the guidance's upper bound for {freq} controls"
    return Guidance(freq, source, low, high, chosen, why)


def rank(seed: str, item_id: str) -> str:
    """The item's place in the draw: SHA-256 of UTF-8 `<seed>:<id>`, lowercase hex."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def draw(items: Sequence[Item], seed: str, size: int) -> list[tuple[str, Item]]:
    """The `size` items of lowest rank, lowest first: `sha256sum` and `sort` give the same list."""
    ranked = sorted(((rank(seed, item.id), item) for item in items), key=lambda pair: (pair[0], pair[1].id))
    return ranked[:size]


def new_seed() -> str:
    return secrets.token_hex(8)


# -- the sample as evidence ------------------------------------------------------------------------


def sample_document(
    population: Population, picked: Sequence[tuple[str, Item]], seed: str, seed_given: bool, advice: Guidance
) -> dict[str, Any]:
    """The artefact's content: enough for an auditor to check completeness and re-draw the sample."""
    return {
        "evidentia_sample": 1,
        "population": {
            "instance": population.instance,
            "collector": population.collector,
            "window": population.window.to_dict(),
            "definition": (
                "Every item of the instance's events artefacts whose time lies in the window [start, end); "
                "an item without a time counts when its artefact's period lies wholly in the window. "
                "Items are read from each artefact's records (`items`, or a collector's own list key) "
                "and identified by `id` (or the collector's own id key); an id seen twice counts once."
            ),
            "size": len(population.items),
            "artefacts": [a.to_dict() for a in population.artefacts],
            "coverage": {
                "covered": [p.to_dict() for p in population.covered],
                "holes": [p.to_dict() for p in population.holes],
            },
            "duplicates": list(population.duplicates),
            "unplaced": population.unplaced,
            "items": [i.to_dict() for i in population.items],
        },
        "method": {
            "name": METHOD,
            "seed": seed,
            "seed_source": "given" if seed_given else "generated",
            "rule": (
                "For each item, rank = SHA-256 of the UTF-8 text '<seed>:<id>' as lowercase hex; sort "
                "the items by rank (then id) ascending; the sample is the first `size` items."
            ),
            "redraw": REDRAW,
        },
        "guidance": advice.to_dict(),
        "sample": [{"rank": r, **item.to_dict()} for r, item in picked],
    }


@dataclass(frozen=True)
class SampleRequest:
    """What `evidentia sample` was asked: recorded as the sample's parameters."""

    instance: str
    window: Period
    size: int | None = None
    seed: str | None = None
    frequency: Frequency | None = None

    def params(self, seed: str) -> dict[str, Any]:
        return {
            "population": self.instance,
            "from": utc_iso(self.window.start),
            "to": utc_iso(self.window.end),
            "size": self.size,
            "seed": seed,
            "frequency": self.frequency,
        }


def take_sample(root: Path, request: SampleRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw and file a sample, holding the store lock throughout; return (document, ledger entry).

    Under the lock no run can add to the population between reading it and filing the sample, and
    an interrupted filing is completed (by opening the store) before the population is read.
    """
    from . import __version__
    from .collector import Artefact
    from .report.source import load_store_catalog, read_ledger
    from .store import layout
    from .store.local import LocalStore
    from .store.records import Provenance, file_artefact, file_catalog_if_changed

    if not (root / layout.LEDGER).is_file():
        raise SamplingError(f"{root} is not an evidence store (no {layout.LEDGER})", hint="pass --store")
    seed = new_seed() if request.seed is None else check_seed(request.seed)
    with LocalStore(root) as store:
        population = read_population(root, request.instance, request.window)
        if not population.items:
            raise SamplingError(
                f"instance {request.instance!r} has no items in the window {_span(request.window)}",
                hint=f"{len(population.artefacts)} artefact(s) overlap it, covering "
                f"{_span_list(population.covered)}",
            )
        advice = guidance(population, request.size, request.frequency)
        picked = draw(population.items, seed, advice.size)
        document = sample_document(population, picked, seed, request.seed is not None, advice)
        catalog, _, _ = load_store_catalog(root, read_ledger(root).entries)
        now = dt.datetime.now(dt.timezone.utc)
        window = request.window
        artefact = Artefact.json(
            f"sample-{window.start:%Y%m%dT%H%M%SZ}-{window.end:%Y%m%dT%H%M%SZ}",
            document,
            source=f"evidence store: {len(population.artefacts)} events artefact(s) of {request.instance}",
            summary={"population": len(population.items), "sample": len(picked), "method": METHOD},
        )
        prov = Provenance(
            instance=request.instance,
            collector="evidentia.sample",
            collector_version="1",
            plugin="evidentia",
            plugin_version=__version__,
            tool_version=__version__,
            run_id=f"sample-{secrets.token_hex(6)}",
            kind="snapshot",
            collected_at=now,
            period=Period(now, now),
            calls=[f"read {a.path} (sha256 {a.sha256})" for a in population.artefacts],
            params=request.params(seed),
            # a sample shows how the selection was made, not that a control operates now, so it
            # never makes a principle fresh by itself
            stale_after_seconds=0,
        )
        flushed = file_catalog_if_changed(store, catalog, now)
        _, more = file_artefact(store, catalog, artefact, population.principles, prov)
        flushed += more + store.flush()
    [entry] = [e for e in flushed if e.get("collector") == "evidentia.sample"]
    return document, entry
