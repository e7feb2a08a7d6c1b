"""Commands for the engineer who runs collection: collect, and check, schema and aws-policy to set it up."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .options import config_option, load_config_at, plugin_host, setup_logging, store_option


@click.command()
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
    from ..errors import ConfigError
    from ..progress import Progress
    from ..runner import Runner

    host = plugin_host()
    config = load_config_at(config_path, host, store_path)
    unknown = sorted(set(only) - {i.id for i in config.instances})
    if unknown:
        raise ConfigError([f"{config_path}: --only names unknown instance(s): {', '.join(unknown)}"])
    setup_logging(verbose, tuple(s for i in config.instances for s in i.secrets))
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


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the collectors file without collecting (exit 0 valid, 2 invalid)."""
    from ..errors import ConfigError

    host = plugin_host()
    config = load_config_at(config_path, host)
    unresolved = [msg for inst in config.instances for msg in inst.unresolved]
    if unresolved:
        raise ConfigError(unresolved)
    click.echo(f"{config_path}: valid: {len(config.instances)} collector instance(s), store {config.store}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of collectors.yaml (with every installed collector's parameters)."""
    from ..config import config_json_schema

    click.echo(json.dumps(config_json_schema(plugin_host(report_failures=False)), indent=2))


@click.command("aws-policy")
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Only these instances (repeatable).")
def aws_policy(config_path: Path, only: tuple[str, ...]) -> None:
    """Print the least-privilege IAM policy (JSON) for the AWS collectors in the config."""
    from ..errors import ConfigError
    from ..permissions import iam_actions, iam_policy

    config = load_config_at(config_path, plugin_host())
    chosen = [i for i in config.instances if not only or i.id in only]
    if not iam_actions(chosen):
        raise ConfigError([f"{config_path}: no configured collector declares IAM actions"])
    click.echo(json.dumps(iam_policy(chosen), indent=2))
