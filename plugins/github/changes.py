"""`github.changes`: the population of changes merged into each default branch during the period.

Request economy decides the shape. Per-pull-request REST calls (list pulls, then reviews and status
for each) cost ~3 requests a change; instead:
- one GraphQL *search* (`org:X is:pr is:merged merged:A..B`) pages through merged pull requests 100
  at a time, each with its reviews, head commit and check contexts. Search returns at most 1,000
  results per query, so the period is cut into windows that each hold fewer (sized from the first
  page's `issueCount`, split again if a window still holds too many);
- one GraphQL sweep over the organisation's repositories (100 per request) reads each default
  branch's commits in the period with their associated pull requests, which gives the repository list
  and the direct commits that belong to no merged pull request.
A nightly run over 1,000 repositories is then ~15 requests; a 90-day backfill a few hundred.

Known limits, stated in the evidence: Git records when a commit was made, not when it was pushed, so
a direct commit pushed long after it was made is placed by its commit date; required checks come
from the base branch as configured when collected (classic protection and active rulesets), not
as it was when each change merged (`github.branch_protection` files the configuration nightly).

The population is one list, `items`, as `evidentia sample` reads it: each merged pull request
(`type: pull_request`, `id` `org/repo#12`, `at` its merge time) and each direct commit (`type:
direct_commit`, `id` `org/repo@<sha>`, `at` its commit date), in time order, so the id an auditor
picks from a sample (and a finding's subject) finds the one record in the artefact that answers it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from typing import Any

from evidentia import Artefact, CollectContext, Collector, Finding, Period
from evidentia.collector import utc_iso

from .change_records import (
    change_findings,
    change_record,
    commit_record,
    direct_commit_finding,
    in_merged_pull_request,
)
from .client import GitHubClient
from .common import Gaps, all_pages, client, params_schema, parse_time, source_of, wanted
from .queries import DEFAULT_BRANCH_COMMITS, MERGED_PULL_REQUESTS, REPOSITORY_COMMITS

SEARCH_CAP = 1000  # GitHub search returns at most this many results per query
WINDOW_TARGET = 800  # aim below the cap, since merges are not spread evenly
SECOND = dt.timedelta(seconds=1)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def search_query(org: str, start: dt.datetime, end: dt.datetime) -> str:
    """Merged in [start, end) of whole seconds: search ranges are inclusive, so up to end - 1 s."""
    return f"org:{org} is:pr is:merged merged:{_stamp(start)}..{_stamp(end - SECOND)}"


def whole_seconds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """[floor(start), ceil(end)): every whole second a merge or commit inside the period can carry.

    GitHub stamps merges and commits in whole seconds, while a run's period ends at any microsecond.
    Truncating both edges would lose a merge stamped in the second a period ends (after the end's
    floor, yet before the end itself): tonight's search would stop short of it and tomorrow's
    `period.contains` would reject it. Searching the rounded-out range and keeping only what the
    period contains counts such a merge exactly once, in the period that holds it.
    """
    start = period.start.replace(microsecond=0)
    end = period.end.replace(microsecond=0)
    return start, end + SECOND if end < period.end else end


def split(start: dt.datetime, end: dt.datetime, parts: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """`parts` consecutive windows of whole seconds covering [start, end) exactly."""
    total = math.ceil((end - start).total_seconds())
    cuts = sorted({start + dt.timedelta(seconds=total * i // parts) for i in range(1, parts)} - {start})
    edges = [start, *[c for c in cuts if c < end], end]
    return list(itertools.pairwise(edges))


def merged_pull_requests(
    ctx: CollectContext, gh: GitHubClient, gaps: Gaps, period: Period
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every pull request merged in the period (any base branch), and the search windows used."""
    org = ctx.params["org"]
    todo = [whole_seconds(period)]
    found: dict[str, dict[str, Any]] = {}
    windows: list[dict[str, Any]] = []
    while todo:
        start, end = todo.pop(0)
        pages = gh.connection(MERGED_PULL_REQUESTS, {"q": search_query(org, start, end)}, ("search",))
        conn, errors = next(pages)
        count = int(conn.get("issueCount") or 0)
        if count > SEARCH_CAP and end - start > SECOND:
            pages.close()
            todo[:0] = split(start, end, math.ceil(count / WINDOW_TARGET))
            continue
        if count > SEARCH_CAP:
            gaps.add(
                org, search_query(org, start, end), None, f"{count} merges in one second; search shows 1000"
            )
        windows.append({"start": utc_iso(start), "end": utc_iso(end), "merged": count})
        for page, page_errors in [(conn, errors), *pages]:
            gaps.add_graphql(org, page_errors)
            for node in page.get("nodes") or []:
                if node and node.get("url"):
                    found[node["url"]] = node
    return list(found.values()), windows


