"""The auditor's `sample` command: draw a reproducible sample of an event population and file it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .options import config_option, from_option, signing_key_path, store_option, store_root, to_option


@click.command()
@store_option
@config_option
@click.option(
    "--population", "instance", required=True, metavar="INSTANCE", help="The events instance (its `id`)."
)
@from_option
@to_option
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
    from ..sampling import SampleRequest, make_window, take_sample

    root = store_root(store_path, config_path)
    request = SampleRequest(instance, make_window(start, end), size=size, seed=seed, frequency=frequency)
    document, entry = take_sample(root, request, signing_key=signing_key_path(config_path))
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
