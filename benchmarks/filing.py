"""Filing: `evidentia collect` of 10,000 small artefacts into a fresh store, then `verify` on it.

Baselines, measured in the same run on the same disk: writing the same payloads as plain files with
one write+fsync each (a naive crash-safe writer), and without fsync (the page-cache ceiling).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

from common import (
    Context,
    Result,
    cli_env,
    evidentia_cmd,
    progress,
    rate,
    ratio,
    run_measured,
    secs,
)

from evidentia import canonical_json

FULL_COUNT = 10_000
QUICK_COUNT = 2_000
TARGET_S_PER_10K = 30.0
ARTEFACT_BYTES = 500
PLAIN_RUNS = 3
CONFIG = """\
store: store
collectors:
  - id: echo
    plugin: test.echo
    params: {{count: {count}, size: {size}}}
"""


def echo_payload(i: int, size: int) -> bytes:
    """Exactly the bytes the `test.echo` collector produces for item i."""
    return canonical_json({"i": i, "content": "same", "pad": "x" * size})


def _write_files(folder: Path, payloads: list[bytes], *, fsync: bool) -> float:
    folder.mkdir()
    start = time.perf_counter()
    for i, data in enumerate(payloads):
        with open(folder / f"item-{i}.json", "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return time.perf_counter() - start


def run(ctx: Context) -> list[Result]:
    count = QUICK_COUNT if ctx.quick else FULL_COUNT
    target_s = TARGET_S_PER_10K * count / 10_000
    cwd = ctx.scratch("filing")
    size = ARTEFACT_BYTES - len(echo_payload(0, 0))
    config = cwd / "collectors.yaml"
    config.write_text(CONFIG.format(count=count, size=size), encoding="utf-8")
    env = cli_env()

    progress(f"filing: evidentia collect, {count:,} artefacts of ~{ARTEFACT_BYTES} B")
    os.sync()
    collect = run_measured([*evidentia_cmd(), "collect", "--json", "-c", str(config)], cwd=cwd, env=env)
    filed = 0
    if collect.returncode == 0:
        filed = json.loads(collect.stdout)["totals"]["artefacts"]

    progress("filing: baselines (write+fsync, plain write)")
    payloads = [echo_payload(i, size) for i in range(count)]
    os.sync()
    fsync_s = _write_files(cwd / "fsynced", payloads, fsync=True)
    os.sync()
    plain_runs = []
    for n in range(PLAIN_RUNS):  # short enough for noise to matter: take the median of a few
        plain_runs.append(_write_files(cwd / f"plain-{n}", payloads, fsync=False))
        os.sync()
    plain_s = statistics.median(plain_runs)

    progress("filing: evidentia verify on the result")
    verify = run_measured([*evidentia_cmd(), "verify", str(cwd / "store")], cwd=cwd, env=env)
    intact = verify.returncode == 0 and ": intact:" in verify.stderr

    avg = sum(map(len, payloads)) / count
    timing = Result(
        name=f"filing: collect {count // 1000}k",
        measured=f"{secs(collect.seconds)} {rate(filed, collect.seconds, 'artefacts')}",
        baseline=f"{secs(fsync_s)} {rate(count, fsync_s, 'files')} write+fsync",
        ratio=ratio(collect.seconds, fsync_s),
        target=f"< {target_s:.0f} s",
        passed=collect.returncode == 0 and filed == count and collect.seconds < target_s,
        notes=[
            f"{filed:,} artefacts of {avg:.0f} B filed under 2 principles each "
            f"(content + metadata, hard-linked); peak RSS {collect.max_rss_mib:.0f} MiB",
            f"collect timed once; write+fsync once; plain write median of {PLAIN_RUNS}",
        ],
    )
    if collect.returncode != 0 or filed != count:
        timing.notes.append(
            f"collect exit {collect.returncode}, filed {filed}: {collect.stderr.strip()[-300:]}"
        )
    plain = Result(
        name="filing: vs plain write",
        measured=f"{secs(collect.seconds)}",
        baseline=f"{secs(plain_s)} {rate(count, plain_s, 'files')} write",
        ratio=ratio(collect.seconds, plain_s),
        target="(informs)",
        passed=None,
    )
    check = Result(
        name="filing: verify result",
        measured="intact" if intact else "NOT intact",
        baseline="-",
        ratio="-",
        target="intact",
        passed=intact,
        notes=[f"verify took {secs(verify.seconds)}"]
        if intact
        else [verify.stdout.strip()[:300], verify.stderr.strip()[-300:]],
    )
    for folder in ("store", "fsynced", *(f"plain-{n}" for n in range(PLAIN_RUNS))):
        shutil.rmtree(cwd / folder, ignore_errors=True)
    return [timing, plain, check]
