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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(store: Path | None, config_path: Path, as_json: bool) -> None:
    """Check every hash, the ledger chain, and for files never filed.

    Exit 0 when the store is intact; 1 with one line per discrepancy.
    """
    from .store.verify import verify_store

    root = store or _store_root(None, config_path)
    result = verify_store(root)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "store": str(root),
                    "ok": result.ok,
                    "entries": result.entries,
                    "files": result.files,
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
    sys.exit(0 if result.ok else 1)


@cli.command()
@store_option
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def report(store_path: Path | None, config_path: Path, fmt: str, output: Path | None) -> None:
    """Coverage per principle and per ISO 27001 / SOC 2 control: fresh, stale, missing."""
    from .errors import StoreError
    from .report import build_coverage, render

    root = _store_root(store_path, config_path)
    if not (root / "ledger.jsonl").exists():
        raise StoreError(
            f"{root} is not an evidence store (no ledger.jsonl)",
            hint="run `evidentia collect` first, or pass --store",
        )
    text = render(build_coverage(root), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


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
