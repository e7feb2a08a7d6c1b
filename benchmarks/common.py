"""Shared pieces of the benchmarks: result rows, measured child processes, the CLI and its env."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO / "tests"
TEST_PLUGIN_MODULE = "collectors_for_tests"


@dataclass
class Result:
    """One row of the table. `passed` is None for rows that inform but are not judged."""

    name: str
    measured: str
    baseline: str
    ratio: str
    target: str
    passed: bool | None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "-" if self.passed is None else ("PASS" if self.passed else "FAIL")


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: a scratch folder, the size mode and how to run the CLI."""

    work: Path
    quick: bool

    def scratch(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Proc:
    """A finished child process: wall time, exit code, peak resident memory, captured output."""

    seconds: float
    returncode: int
    max_rss_mib: float
    stdout: str
    stderr: str


def evidentia_cmd() -> list[str]:
    """The `evidentia` console script of this interpreter (not a wrapper such as a pyenv shim)."""
    script = Path(sysconfig.get_path("scripts")) / "evidentia"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "evidentia"]


def cli_env() -> dict[str, str]:
    """The environment every child runs in: the test collectors loadable, no config from outside."""
    env = dict(os.environ)
    env.pop("EVIDENTIA_CONFIG", None)
    env.pop("EVIDENTIA_DISABLE_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH")) if p)
    env["EVIDENTIA_PLUGIN_MODULES"] = TEST_PLUGIN_MODULE
    return env


def _rss_mib(maxrss: int) -> float:
    # ru_maxrss is KiB on Linux and bytes on macOS
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def run_measured(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Proc:
    """Run a command to completion; its own peak RSS comes from wait4 (not the max of all children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(
            seconds=seconds,
            returncode=proc.returncode,
            max_rss_mib=_rss_mib(usage.ru_maxrss),
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def median_run(
    cmd: Sequence[str], *, runs: int, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[float, list[Proc]]:
    """One untimed warm-up, then the median wall time of `runs` runs."""
    run_measured(cmd, cwd=cwd, env=env)
    procs = [run_measured(cmd, cwd=cwd, env=env) for _ in range(runs)]
    return statistics.median(p.seconds for p in procs), procs


def ratio(measured: float, baseline: float | None) -> str:
    if baseline is None or baseline <= 0:
        return "-"
    return f"{measured / baseline:.2f}x"


def secs(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def rate(count: int, seconds: float, unit: str) -> str:
    per_s = count / seconds if seconds > 0 else float("inf")
    return f"{per_s / 1000:.1f}k {unit}/s" if per_s >= 10_000 else f"{per_s:,.0f} {unit}/s"


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)
