"""Start-up: `evidentia --help` and `evidentia plugins` against a bare `python -c pass`.

Also checks that neither the CLI import nor loading every plugin pulls in a cloud SDK or jsonschema:
those cost hundreds of milliseconds and belong only to the commands (and collectors) that use them.
"""

from __future__ import annotations

import json
import sys

from common import (
    Context,
    Result,
    cli_env,
    evidentia_cmd,
    median_run,
    progress,
    ratio,
    run_measured,
    secs,
)

TARGET_S = 0.3
HEAVY = ("boto3", "botocore", "github", "jira", "jsonschema")

# Runs in a child: import the CLI, then run `plugins` (which loads every plugin) in-process,
# and report which heavy modules were in sys.modules after each step.
PROBE = f"""
import contextlib, io, json, sys
HEAVY = {HEAVY!r}
seen = {{}}
import evidentia.cli
seen["import evidentia.cli"] = sorted(m for m in HEAVY if m in sys.modules)
sink = io.StringIO()
with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
    try:
        evidentia.cli.cli.main(["plugins"], standalone_mode=False)
    except BaseException:
        pass
seen["+ plugins (all plugins loaded)"] = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps(seen))
"""


def run(ctx: Context) -> list[Result]:
    runs = 5 if ctx.quick else 7
    cwd = ctx.scratch("startup")
    env = cli_env()
    cli = evidentia_cmd()
    progress(f"start-up: python -c pass, evidentia --help, evidentia plugins ({runs} runs each)")
    base, _ = median_run([sys.executable, "-c", "pass"], runs=runs, cwd=cwd, env=env)
    base_text = f"{secs(base)} python -c pass"
    results = []
    for args in (["--help"], ["plugins"]):
        median, procs = median_run([*cli, *args], runs=runs, cwd=cwd, env=env)
        row = Result(
            name=f"startup: {' '.join(args)}",
            measured=secs(median),
            baseline=base_text,
            ratio=ratio(median, base),
            target=f"< {TARGET_S:.1f} s",
            passed=median < TARGET_S,
            notes=[
                f"min {secs(min(p.seconds for p in procs))}, "
                f"max {secs(max(p.seconds for p in procs))} over {runs} runs"
            ],
        )
        failed = [p for p in procs if p.returncode != 0]
        if failed:
            row.passed = False
            row.notes.append(f"exit code {failed[0].returncode}: {failed[0].stderr.strip()[:200]}")
        results.append(row)
    results.append(_heavy_imports(ctx, env))
    results[0].notes.append(f"command: {' '.join(cli)}")
    return results


def _heavy_imports(ctx: Context, env: dict[str, str]) -> Result:
    probe = run_measured([sys.executable, "-c", PROBE], cwd=ctx.scratch("startup"), env=env)
    row = Result(
        name="startup: heavy imports",
        measured="?",
        baseline="-",
        ratio="-",
        target="none imported",
        passed=None,
    )
    if probe.returncode != 0:
        row.measured = "error"
        row.notes.append(probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "")
        return row
    stages: dict[str, list[str]] = json.loads(probe.stdout)
    found = sorted({m for mods in stages.values() for m in mods})
    row.measured = ", ".join(found) if found else "none"
    row.passed = not found
    row.notes.append(f"checked: {', '.join(HEAVY)}")
    row.notes += [f"after {stage}: {', '.join(mods) or 'none'}" for stage, mods in stages.items()]
    return row
