"""What a cached file is and whether loading it runs code: `local.ai_inventory`'s rules, plus `.py`.

The format table is not repeated here: a `.bin` must mean the same thing in a project folder and
in the Hugging Face cache, or two collectors would disagree about the same file. The one addition
is Hub-specific: a model repo's `.py` files (`modeling_*.py`) are imported by `transformers` when
the caller passes `trust_remote_code=True`, so whether they run depends on the loader, not the
file, which is what `executes_code_on_load: null` means.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from evidentia.plugins.local.ai_inventory import classify

FileFormat = tuple[str | None, str | None, bool | None]  # (kind, format, executes_code_on_load)


def file_format(path: str) -> FileFormat:
    """(kind, format, executes_code_on_load) for a path in a Hub repo; other files are inert data."""
    known = classify(path)
    if known is not None:
        return known
    if PurePosixPath(path).suffix.lower() == ".py":
        return "code", "python", None
    return None, None, False
