"""Commands for the plugin author: what is installed (plugins), what it can map to (catalog), and a start
(new-plugin)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import load_config_at, plugin_host


@click.command()
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
    from ..catalog import load_builtin
    from ..catalog_view import render_catalog

    cat = load_config_at(config_path, plugin_host()).catalog if config_path else load_builtin()
    click.echo(render_catalog(cat, as_json=as_json, principle=principle, control=control), nl=False)


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(name: str | None, as_json: bool) -> None:
    """List installed collectors: plugin, version, principles, parameters, permissions."""
    from ..plugin_view import render_plugins

    host = plugin_host(report_failures=not as_json)
    click.echo(render_plugins(host, name=name, as_json=as_json), nl=False)


@click.command("new-plugin")
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
    from ..scaffold import scaffold_plugin

    root = scaffold_plugin(name, parent)
    click.echo(f"created {root}\nnext: cd {root} && pip install -e '.[test]' && python -m pytest")
