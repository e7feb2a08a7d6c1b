"""The draw anyone can repeat with stock tools: rank each item by `sha256("<seed>:<id>")`, take the first N.

An auditor must be able to show the sample was random and re-draw it without Evidentia, so the
rule is one `sha256sum` and `sort` reproduce (REDRAW is that script), and the seed is restricted to
text those tools pass through unchanged.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from .errors import SamplingError
from .population import Item

METHOD = "sha256-rank"
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


def check_seed(seed: str) -> str:
    """A seed the stock-tools re-draw reproduces byte for byte: printable, one line, no outer spaces."""
    if not seed or not seed.isprintable() or seed != seed.strip() or len(seed) > 200:
        raise SamplingError(
            f"--seed {seed!r} cannot be re-drawn with stock tools",
            hint="use 1-200 printable characters without leading or trailing spaces",
        )
    return seed


def new_seed() -> str:
    return secrets.token_hex(8)


def rank(seed: str, item_id: str) -> str:
    """The item's place in the draw: SHA-256 of UTF-8 `<seed>:<id>`, lowercase hex."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def draw(items: Sequence[Item], seed: str, size: int) -> list[tuple[str, Item]]:
    """The `size` items of lowest rank, lowest first: `sha256sum` and `sort` give the same list."""
    ranked = sorted(((rank(seed, item.id), item) for item in items), key=lambda pair: (pair[0], pair[1].id))
    return ranked[:size]
