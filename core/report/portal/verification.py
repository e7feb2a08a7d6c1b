"""What the page says about its own trustworthiness: verified or not, signed by whom, how to re-check.

The auditor who receives the folder must not take the page's word for anything, so this part says
exactly what was checked when the page was made, what a signature does and does not prove, and the
commands to check again. The stock-tools procedure is taken from the README that the folder itself
carries (a store's, or an audit pack's), so the page and the folder never give two procedures.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from ...export.readme import PACK_README
from ...signing.check import ORIGIN_GIVEN, SignatureState
from ...store.readme import STORE_README
from ...store.verify import Discrepancy, VerifyResult
from .markup import esc, when
from .views import LedgerHead

DISCREPANCIES_SHOWN = 200


def stock_tools(readme: str) -> tuple[str, str]:
    """The "With stock tools ...:" sentence and the code block after it, from a README's
    "## Verifying" section; the block may be indented (store README) or fenced (pack README)."""
    section = readme.split("## Verifying", 1)[-1]
    start = section.find("With stock tools")
    if start < 0:
        return "", ""
    lines = section[start:].splitlines()
    intro: list[str] = []
    while lines:
        line = lines.pop(0)
        intro.append(line.strip())
        if line.rstrip().endswith(":"):
            break
    while lines and not lines[0].strip():
        lines.pop(0)
    block: list[str] = []
    if lines and lines[0].startswith("```"):
        lines.pop(0)
        for line in lines:
            if line.startswith("```"):
                break
            block.append(line)
    else:
        for line in lines:
            if line.strip() and not line.startswith("    "):
                break
            block.append(line)
    return " ".join(intro), textwrap.dedent("\n".join(block)).strip("\n")


def _pack_procedure() -> tuple[str, str]:
    """The pack README is a `str.format` template: its literal braces are doubled."""
    intro, block = stock_tools(PACK_README)
    return intro, block.replace("{{", "{").replace("}}", "}")


def _inline_code(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def verdict(result: VerifyResult) -> str:
    """The masthead's one line: impossible to miss when the folder was not intact."""
    fatal = sum(1 for d in result.discrepancies if d.fatal)
    if result.ok:
        return (
            '<p class="verdict ok"><span class="icon" aria-hidden="true">✔</span> <strong>Verified '
            f"intact</strong> when this page was generated: {result.entries} ledger entries replayed, "
            f'{result.files} files hashed. <a href="#verification">How to check again</a></p>'
        )
    return (
        '<p class="verdict bad"><span class="icon" aria-hidden="true">✖</span> <strong>NOT intact'
        f"</strong> when this page was generated: {fatal} discrepanc{'y' if fatal == 1 else 'ies'} "
        "between the files and the ledger. Do not rely on this evidence until each is explained. "
        '<a href="#verification">See the list</a></p>'
    )


def signature_fact(result: VerifyResult) -> str:
    """The masthead's short signature line."""
    sig = result.signature
    pack_sig = (result.pack or {}).get("signature") if isinstance(result.pack, dict) else None
    if sig is None or (sig.state == "unsigned" and not sig.signatures):
        state = pack_sig.get("state") if isinstance(pack_sig, dict) else None
        text = "unsigned: origin not proven" if state in (None, "unsigned") else str(state)
        return f"<div><dt>Signature</dt><dd>{esc(text)}</dd></div>"
    if sig.state != "valid" or sig.signed_seq is None:
        return f'<div><dt>Signature</dt><dd><strong class="bad">{esc(sig.state)}</strong></dd></div>'
    proof = (
        "proves origin" if sig.origin == ORIGIN_GIVEN else "key shipped in the folder: integrity, not origin"
    )
    return (
        f"<div><dt>Signature</dt><dd>valid, lines up to {sig.signed_seq} of {sig.ledger_seq} · "
        f"{esc(proof)}</dd></div>"
    )


def window_fact(result: VerifyResult) -> str:
    """An audit pack's window and filters, as its `pack.json` gives them."""
    pack = result.pack if isinstance(result.pack, dict) else None
    window = pack.get("window") if pack else None
    if not isinstance(window, dict):
        return ""
    filters = pack.get("filters") if pack else None
    picked: list[Any] = []
    if isinstance(filters, dict):
        for key in ("principles", "controls"):
            if isinstance(filters.get(key), list):
                picked.extend(filters[key])
    scope = f" · only {', '.join(str(p) for p in picked)}" if picked else ""
    return (
        f"<div><dt>Audit pack window</dt><dd>{esc(window.get('from'))} to {esc(window.get('to'))} "
        f"(excluded){esc(scope)}</dd></div>"
    )


