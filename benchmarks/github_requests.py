"""Requests spent by `github.changes` against a plain PyGithub per-PR script, on one synthetic org.

    python3 benchmarks/github_requests.py           # 1,000 repos, 300 members, 20,000 PRs / 90 days
    python3 benchmarks/github_requests.py --quick   # a tenth of the sizes
    python3 benchmarks/run.py --only github         # the same rows in the shared table

Both run against the loopback GitHub (tests/github_server.py) with a fixed latency per request, in
the same process, on the same data. The baseline is what a plain PyGithub script does: list the
org's repositories, list each one's closed pulls (newest first, stopping at the period's start),
then for each pull merged in the period get its reviews and its combined status. At full size the
backfill baseline is ~41,000 requests, so it is measured on a sample of repositories and
extrapolated (stated in the output); PyGithub's default 0.25 s between requests is switched off for
the measurement and its cost added arithmetically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from github_server import UTC, GitHubServer, synthetic_org  # noqa: E402

from evidentia import Period  # noqa: E402
from evidentia.plugins.github.changes import Changes  # noqa: E402
from evidentia.testing import make_context  # noqa: E402

TOKEN = "ghp_benchmarkToken0123456789abcdefghijkl"
PYGITHUB_SLEEP = 0.25


def collector(gh: GitHubServer, period: Period) -> tuple[int, int, float, int]:
    """(requests, counted against the primary limit, seconds, changes) for one github.changes run."""
    gh.reset_log()
    ctx = make_context(Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN}, period=period)
    started = time.perf_counter()
    [artefact] = list(Changes().collect(ctx))
    seconds = time.perf_counter() - started
    changes = int(artefact.summary["changes"])
    return len(gh.seen), gh.counted(), seconds, changes


def baseline(gh: GitHubServer, period: Period, sample: list[str]) -> tuple[int, int, float, int]:
    """The per-PR PyGithub script over `sample` repositories (after listing all of them)."""
    from github import Auth, Github

    gh.reset_log()
    api = Github(
        base_url=gh.base_url, auth=Auth.Token(TOKEN), per_page=100, seconds_between_requests=None, lazy=True
    )
    started = time.perf_counter()
    merged = 0
    repos = {r.name: r for r in api.get_organization("acme").get_repos()}  # noqa: F841 - the listing is the cost
    for name in sample:
        repo = api.get_repo(f"acme/{name}")
        for pull in repo.get_pulls(state="closed", sort="created", direction="desc"):
            if pull.created_at < period.start - dt.timedelta(days=30):
                break
            if pull.merged_at is None or not period.contains(pull.merged_at):
                continue
            merged += 1
            list(pull.get_reviews())
            repo.get_commit(pull.head.sha).get_combined_status()
    seconds = time.perf_counter() - started
    return len(gh.seen), gh.counted(), seconds, merged


NIGHTLY_TARGET = 50
BACKFILL_TARGET = 1000
FEWER = 20  # github.changes must spend at least this many times fewer requests than the baseline


@dataclass(frozen=True)
class Measured:
    """One period's numbers: (requests, counted, seconds, changes) for ours and the scaled baseline."""

    label: str
    target: int
    ours: tuple[int, int, float, int]
    base: tuple[float, float, float, float]

    @property
    def passed(self) -> bool:
        return self.ours[0] <= self.target and self.base[0] >= FEWER * self.ours[0]


@dataclass(frozen=True)
class Sizes:
    repos: int
    members: int
    pulls: int
    sample: int


