"""Where the Hugging Face hub cache is when the config does not say: the library's own rules.

The evidence must describe the cache the machine's code actually reads, so the default follows
`huggingface_hub.constants` (checked against huggingface_hub 2.4.0 and its documented environment
variables) without importing it:

1. `HF_HUB_CACHE`;
2. else `HUGGINGFACE_HUB_CACHE` (the legacy name the library still honours);
3. else `$HF_HOME/hub`;
4. else `$XDG_CACHE_HOME/huggingface/hub`;
5. else `~/.cache/huggingface/hub`.

As in the library, `~` and `$VARS` are expanded and a relative value is relative to the current
folder. One deliberate difference: a variable set to the empty string counts as unset, because the
library would then scan the current folder, which is never what the person meant.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "")
    return value or None


def _expand(value: str) -> Path:
    return Path(os.path.abspath(os.path.expandvars(os.path.expanduser(value))))


def default_cache_dir(environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """The default hub cache folder and the rule that chose it (recorded in the evidence)."""
    env = os.environ if environ is None else environ
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        direct = _env(env, name)
        if direct:
            return _expand(direct), name
    home = _env(env, "HF_HOME")
    if home:
        return _expand(home) / "hub", "HF_HOME"
    xdg = _env(env, "XDG_CACHE_HOME")
    if xdg:
        return _expand(xdg) / "huggingface" / "hub", "XDG_CACHE_HOME"
    return _expand("~/.cache") / "huggingface" / "hub", "default"
