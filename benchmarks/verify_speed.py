"""Verify speed: `evidentia verify` against `sha256sum` over the same files, and its peak memory.

The store is built in-process with the real filing code (LocalStore + file_artefact, unchanged and
durable), so its layout, metadata, hard links and ledger are exactly what `collect` writes; only the
collector, runner and CLI around them are skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import statistics
import subprocess
from pathlib import Path

from common import (
    Context,
    Proc,
    Result,
    cli_env,
    evidentia_cmd,
    progress,
    rate,
    ratio,
    run_measured,
    secs,
)

from evidentia import Artefact, Period, __version__
from evidentia.catalog import load_builtin
from evidentia.store.local import LocalStore
from evidentia.store.records import Provenance, file_artefact

FULL_SIZES = (2_000, 10_000)
QUICK_SIZES = (400, 2_000)
SHA_SHARE = 0.8  # verify must reach 80% of sha256sum's throughput
RSS_GROWTH_LIMIT = 1.5  # peak RSS at 5x the artefacts may grow at most this much
RECORDS = 22  # records per artefact: about 4 KiB of canonical JSON
PRINCIPLES = ("P2", "P5", "P8", "P11")
SHA_PIPELINE = "find . -type f ! -path '*/.evidentia/*' -print0 | xargs -0 sha256sum > /dev/null"
FILES_CHECKED = re.compile(r"(\d+) files checked")


def _payload(rng: random.Random, i: int) -> Artefact:
    records = [
        {
            "id": f"{rng.getrandbits(64):016x}",
            "digest": f"{rng.getrandbits(256):064x}",
            "user": f"user{rng.randrange(100_000)}",
            "score": rng.randrange(1_000_000),
        }
        for _ in range(RECORDS)
    ]
    return Artefact.json(f"record-{i:05d}", {"seq": i, "records": records}, source="bench://fixture")


def build_store(root: Path, start: int, stop: int) -> int:
    """File artefacts start..stop-1 (adding to the store if it exists); return the content bytes."""
    catalog = load_builtin()
    now = dt.datetime.now(dt.timezone.utc)
    prov = Provenance(
        instance="fixture",
        collector="bench.fixture",
        collector_version="0",
        plugin="evidentia-benchmarks",
        plugin_version="0",
        tool_version=__version__,
        run_id="benchmark",
        kind="snapshot",
        collected_at=now,
        period=Period(now, now),
        calls=(),
        params={},
        stale_after_seconds=86_400,
    )
    rng = random.Random(start)
    total = 0
    with LocalStore(root) as store:
        for i in range(start, stop):
            artefact = _payload(rng, i)
            total += len(artefact.content)
            count = 1 + rng.randrange(2)
            file_artefact(store, catalog, artefact, rng.sample(PRINCIPLES, count), prov)
    os.sync()  # nothing left to write back while verify is being timed
    return total


def _verify(root: Path, cwd: Path) -> Proc:
    proc = run_measured([*evidentia_cmd(), "verify", str(root)], cwd=cwd, env=cli_env())
    if proc.returncode != 0:
        raise RuntimeError(f"verify failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return proc


def _files_checked(proc: Proc) -> int:
    match = FILES_CHECKED.search(proc.stderr)
    return int(match.group(1)) if match else 0


def _sha_available() -> bool:
    return all(shutil.which(tool) for tool in ("sh", "find", "xargs", "sha256sum"))


def _count_sha_files(root: Path) -> int:
    out = subprocess.run(
        ["find", ".", "-type", "f", "!", "-path", "*/.evidentia/*", "-print0"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return out.count(b"\0")


def run(ctx: Context) -> list[Result]:
    small, large = QUICK_SIZES if ctx.quick else FULL_SIZES
    runs = 1 if ctx.quick else 3
    cwd = ctx.scratch("verify")
    root = cwd / "store"

    progress(f"verify: building a store of {small:,} artefacts")
    content_bytes = build_store(root, 0, small)
    _verify(root, cwd)  # warm-up: page cache and bytecode
    rss_small = _verify(root, cwd).max_rss_mib

    progress(f"verify: growing it to {large:,} artefacts")
    content_bytes += build_store(root, small, large)
    warm = _verify(root, cwd)
    timed = [_verify(root, cwd) for _ in range(runs)]
    verify_s = statistics.median(p.seconds for p in timed)
    rss_large = max(p.max_rss_mib for p in timed)
    files = _files_checked(warm)

    sha_s: float | None = None
    sha_files = 0
    if _sha_available():
        progress("verify: sha256sum over the same files")
        sha_cmd = ["sh", "-c", SHA_PIPELINE]
        run_measured(sha_cmd, cwd=root)  # warm-up
        sha_s = statistics.median(run_measured(sha_cmd, cwd=root).seconds for _ in range(runs))
        sha_files = _count_sha_files(root)

    avg_kib = content_bytes / large / 1024
    speed = Result(
        name=f"verify: {large:,} artefacts",
        measured=f"{secs(verify_s)} {rate(files, verify_s, 'files')}",
        baseline=(
            f"{secs(sha_s)} {rate(sha_files, sha_s, 'files')} sha256sum"
            if sha_s is not None
            else "baseline unavailable"
        ),
        ratio=ratio(verify_s, sha_s),
        target=(
            f"<= {secs(sha_s / SHA_SHARE)} (sha/{SHA_SHARE})"
            if sha_s is not None
            else f"<= sha256sum/{SHA_SHARE}"
        ),
        passed=None if sha_s is None else verify_s <= sha_s / SHA_SHARE,
        notes=[
            f"{files:,} files checked by verify (artefacts + metadata, hard links hashed once)"
            + (
                f"; sha256sum hashes {sha_files:,} paths (every link, plus README.md and ledger.jsonl)"
                if sha_s is not None
                else ""
            ),
            f"artefacts avg {avg_kib:.1f} KiB, 1-2 principles each; median of {runs} warm run(s) each",
        ],
    )
    if sha_s is None:
        speed.notes.append("sha256sum, find, xargs or sh not found: baseline unavailable")
    growth = rss_large / rss_small
    per_artefact_kib = (rss_large - rss_small) * 1024 / (large - small)
    memory = Result(
        name="verify: peak RSS",
        measured=f"{rss_large:.1f} MiB @{large // 1000}k",
        baseline=f"{rss_small:.1f} MiB @{small / 1000:g}k",
        ratio=f"{growth:.2f}x",
        target=f"<= {RSS_GROWTH_LIMIT}x for {large // small}x",
        passed=growth <= RSS_GROWTH_LIMIT,
        notes=[f"growth {per_artefact_kib:.2f} KiB per extra artefact"],
    )
    shutil.rmtree(root)
    return [speed, memory]