def sizes(quick: bool) -> Sizes:
    scale = 10 if quick else 1
    repos = 1000 // scale
    return Sizes(repos, 300 // scale, 20_000 // scale, max(5, repos // 40))


def measure(size: Sizes, latency: float, log: Callable[[str], None]) -> list[Measured]:
    """Both periods, ours then the baseline, against one loopback GitHub holding one synthetic org."""
    now = dt.datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    log(f"building: {size.repos} repos, {size.members} members, {size.pulls} merged PRs over 90 days")
    org = synthetic_org(repos=size.repos, members=size.members, pulls=size.pulls, days=90, end=now)
    sample = sorted(org.repos)[:: size.repos // size.sample][: size.sample]  # spread: merges go round-robin
    listing = -(-size.repos // 100)
    factor = size.repos / size.sample
    rows = []
    with GitHubServer(org, TOKEN, latency=latency) as gh:
        gh.record_bodies = False
        for label, days, target in [
            ("backfill 90 days", 90, BACKFILL_TARGET),
            ("nightly", 1, NIGHTLY_TARGET),
        ]:
            period = Period(now - dt.timedelta(days=days), now)
            log(f"{label}: github.changes ...")
            ours = collector(gh, period)
            log(f"{label}: PyGithub per-PR baseline over {size.sample} repos ...")
            made, counted, seconds, merged = baseline(gh, period, sample)
            scaled = (
                listing + (made - listing) * factor,
                listing + (counted - listing) * factor,
                seconds * factor,
                merged * factor,
            )
            rows.append(Measured(label, target, ours, scaled))
    return rows


def run(ctx: Any) -> list[Any]:
    """The rows of `benchmarks/run.py`: requests per period, ratio measured / baseline."""
    from common import Result, progress

    size = sizes(ctx.quick)
    out = []
    for m in measure(size, 0.002, progress):
        out.append(
            Result(
                f"github: {m.label}",
                f"{m.ours[0]:,d} requests",
                f"{m.base[0]:,.0f} PyGithub per PR",
                f"{m.ours[0] / m.base[0]:.3f}x",
                f"<= {m.target:,d}, <= {1 / FEWER:.2f}x",
                m.passed,
                [
                    f"{m.ours[3]:,d} changes; {m.ours[1]:,d} counted against the hourly limit (baseline "
                    f"{m.base[1]:,.0f}); {m.ours[2]:.2f} s vs {m.base[2]:.1f} s without PyGithub's 0.25 s "
                    f"sleep ({m.base[2] + m.base[0] * PYGITHUB_SLEEP:,.0f} s with it)",
                    f"synthetic org of {size.repos:,d} repositories and {size.pulls:,d} merged PRs over 90 "
                    f"days; baseline measured over {size.sample} repositories and scaled by "
                    f"{size.repos / size.sample:g} (the org listing is not scaled)",
                ],
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the server waits per request")
    args = parser.parse_args(argv)
    size = sizes(args.quick)
    rows = measure(size, args.latency, lambda m: print(m, file=sys.stderr))
    print(
        f"\nsynthetic org: {size.repos} repositories, {size.members} members, {size.pulls} merged PRs over "
        f"90 days; {args.latency * 1000:.0f} ms latency per request"
    )
    print(
        f"baseline measured over {size.sample} of {size.repos} repositories and scaled by "
        f"{size.repos / size.sample:g} (the org listing, {-(-size.repos // 100)} requests, is not scaled); "
        f"its time excludes PyGithub's default {PYGITHUB_SLEEP} s sleep between requests, shown separately\n"
    )
    header = f"{'run':18} {'':14} {'requests':>9} {'counted':>9} {'wall s':>8} {'changes':>8}"
    print(header)
    print("-" * len(header))
    for m in rows:
        ours, base = m.ours, m.base
        print(f"{m.label:18} {'github.changes':14} {ours[0]:9,d} {ours[1]:9,d} {ours[2]:8.2f} {ours[3]:8,d}")
        print(f"{'':18} {'PyGithub/PR':14} {base[0]:9,.0f} {base[1]:9,.0f} {base[2]:8.2f} {base[3]:8,.0f}")
        sleep = base[0] * PYGITHUB_SLEEP
        print(f"{'':18} {'  + 0.25 s sleep':14} {'':9} {'':9} {base[2] + sleep:8.0f}")
        ratio = base[0] / max(ours[0], 1)
        print(
            f"{'':18} {'ratio':14} {ratio:8.0f}x {base[1] / max(ours[1], 1):8.0f}x "
            f"{base[2] / max(ours[2], 1e-9):7.0f}x   target <= {m.target} requests and >= {FEWER}x: "
            f"{'PASS' if m.passed else 'FAIL'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
