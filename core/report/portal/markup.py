"""HTML building blocks for the portal: escaping, status badges, and links into the store.

Every piece of store content (artefact names, instance ids, findings, provisions) is untrusted: it
came from a collector reading some outside system. It only reaches the page through `esc`, and the
page forbids every script but its own (a hash-pinned Content-Security-Policy), so a finding that
says `<script>` is shown as text and could not run even if an escape were missed.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from ...collector import utc_iso
from ...store import layout
from ..model import ArtefactCoverage

SHORT_FRAMEWORK = {"iso27001": "ISO 27001", "soc2": "SOC 2", "en304223": "EN 304 223"}
PHASES = {
    "secure_design": "Secure design",
    "secure_development": "Secure development",
    "secure_deployment": "Secure deployment",
    "secure_maintenance": "Secure maintenance",
    "secure_end_of_life": "Secure end of life",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def slug(text: str) -> str:
    """An id fragment: control IDs (`A.5.9`, `CC6.1`) and instance ids, safe in URLs and selectors."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def principle_anchor(pid: str) -> str:
    return f"p-{slug(pid)}"


def control_anchor(framework: str, cid: str) -> str:
    return f"c-{slug(framework)}-{slug(cid)}"


def framework_anchor(framework: str) -> str:
    return f"fw-{slug(framework)}"


def short_framework(framework: str) -> str:
    return SHORT_FRAMEWORK.get(framework, framework)


def phase_label(phase: str) -> str:
    return PHASES.get(phase, phase.replace("_", " ").capitalize())


def badge(status: str | None) -> str:
    """Status as a word and a colour: colour alone would fail in print and for colour-blind readers."""
    label = status or "unmapped"
    return f'<span class="badge {esc(label)}">{esc(label)}</span>'


def when(moment: Any) -> str:
    """Seconds are enough to read; the exact instant stays in the `datetime` attribute."""
    text = utc_iso(moment)
    shown = re.sub(r"\.\d+Z$", "Z", text).replace("T", " ").replace("Z", " UTC")
    return f'<time datetime="{esc(text)}">{esc(shown)}</time>'


def json_block(data: Any, element_id: str) -> str:
    """Data for the script, in a block the browser never executes; `<` escaped so no `</script>`."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def table(
    caption: str,
    head: Sequence[str],
    rows: Iterable[str],
    *,
    table_id: str | None = None,
    css: str = "grid",
) -> str:
    """A captioned table; `head` cells become `<th scope="col">`, each row is pre-rendered `<tr>`."""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    th = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    body = "\n".join(rows)
    return (
        f'<div class="scroll"><table class="{css}"{ident}><caption>{esc(caption)}</caption>'
        f"<thead><tr>{th}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>"
    )


class Links:
    """Relative links from the page to files in the store, wherever the page was written.

    The page must work from `file://` after the folder is zipped and moved, so links never hold an
    absolute path: they are relative from the page's folder to the store's.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = "" if prefix in ("", ".") else prefix.rstrip("/") + "/"

    @classmethod
    def between(cls, page_dir: str, store_root: str) -> Links:
        return cls(posixpath.relpath(store_root, page_dir))

    def href(self, store_path: str) -> str:
        return esc(quote(self.prefix + store_path, safe="/"))

    def file(self, store_path: str, label: str) -> str:
        return f'<a class="file" href="{self.href(store_path)}">{esc(label)}</a>'

    def artefact(self, a: ArtefactCoverage, path: str | None = None) -> str:
        """The artefact's file and, beside it, its provenance record (`.meta.json`)."""
        target = path or a.path
        meta = layout.meta_name(target) if a.meta_path and target else ""
        main = self.file(target, a.name) if target else esc(a.name)
        extra = f' <a class="meta" href="{self.href(meta)}">metadata</a>' if meta else ""
        return main + extra
