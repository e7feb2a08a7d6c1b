"""How many items to sample: the frequency-based guidance table and the frequency a population suggests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .population import Population

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
