"""The `evidentia` command.

Only click is imported at start-up; each command imports what it needs, and plugins are loaded only
by commands that use them, so `evidentia --help` is fast and cannot be broken by a plugin.
`EvidentiaError` becomes a clean message and its exit code here; real bugs keep their traceback.

The commands live in modules by who runs them (collecting, auditing, sampling, authoring) and are
added to the group here, so no command module needs to import this one.
"""

from __future__ import annotations

import sys

import click

from .auditing import export, keygen, report, verify
from .authoring import catalog, new_plugin, plugins
from .collecting import aws_policy, check, collect, schema
from .sampling import sample

__all__ = [
    "aws_policy",
    "catalog",
    "check",
    "cli",
    "collect",
    "export",
    "keygen",
    "main",
    "new_plugin",
    "plugins",
    "report",
    "sample",
    "schema",
    "verify",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evidentia")
def cli() -> None:
    """Collect tamper-evident audit evidence for AI systems.

    Evidence is filed by ETSI EN 304 223 principle and mapped to ISO/IEC 27001:2022 and SOC 2.
    """


for _command in (
    collect,
    verify,
    export,
    keygen,
    report,
    catalog,
    plugins,
    check,
    schema,
    aws_policy,
    sample,
    new_plugin,
):
    cli.add_command(_command)


def main() -> None:
    """Console entry point: user errors become a message and an exit code, not a traceback."""
    from ..errors import EvidentiaError

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
