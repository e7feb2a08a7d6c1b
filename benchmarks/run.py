"""Run the Evidentia benchmarks and print one table: measured, baseline, ratio, target, PASS/FAIL.

    python benchmarks/run.py              # full sizes (about 1-2 minutes on 2 cores)
    python benchmarks/run.py --quick      # a fifth of the sizes, for a quick look
    python benchmarks/run.py --only verify

Benchmarks inform; they are not tests: the exit code is 0 whatever the verdicts. See README.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `python benchmarks/run.py` already does this; `-m` does not
    sys.path.insert(0, str(HERE))

from common import Context, Result  # noqa: E402

BENCHMARKS = {"startup": "startup", "verify": "verify_speed", "filing": "filing", "github": "github_requests"}
WORK_ROOT = HERE / ".work"
COLUMNS = (("benchmark", 26), ("measured", 23), ("baseline", 34), ("ratio", 7), ("target", 22))


def _run_one(name: str, ctx: Context) -> list[Result]:
    try:
        module = importlib.import_module(BENCHMARKS[name])
        runner: Callable[[Context], list[Result]] = module.run
        return runner(ctx)
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return [Result(name, "error", "-", "-", "-", None, [last])]


def _row(cells: list[str], verdict: str) -> str:
    parts = [cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)]
    return " ".join(parts) + " " + verdict


def render(results: list[Result]) -> str:
    lines = [_row([title for title, _ in COLUMNS], "result")]
    lines.append("-" * len(lines[0]))
    for r in results:
        lines.append(_row([r.name, r.measured, r.baseline, r.ratio, r.target], r.verdict))
    notes = [f"  {r.name}: {note}" for r in results for note in r.notes if note]
    if notes:
        lines += ["", "notes:", *notes]
    judged = [r for r in results if r.passed is not None]
    passed = sum(1 for r in judged if r.passed)
    lines += ["", f"{passed}/{len(judged)} targets met (exit code is 0 either way)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a fifth)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    selected = [n for n in BENCHMARKS if not args.only or n in args.only]

    WORK_ROOT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
    ctx = Context(work=work, quick=args.quick)
    mode = "quick" if args.quick else "full"
    print(
        f"evidentia benchmarks ({mode}): Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        flush=True,
    )
    started = time.perf_counter()
    results: list[Result] = []
    try:
        for name in selected:
            results += _run_one(name, ctx)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if WORK_ROOT.exists() and not any(WORK_ROOT.iterdir()):
            WORK_ROOT.rmdir()
    print()
    print(render(results))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
