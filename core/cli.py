"""The `evidentia` command.

Only click is imported at start-up; each command imports what it needs, and plugins are loaded only
by commands that use them, so `evidentia --help` is fast and cannot be broken by a plugin.
`EvidentiaError` becomes a clean message and its exit code here; real bugs keep their traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .config import Config
    from .plugin_manager import PluginHost

DEFAULT_CONFIG = "collectors.yaml"
config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("EVIDENTIA_CONFIG", DEFAULT_CONFIG),
    show_default="collectors.yaml, or $EVIDENTIA_CONFIG",
    help="The collectors file.",
)
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The evidence store folder (default: `store:` in the config, else ./evidence).",
)


def _host(report_failures: bool = True) -> PluginHost:
    from .plugin_manager import build_plugin_host

    host = build_plugin_host()
    if report_failures:
        for name, why in sorted(host.failures.items()):
            click.secho(f"warning: plugin {name!r} was not loaded: {why}", fg="yellow", err=True)
    return host


def _config(path: Path, host: PluginHost, store: Path | None = None) -> Config:
    from .config import load_config

    return load_config(path, host, store_override=store)


def _store_root(store_path: Path | None, config_path: Path) -> Path:
    """The store named on the command line, else the config's, else ./evidence."""
    if store_path is not None:
        return store_path
    if config_path.exists():
        from .config import load_config

        try:
            return load_config(config_path, _host(report_failures=False)).store
        except Exception:
            pass  # a broken config must not stop an auditor reading the store; fall back
    return Path("evidence")