def _history(repo: dict[str, Any]) -> dict[str, Any]:
    target = ((repo.get("defaultBranchRef") or {}).get("target")) or {}
    return target.get("history") or {}


def default_branch_commits(
    ctx: CollectContext, gh: GitHubClient, gaps: Gaps, period: Period
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each wanted repository with its default branch's commits in the period (all pages)."""
    org = ctx.params["org"]
    start, end = whole_seconds(period)
    window = {"org": org, "since": _stamp(start), "until": _stamp(end - SECOND)}
    for conn, errors in gh.connection(DEFAULT_BRANCH_COMMITS, window, ("organization", "repositories")):
        gaps.add_graphql(org, errors)
        for repo in conn.get("nodes") or []:
            if not repo or not wanted(ctx, repo):
                continue
            path = ("repository", "defaultBranchRef", "target", "history")
            variables = {**window, "repo": repo["name"]}
            commits, _ = all_pages(
                gh, gaps, repo["name"], REPOSITORY_COMMITS, variables, path, _history(repo)
            )
            yield repo, commits


def as_item(kind: str, ident: str, at: dt.datetime, record: dict[str, Any]) -> dict[str, Any]:
    """A record as one item of the population (`evidentia sample` draws from `items` by `id` and `at`)."""
    return {"type": kind, "id": ident, "at": utc_iso(at), **record}


class Changes(Collector):
    """Merged pull requests with reviews and checks, and direct commits, for the audit population."""

    name = "github.changes"
    description = "Changes merged into each repository's default branch: reviews, checks, direct commits"
    principles = ("P2", "P8", "P9", "P11")
    kind = "events"
    # GitHub's search index trails merges by seconds to minutes: a PR merged just before the run may
    # not be found yet, so the period ends this long before the run and the next night covers it.
    default_settle = dt.timedelta(minutes=10)
    params_schema = params_schema()
    secret_params = ("token",)
    permissions = (
        "classic token: repo (read), read:org",
        "fine-grained / GitHub App: Metadata, Contents, Pull requests, Commit statuses, Checks: read",
    )
    default_lookback = dt.timedelta(days=90)

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gh, gaps, period = client(ctx), Gaps(), ctx.period
        org = ctx.params["org"]
        try:
            nodes, windows = merged_pull_requests(ctx, gh, gaps, period)
            repos: dict[str, dict[str, Any]] = {}
            items: list[dict[str, Any]] = []  # direct commits here; merged pull requests join below
            for repo, commits in default_branch_commits(ctx, gh, gaps, period):
                branch = (repo.get("defaultBranchRef") or {}).get("name")
                repos[repo["name"]] = {
                    "name": repo["name"],
                    "default_branch": branch,
                    "archived": repo["isArchived"],
                }
                for node in commits:
                    moment = parse_time(node.get("committedDate"))
                    if moment and period.contains(moment) and not in_merged_pull_request(node):
                        commit = commit_record(repo["name"], branch or "", node)
                        ident = f"{org}/{repo['name']}@{commit['sha']}"
                        items.append(as_item("direct_commit", ident, moment, commit))
        finally:
            gh.close()
        other_base = 0
        for node in nodes:
            record = change_record(node)
            target = repos.get(record["repository"])
            merged = parse_time(record["merged_at"])
            if target is None or merged is None or not period.contains(merged):
                continue
            if record["base_ref"] != target["default_branch"]:
                other_base += 1
                continue
            ident = f"{org}/{record['repository']}#{record['number']}"
            items.append(as_item("pull_request", ident, merged, record))
        items.sort(key=lambda i: (i["at"], i["id"]))
        findings: list[Finding] = []
        for item in items:
            if item["type"] == "pull_request":
                findings += change_findings(item)
            else:
                findings.append(direct_commit_finding(item))
        document = {
            "organization": ctx.params["org"],
            "source": str(ctx.params.get("base_url")),
            "period": period.to_dict(),
            "repositories": sorted(repos.values(), key=lambda r: r["name"]),
            "items": items,
            "merged_into_other_branches": other_base,
            "search_windows": windows,
            "gaps": gaps.items,
            "limits": [
                "direct commits are placed in the period by commit date (Git does not record push time)",
                "required checks are those the base branch requires when collected (classic protection "
                "and active rulesets), which may differ from those in force when a change merged",
                "reviews and check contexts beyond the first 50 of a change are not read (flagged "
                "`reviews_truncated` / `checks_truncated`), so its findings may miss them",
            ],
        }
        changes = sum(1 for i in items if i["type"] == "pull_request")
        summary = {"changes": changes, "direct_commits": len(items) - changes, "repositories": len(repos)}
        summary["gaps"] = len(gaps.items)
        yield Artefact.json("changes", document, source=source_of(ctx), findings=findings, summary=summary)