def verification_section(generated_at: Any, head: LedgerHead, result: VerifyResult) -> str:
    fatal = [d for d in result.discrepancies if d.fatal]
    explained = result.signature is not None and result.signature.state == "valid"
    # the signature paragraph below says what the shipped key proves: no need to say it twice
    notes = [d for d in result.discrepancies if not d.fatal and not (explained and d.kind == "signature")]
    state = "intact" if result.ok else "NOT intact"
    span = (
        f" The ledger here is a segment: lines {head.first_seq} to {head.seq} of the store's ledger."
        if head.first_seq not in (None, 1)
        else ""
    )
    return (
        '<h3 id="verification">Verification</h3>'
        f'<p class="{"" if result.ok else "verdict bad"}">'
        f"When this page was generated ({when(generated_at)}), "
        f"the folder was <strong>{state}</strong>: {result.entries} ledger entries replayed, "
        f"{result.files} files hashed. The ledger head was line seq {esc(head.seq)} with SHA-256 "
        f"<code class='hash'>{esc(head.sha256)}</code> (the SHA-256 of the ledger's last line, newline "
        f"included).{esc(span)}</p>"
        + _discrepancies(fatal)
        + _notes(notes)
        + _signature(result)
        + _how_to_check(head, result)
    )


def _discrepancies(fatal: Sequence[Discrepancy]) -> str:
    if not fatal:
        return (
            "<p>No discrepancies: every recorded file matched its SHA-256, the chain was unbroken, and no "
            "unrecorded file was present.</p>"
        )
    listed = fatal[:DISCREPANCIES_SHOWN]
    more = len(fatal) - len(listed)
    return (
        f'<h4 id="discrepancies">Discrepancies ({len(fatal)})</h4>'
        "<ul class='discrepancies'>"
        + "".join(f"<li><code>{esc(str(d))}</code></li>" for d in listed)
        + "</ul>"
        + (
            f"<p>and {more} more: run <code>evidentia verify</code> for the full list.</p>"
            if more > 0
            else ""
        )
    )


def _notes(notes: Sequence[Discrepancy]) -> str:
    """Warnings do not make the folder NOT intact, but the auditor should read them."""
    if not notes:
        return ""
    return (
        f"<h4>Warnings ({len(notes)})</h4><ul class='verify-notes'>"
        + "".join(
            f"<li><code>{esc(d.where)}</code>: {esc(d.message)}</li>" for d in notes[:DISCREPANCIES_SHOWN]
        )
        + "</ul>"
    )


def _signature(result: VerifyResult) -> str:
    sig: SignatureState | None = result.signature
    if sig is None or (sig.state == "unsigned" and not sig.signatures):
        return (
            "<p><strong>Signature: none.</strong> The hash chain shows whether files or recorded lines "
            "changed, but not who wrote the ledger, nor whether its newest lines were removed with their "
            "files: the folder's origin is not proven.</p>"
        )
    if sig.state != "valid" or sig.signed_seq is None:
        return (
            f'<p class="verdict bad"><strong>Signature: {esc(sig.state)}.</strong> '
            f"{sig.signatures} signature(s) present, none valid for this ledger: see the discrepancies.</p>"
        )
    covered = f"ledger lines up to {sig.signed_seq} of {sig.ledger_seq}"
    tail = (
        f" Lines after {sig.signed_seq} are not signed: their origin is not proven."
        if sig.signed_seq < sig.ledger_seq
        else ""
    )
    if sig.origin == ORIGIN_GIVEN:
        proof = "It was checked with the public key given to the verifier, so it also proves who signed."
    else:
        proof = (
            "It was checked with the public key shipped in this folder (<code>signatures/</code>): that "
            "proves the evidence is unchanged since it was signed, <strong>not who signed it</strong>, since "
            "whoever could rewrite the folder could replace that key too. To prove origin, verify with the "
            "owner's public key obtained separately (command below) and compare its fingerprint."
        )
    return (
        f"<p><strong>Signature: valid</strong>, covering {esc(covered)}, by key "
        f"<code class='hash'>sha256:{esc(sig.key_sha256)}</code>. {proof}{esc(tail)}</p>"
    )


def _how_to_check(head: LedgerHead, result: VerifyResult) -> str:
    is_pack = result.pack is not None
    intro, block = _pack_procedure() if is_pack else stock_tools(STORE_README)
    signed = result.signature is not None and result.signature.signatures > 0
    key = (
        "<p>With the owner's public key, obtained separately (not the one in <code>signatures/</code>), "
        "which also proves who signed:</p><pre><code>evidentia verify . --public-key OWNER.pub</code></pre>"
        if signed or is_pack
        else ""
    )
    readme = "the audit pack's" if is_pack else "the folder's"
    stock = (
        f"<p>Without Evidentia, by {readme} <code>README.md</code>: {_inline_code(intro)}</p>"
        f"<pre><code>{esc(block)}</code></pre>"
        if block
        else f"<p>With stock tools only: follow {readme} <code>README.md</code>.</p>"
    )
    return (
        '<h4 id="check-again">Check it again yourself</h4>'
        "<p>This page is a view, not proof: verify the folder again before relying on it. From inside the "
        "folder, with Evidentia:</p>"
        "<pre><code>evidentia verify .</code></pre>"
        + key
        + stock
        + "<p>The last line's hash: <code>tail -n 1 ledger.jsonl | sha256sum</code> must print "
        f"<code class='hash'>{esc(head.sha256)}</code>.</p>"
    )