def _signing_key(config_path: Path) -> Path | None:
    """The key runs sign with, so a filing made outside a run (a sample) is signed as well."""
    from .config import SIGNING_KEY_ENV, load_config
    from .errors import ConfigError

    if config_path.exists():
        try:
            return load_config(config_path, _host(report_failures=False)).signing_key
        except ConfigError:
            pass  # the collectors may be misconfigured; the key can still come from the environment
    value = os.environ.get(SIGNING_KEY_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _setup_logging(verbose: int, secrets: tuple[str, ...] = ()) -> None:
    import logging

    from .scrub import Scrubber, ScrubbingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter(Scrubber(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("evidentia").setLevel(
        logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evidentia")
def cli() -> None:
    """Collect tamper-evident audit evidence for AI systems.

    Evidence is filed by ETSI EN 304 223 principle and mapped to ISO/IEC 27001:2022 and SOC 2.
    """


@cli.command()
@config_option
@store_option
@click.option("--only", multiple=True, metavar="ID", help="Run only these instances (repeatable).")
@click.option("--force", is_flag=True, help="Run instances even if their schedule is not due.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def collect(
    config_path: Path,
    store_path: Path | None,
    only: tuple[str, ...],
    force: bool,
    as_json: bool,
    verbose: int,
) -> None:
    """Run the due collectors and file their evidence.

    Exit code 0: every instance succeeded (or was not due); 1: some failed, the rest filed;
    2: usage or config error, nothing collected.
    """
    from .errors import ConfigError
    from .progress import Progress
    from .runner import Runner

    host = _host()
    config = _config(config_path, host, store_path)
    unknown = sorted(set(only) - {i.id for i in config.instances})
    if unknown:
        raise ConfigError([f"{config_path}: --only names unknown instance(s): {', '.join(unknown)}"])
    _setup_logging(verbose, tuple(s for i in config.instances for s in i.secrets))
    _stop_on_sigterm()
    runner = Runner(config, host, only=only, force=force, progress=Progress(enabled=True))
    summary = runner.run()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        _print_summary(summary.to_dict())
    sys.exit(summary.exit_code)


def _stop_on_sigterm() -> None:
    """Kubernetes and systemd stop with SIGTERM: end the run like Ctrl-C, filing what is done."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _print_summary(summary: dict[str, Any]) -> None:
    click.echo(f"\nrun {summary['run_id']} into {summary['store']}", err=True)
    header = f"{'instance':<28} {'status':<11} {'filed':>6} {'same':>5} {'find':>5} {'req':>6} {'secs':>7}"
    click.echo(header, err=True)
    for r in summary["instances"]:
        click.echo(
            f"{r['id']:<28} {r['status']:<11} {r['artefacts']:>6} {r['unchanged']:>5} "
            f"{r['findings']:>5} {r['requests']:>6} {r['duration_s']:>7.2f}",
            err=True,
        )
        if r["reason"]:
            click.echo(f"    {r['reason']}", err=True)
    if summary.get("recovered_filings"):
        click.echo(f"recovered {summary['recovered_filings']} filing(s) of an interrupted run", err=True)


@cli.command()
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
    from .export import is_pack, verify_pack
    from .signing import load_public_key
    from .store.verify import verify_store

    root = store or _store_root(None, config_path)
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


@cli.command()
@store_option
@config_option
@click.option("--from", "start", required=True, metavar="DATE", help="Window start, included.")
@click.option(
    "--to",
    "end",
    required=True,
    metavar="DATE",
    help="Window end, EXCLUDED: --to 2026-04-01 ends the window at the end of 31 March.",
)
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
    from .export import Window, export_pack, parse_when

    root = _store_root(store_path, config_path)
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


@cli.command()
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
    from .errors import ConfigError
    from .signing import fingerprint, generate_key_pair, load_public_key
    from .store.layout import SAFE_ID

    if not SAFE_ID.match(name):
        raise ConfigError([f"--name {name!r}: use lower-case letters, digits, '.', '_' or '-'"])
    private, public = generate_key_pair(out_dir, name)
    click.echo(f"private key: {private}  (secret; set signing_key: or EVIDENTIA_SIGNING_KEY to it)")
    click.echo(f"public key:  {public}  (for auditors: evidentia verify STORE --public-key FILE)")
    click.echo(f"fingerprint: sha256:{fingerprint(load_public_key(public))}")


@cli.command()
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
    from .errors import StoreError
    from .report import build_coverage, render

    root = _store_root(store_path, config_path)
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
        from .report.oscal import oscal_json

        text = oscal_json(root, output.parent if output else None)
    else:
        text = render(build_coverage(root), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _report_html(root: Path, output: Path | None) -> None:
    from .report.portal import write_portal

    if output is not None and output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} is a file; --format html writes a folder", param_hint="--output")
    page = write_portal(root, output)
    click.echo(f"wrote {page}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--principle", help="Show one principle and the controls it maps to (e.g. P5).")
@click.option("--control", help="Show the principles that map to a control (A.5.9, CC6.1).")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Apply this config's catalogue extensions.",
)
def catalog(as_json: bool, principle: str | None, control: str | None, config_path: Path | None) -> None:
    """Print the catalogue: EN 304 223 principles and their ISO 27001 and SOC 2 mappings."""
    from .catalog import load_builtin
    from .catalog_view import render_catalog

    cat = _config(config_path, _host()).catalog if config_path else load_builtin()
    click.echo(render_catalog(cat, as_json=as_json, principle=principle, control=control), nl=False)


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(name: str | None, as_json: bool) -> None:
    """List installed collectors: plugin, version, principles, parameters, permissions."""
    from .plugin_view import render_plugins

    host = _host(report_failures=not as_json)
    click.echo(render_plugins(host, name=name, as_json=as_json), nl=False)


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the collectors file without collecting (exit 0 valid, 2 invalid)."""
    from .errors import ConfigError

    host = _host()
    config = _config(config_path, host)
    unresolved = [msg for inst in config.instances for msg in inst.unresolved]
    if unresolved:
        raise ConfigError(unresolved)
    click.echo(f"{config_path}: valid: {len(config.instances)} collector instance(s), store {config.store}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of collectors.yaml (with every installed collector's parameters)."""
    from .config import config_json_schema

    click.echo(json.dumps(config_json_schema(_host(report_failures=False)), indent=2))


@cli.command("aws-policy")
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Only these instances (repeatable).")
def aws_policy(config_path: Path, only: tuple[str, ...]) -> None:
    """Print the least-privilege IAM policy (JSON) for the AWS collectors in the config."""
    from .errors import ConfigError
    from .permissions import iam_actions, iam_policy

    config = _config(config_path, _host())
    chosen = [i for i in config.instances if not only or i.id in only]
    if not iam_actions(chosen):
        raise ConfigError([f"{config_path}: no configured collector declares IAM actions"])
    click.echo(json.dumps(iam_policy(chosen), indent=2))


@cli.command()
@store_option
@config_option
@click.option(
    "--population", "instance", required=True, metavar="INSTANCE", help="The events instance (its `id`)."
)
@click.option("--from", "start", required=True, metavar="DATE", help="Window start, included.")
@click.option(
    "--to",
    "end",
    required=True,
    metavar="DATE",
    help="Window end, EXCLUDED (as for export): --from 2026-01-01 --to 2027-01-01 is the year 2026.",
)
@click.option("--size", type=click.IntRange(min=1), help="Items to draw (default: by the guidance table).")
@click.option(
    "--seed", help="Seed for the draw, e.g. chosen by the auditor (default: a random one, recorded)."
)
@click.option(
    "--frequency",
    type=click.Choice(["annual", "quarterly", "monthly", "weekly", "daily", "many-times-a-day"]),
    help="How often the control operates (default: inferred from the population).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sample document and its filing as JSON.")
def sample(
    store_path: Path | None,
    config_path: Path,
    instance: str,
    start: str,
    end: str,
    size: int | None,
    seed: str | None,
    frequency: Any,
    as_json: bool,
) -> None:
    """Draw a reproducible random sample of an event population and file it as evidence.

    DATE is YYYY-MM-DD (UTC midnight) or ISO 8601 with a zone; the window is [--from, --to). The
    sample, its seed, the whole population, the artefacts it was read from and any hole in their
    coverage are filed beside the population, so an auditor can check it and re-draw it.
    """
    from .sampling import SampleRequest, make_window, take_sample

    root = _store_root(store_path, config_path)
    request = SampleRequest(instance, make_window(start, end), size=size, seed=seed, frequency=frequency)
    document, entry = take_sample(root, request, signing_key=_signing_key(config_path))
    filed = {"seq": entry["seq"], "type": entry["type"], "sha256": entry["sha256"], "paths": entry["paths"]}
    if as_json:
        click.echo(json.dumps({**document, "filed": filed}, indent=2, sort_keys=True))
        return
    pop, method, advice = document["population"], document["method"], document["guidance"]
    click.echo(
        f"{len(document['sample'])} of {pop['size']} items of {instance} in "
        f"[{pop['window']['start']}, {pop['window']['end']}); seed {method['seed']}; "
        f"{advice['frequency']} control, size {advice['size_source']}",
        err=True,
    )
    for hole in pop["coverage"]["holes"]:
        click.secho(f"warning: no evidence covers [{hole['start']}, {hole['end']})", fg="yellow", err=True)
    if pop["unplaced"]:
        click.secho(
            f"warning: {pop['unplaced']} item(s) without a time, in artefacts only partly inside the "
            "window, were left out",
            fg="yellow",
            err=True,
        )
    for item in document["sample"]:
        click.echo(f"{item['id']}\t{item['at'] or '-'}")
    state = "already filed as" if entry["type"] == "unchanged" else "filed"
    click.echo(f"{state} {entry['paths'][0]}", err=True)


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Where to create the package folder.",
)
def new_plugin(name: str, parent: Path) -> None:
    """Create a plugin package NAME with a collector, its entry point and a passing test."""
    from .scaffold import scaffold_plugin

    root = scaffold_plugin(name, parent)
    click.echo(f"created {root}\nnext: cd {root} && pip install -e '.[test]' && python -m pytest")


def main() -> None:
    """Console entry point: user errors become a message and an exit code, not a traceback."""
    from .errors import EvidentiaError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except EvidentiaError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
