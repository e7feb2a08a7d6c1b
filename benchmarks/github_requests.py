"""Requests spent by `github.changes` against a plain PyGithub per-PR script, on one synthetic org.

    python3 benchmarks/github_requests.py           # 1,000 repos, 300 members, 20,000 PRs / 90 days
    python3 benchmarks/github_requests.py --quick   # a tenth of the sizes

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
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--latency", type=float, default=0.002, help="seconds the server waits per request")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    repos, members, pulls = 1000 // scale, 300 // scale, 20_000 // scale
    now = dt.datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    print(f"building: {repos} repos, {members} members, {pulls} merged PRs over 90 days", file=sys.stderr)
    org = synthetic_org(repos=repos, members=members, pulls=pulls, days=90, end=now)
    sample_size = max(5, repos // 40)
    sample = sorted(org.repos)[:: repos // sample_size][:sample_size]  # spread: merges go round-robin
    rows = []
    with GitHubServer(org, TOKEN, latency=args.latency) as gh:
        gh.record_bodies = False
        for label, period in [
            ("backfill 90 days", Period(now - dt.timedelta(days=90), now)),
            ("nightly", Period(now - dt.timedelta(days=1), now)),
        ]:
            print(f"{label}: github.changes ...", file=sys.stderr)
            ours = collector(gh, period)
            print(f"{label}: PyGithub per-PR baseline over {sample_size} repos ...", file=sys.stderr)
            made, counted, seconds, merged = baseline(gh, period, sample)
            listing = -(-repos // 100)
            factor = repos / sample_size
            extrapolated = (
                listing + (made - listing) * factor,
                listing + (counted - listing) * factor,
                seconds * factor,
                merged * factor,
            )
            rows.append((label, ours, extrapolated))
    print(
        f"\nsynthetic org: {repos} repositories, {members} members, {pulls} merged PRs over 90 days; "
        f"{args.latency * 1000:.0f} ms latency per request"
    )
    print(
        f"baseline measured over {sample_size} of {repos} repositories and scaled by {repos / sample_size:g} "
        f"(the org listing, {-(-repos // 100)} requests, is not scaled); its time excludes PyGithub's "
        f"default {PYGITHUB_SLEEP} s sleep between requests, shown separately\n"
    )
    header = f"{'run':18} {'':14} {'requests':>9} {'counted':>9} {'wall s':>8} {'changes':>8}"
    print(header)
    print("-" * len(header))
    for label, ours, base in rows:
        print(f"{label:18} {'github.changes':14} {ours[0]:9,d} {ours[1]:9,d} {ours[2]:8.2f} {ours[3]:8,d}")
        print(f"{'':18} {'PyGithub/PR':14} {base[0]:9,.0f} {base[1]:9,.0f} {base[2]:8.2f} {base[3]:8,.0f}")
        sleep = base[0] * PYGITHUB_SLEEP
        print(f"{'':18} {'  + 0.25 s sleep':14} {'':9} {'':9} {base[2] + sleep:8.0f}")
        ratio = base[0] / max(ours[0], 1)
        target = 50 if label == "nightly" else 1000
        verdict = "PASS" if ours[0] <= target and ratio >= 20 else "FAIL"
        print(
            f"{'':18} {'ratio':14} {ratio:8.0f}x {base[1] / max(ours[1], 1):8.0f}x "
            f"{base[2] / max(ours[2], 1e-9):7.0f}x   target <= {target} requests and >= 20x: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
