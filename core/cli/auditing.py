"""Commands for the auditor and whoever hands evidence to one: verify, report, export, and keygen for the
key that lets an auditor prove who signed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import config_option, from_option, store_option, store_root, to_option


@click.command()
@click.argument("store", required=False, type=click.Path(path_type=Path))
@config_option
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The owner's public key (.pub), obtained separately: proves who signed. Without it the key "
    "shipped in the folder is used, which proves integrity only.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(store: Path | None, config_path: Path, public_key: Path | None, as_json: bool) -> None:
    """Check every hash, the ledger chain, the signature, and for files never filed.

    STORE is an evidence folder, or an audit pack (`pack.zip` from `evidentia export`, or its
    unzipped folder). Exit 0 when intact (warnings may be printed); 1 with one line per discrepancy.
    """
    from ..export import is_pack, verify_pack
    from ..signing import load_public_key
    from ..store.verify import verify_store

    root = store or store_root(None, config_path)
    key = load_public_key(public_key) if public_key else None
    result = verify_pack(root, key) if is_pack(root) else verify_store(root, key)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "store": str(root),
                    "ok": result.ok,
                    "entries": result.entries,
                    "files": result.files,
                    "signature": result.signature.to_dict() if result.signature else None,
                    **({"pack": result.pack} if result.pack is not None else {}),
                    "discrepancies": [d.__dict__ for d in result.discrepancies],
                },
                indent=2,
            )
        )
    else:
        for d in result.discrepancies:
            click.echo(str(d))
        state = "intact" if result.ok else "NOT intact"
        click.echo(
            f"{root}: {state}: {result.entries} ledger entries, {result.files} files checked", err=True
        )
        if result.pack is not None:  # say so: a pack holds a window of the evidence, not all of it
            window, seg = result.pack.get("window") or {}, result.pack.get("segment") or {}
            click.echo(
                f"audit pack: window {window.get('from')} to {window.get('to')} (excluded), "
                f"ledger lines {seg.get('first_seq')}-{seg.get('last_seq')}",
                err=True,
            )
        if result.signature is not None:
            click.echo(f"signature: {result.signature.describe()}", err=True)
    sys.exit(0 if result.ok else 1)


@click.command()
@store_option
@config_option
@from_option
@to_option
@click.option(
    "--principle", multiple=True, metavar="ID", help="Only evidence for this principle (repeatable)."
)
@click.option(
    "--control", multiple=True, metavar="ID", help="Only evidence mapped to this control (repeatable)."
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The pack to write (.zip)."
)
def export(
    store_path: Path | None,
    config_path: Path,
    start: str,
    end: str,
    principle: tuple[str, ...],
    control: tuple[str, ...],
    out: Path,
) -> None:
    """Write the audit pack for an observation window: a zip that verifies on its own.

    DATE is YYYY-MM-DD (UTC midnight) or ISO 8601 with a zone. The window is [--from, --to). The pack
    holds the evidence filed in it (with --principle/--control: only what supports one of them), the
    snapshots in force at its start, the catalogue, the ledger segment linking them to the chain, its
    signature, the portal and a README. The same store and window give a byte-identical zip.
    """
    from ..export import Window, export_pack, parse_when

    root = store_root(store_path, config_path)
    window = Window(
        start=parse_when(start, "--from"),
        end=parse_when(end, "--to"),
        principles=tuple(sorted({p.upper() for p in principle})),
        controls=tuple(sorted(set(control))),
    )
    done = export_pack(root, window, out)
    signed = "signed" if done.signed else "UNSIGNED"
    click.echo(
        f"wrote {done.path}: {done.entries} ledger entries with their files, ledger lines "
        f"{done.first_seq}-{done.last_seq}, {signed}; check it with `evidentia verify {done.path}`",
        err=True,
    )


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the key pair (created if missing).",
)
@click.option("--name", default="evidentia-signing", show_default=True, help="Writes NAME.key and NAME.pub.")
def keygen(out_dir: Path, name: str) -> None:
    """Make an Ed25519 key pair for signing the ledger head; never overwrites a key.

    NAME.key (PKCS#8 PEM, mode 0600) is for the runs: point `signing_key:` in collectors.yaml or
    EVIDENTIA_SIGNING_KEY at it. NAME.pub (PEM) is for auditors: `evidentia verify --public-key`.
    """
    from ..errors import ConfigError
    from ..signing import fingerprint, generate_key_pair, load_public_key
    from ..store.layout import SAFE_ID

    if not SAFE_ID.match(name):
        raise ConfigError([f"--name {name!r}: use lower-case letters, digits, '.', '_' or '-'"])
    private, public = generate_key_pair(out_dir, name)
    click.echo(f"private key: {private}  (secret; set signing_key: or EVIDENTIA_SIGNING_KEY to it)")
    click.echo(f"public key:  {public}  (for auditors: evidentia verify STORE --public-key FILE)")
    click.echo(f"fingerprint: sha256:{fingerprint(load_public_key(public))}")


@click.command()
@store_option
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "markdown", "json", "html", "oscal"]), default="text"
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="Write to a file (html: to a folder; default the store itself).",
)
def report(store_path: Path | None, config_path: Path, fmt: str, output: Path | None) -> None:
    """Coverage per principle and per ISO 27001 / SOC 2 control: fresh, stale, missing.

    `--format html` writes the offline evidence portal (index.html and index.json) into the store,
    or into the --output folder, for an auditor to open from a copy or a zip with no server.
    """
    from ..errors import StoreError
    from ..report import build_coverage, render

    root = store_root(store_path, config_path)
    if not (root / "ledger.jsonl").exists():
        raise StoreError(
            f"{root} is not an evidence store (no ledger.jsonl)",
            hint="run `evidentia collect` first, or pass --store",
        )
    if fmt == "html":
        _report_html(root, output)
        return
    if output is not None and output.is_dir():
        raise click.BadParameter(
            f"{output} is a folder; --format {fmt} writes one file", param_hint="--output"
        )
    if fmt == "oscal":  # OSCAL Assessment Results: reproducible, links relative to where it is written
        from ..report.oscal import oscal_json

        text = oscal_json(root, output.parent if output else None)
    else:
        text = render(build_coverage(root), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _report_html(root: Path, output: Path | None) -> None:
    from ..report.portal import write_portal

    if output is not None and output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} is a file; --format html writes a folder", param_hint="--output")
    page = write_portal(root, output)
    click.echo(f"wrote {page}", err=True)
