"""What every command shares: the --config and --store options, and finding the host, config, store and key.

Each helper imports its heavy module on call, so importing this module costs only click.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..config import Config
    from ..plugin_manager import PluginHost

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
# `export` and `sample` read an observation window the same way, so a pack and a sample drawn with
# the same dates cover the same evidence.
from_option = click.option("--from", "start", required=True, metavar="DATE", help="Window start, included.")
to_option = click.option(
    "--to",
    "end",
    required=True,
    metavar="DATE",
    help="Window end, EXCLUDED: --from 2026-01-01 --to 2027-01-01 is the year 2026.",
)


def plugin_host(report_failures: bool = True) -> PluginHost:
    """Load the plugins only for commands that need them, naming each one that failed to load."""
    from ..plugin_manager import build_plugin_host

    host = build_plugin_host()
    if report_failures:
        for name, why in sorted(host.failures.items()):
            click.secho(f"warning: plugin {name!r} was not loaded: {why}", fg="yellow", err=True)
    return host


def load_config_at(path: Path, host: PluginHost, store: Path | None = None) -> Config:
    from ..config import load_config

    return load_config(path, host, store_override=store)


def store_root(store_path: Path | None, config_path: Path) -> Path:
    """The store named on the command line, else the config's, else ./evidence."""
    if store_path is not None:
        return store_path
    if config_path.exists():
        from ..config import load_config

        try:
            return load_config(config_path, plugin_host(report_failures=False)).store
        except Exception:
            pass  # a broken config must not stop an auditor reading the store; fall back
    return Path("evidence")


def signing_key_path(config_path: Path) -> Path | None:
    """The key runs sign with, so a filing made outside a run (a sample) is signed as well."""
    from ..config import SIGNING_KEY_ENV, load_config
    from ..errors import ConfigError

    if config_path.exists():
        try:
            return load_config(config_path, plugin_host(report_failures=False)).signing_key
        except ConfigError:
            pass  # the collectors may be misconfigured; the key can still come from the environment
    value = os.environ.get(SIGNING_KEY_ENV, "").strip()
    return Path(value).expanduser() if value else None


def setup_logging(verbose: int, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr through the scrubber, so no configured secret can reach a log line."""
    import logging

    from ..scrub import Scrubber, ScrubbingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter(Scrubber(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("evidentia").setLevel(
        logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    )
