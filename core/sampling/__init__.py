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

The modules, in the order a sample is made: `window` (the `[--from, --to)` window), `items` (the
item convention inside one artefact), `population` (every item in the window, from the store),
`size_guidance` (how many to take), `ranking` (which ones), `filing` (the sample as evidence).
"""

from .errors import SamplingError
from .filing import SampleRequest, sample_document, take_sample
from .items import ID_KEYS, ITEM_KEYS, TIME_KEYS, extract_items
from .population import Item, Population, SourceArtefact, read_population
from .ranking import METHOD, REDRAW, check_seed, draw, new_seed, rank
from .size_guidance import (
    FREQUENCIES,
    GUIDANCE,
    GUIDANCE_SOURCE,
    INFERENCE_RULE,
    Frequency,
    Guidance,
    guidance,
    infer_frequency,
)
from .window import make_window, parse_bound

__all__ = [
    "FREQUENCIES",
    "GUIDANCE",
    "GUIDANCE_SOURCE",
    "ID_KEYS",
    "INFERENCE_RULE",
    "ITEM_KEYS",
    "METHOD",
    "REDRAW",
    "TIME_KEYS",
    "Frequency",
    "Guidance",
    "Item",
    "Population",
    "SampleRequest",
    "SamplingError",
    "SourceArtefact",
    "check_seed",
    "draw",
    "extract_items",
    "guidance",
    "infer_frequency",
    "make_window",
    "new_seed",
    "parse_bound",
    "rank",
    "read_population",
    "sample_document",
    "take_sample",
]
