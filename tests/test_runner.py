"""The runner: isolation, time-outs, exit codes, schedules, cursors, hooks, and secrets."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import time
import types
from pathlib import Path
from typing import Any

import pytest
from support import TEST_PLUGIN, make_host, write_config

from evidentia import hookimpl
from evidentia.config import load_config
from evidentia.plugin_manager import PluginInfo, build_plugin_host
from evidentia.runner import Runner, RunSummary
from evidentia.store.verify import verify_store


def run(cfg: Path, host: Any = None, env: dict[str, str] | None = None, **kwargs: Any) -> RunSummary:
    host = host or make_host()
    return Runner(load_config(cfg, host, env=env or {}), host, **kwargs).run()


def by_id(summary: RunSummary) -> dict[str, Any]:
    return {r.id: r for r in summary.instances}


def ledger(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]


def test_failing_and_hanging_collectors_do_not_stop_the_others(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        concurrency: 2
        collectors:
          - {id: hang, plugin: test.hang, timeout: 1s}
          - {id: fail, plugin: test.fail}
          - {id: echo, plugin: test.echo, params: {count: 3}}
    """,
    )
    started = time.monotonic()
    summary = run(cfg)
    elapsed = time.monotonic() - started
    results = by_id(summary)
    assert results["hang"].status == "timeout" and "time-out of 1 s" in results["hang"].reason
    assert results["fail"].status == "failed"
    assert results["fail"].reason == "ConnectionError: source unreachable: connection refused"
    assert results["echo"].status == "ok" and results["echo"].artefacts == 3
    assert summary.exit_code == 1
    assert elapsed < 10, "the run must not wait for the hung collector"
    assert verify_store(tmp_path / "evidence").ok
    run_record = [e for e in ledger(tmp_path / "evidence") if e["type"] == "run"][-1]
    assert {i["id"]: i["status"] for i in run_record["instances"]} == {
        "hang": "timeout",
        "fail": "failed",
        "echo": "ok",
    }


def test_all_ok_exits_zero_and_counts_requests_findings(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo, params: {count: 4}}\n")
    summary = run(cfg)
    echo = by_id(summary)["echo"]
    assert summary.exit_code == 0
    assert (echo.artefacts, echo.requests, echo.findings) == (4, 4, 2)


def test_schedule_skips_until_due_and_force_overrides(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo, schedule: daily}\n")
    assert by_id(run(cfg))["echo"].status == "ok"
    second = by_id(run(cfg))["echo"]
    assert second.status == "skipped" and second.reason.startswith("not due until ")
    forced = by_id(run(cfg, force=True))["echo"]
    assert forced.status == "ok" and forced.unchanged == 1 and forced.artefacts == 0


def test_event_periods_chain_without_gap_or_overlap(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "collectors:\n  - {id: ev, plugin: test.events, lookback: 30d}\n")
    for _ in range(3):
        assert run(cfg, force=True).exit_code == 0
    periods = [e["period"] for e in ledger(tmp_path / "evidence") if e["type"] == "artefact"]
    assert len(periods) == 3
    for before, after in itertools.pairwise(periods):
        assert after["start"] == before["end"]
    content = json.loads(
        (
            tmp_path
            / "evidence"
            / [e for e in ledger(tmp_path / "evidence") if e["type"] == "artefact"][-1]["paths"][0]
        ).read_text()
    )
    assert content["period"] == periods[-1]


def test_settle_ends_event_periods_before_the_run_and_still_chains(tmp_path: Path) -> None:
    """Late-indexed events stay inside a period some run has yet to cover; snapshots are not delayed."""
    cfg = write_config(
        tmp_path,
        "collectors:\n"
        "  - {id: ev, plugin: test.events, lookback: 1d, settle: 15m}\n"
        "  - {id: snap, plugin: test.echo, settle: 15m}\n",
    )
    summaries = [run(cfg, force=True) for _ in range(2)]
    assert [s.exit_code for s in summaries] == [0, 0]
    entries = [e for e in ledger(tmp_path / "evidence") if e["type"] == "artefact"]
    periods = [e["period"] for e in entries if e["instance"] == "ev"]
    starts = [s.started_at for s in summaries]
    for period, started in zip(periods, starts, strict=True):
        end = dt.datetime.fromisoformat(period["end"].replace("Z", "+00:00"))
        begun = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
        assert begun - end == dt.timedelta(minutes=15)
    assert periods[1]["start"] == periods[0]["end"]
    assert periods[0]["start"] < periods[0]["end"]
    snapshots = [e["instant"] for e in entries if e["instance"] == "snap"]
    assert snapshots == starts[:1]  # the second, identical snapshot is recorded as unchanged


def test_failed_event_run_files_nothing_and_is_covered_again(tmp_path: Path) -> None:
    good = write_config(tmp_path, "collectors:\n  - {id: ev, plugin: test.events}\n")
    bad = write_config(
        tmp_path, "collectors:\n  - {id: ev, plugin: test.events, params: {fail: true}}\n", name="bad.yaml"
    )
    run(good)
    failed = by_id(run(bad, force=True))["ev"]
    assert failed.status == "failed" and failed.discarded == 1 and failed.artefacts == 0
    run(good, force=True)
    periods = [e["period"] for e in ledger(tmp_path / "evidence") if e["type"] == "artefact"]
    assert len(periods) == 2 and periods[1]["start"] == periods[0]["end"]


def test_secrets_never_reach_evidence_metadata_ledger_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "ghp_" + "Z" * 36
    cfg = write_config(tmp_path, "collectors:\n  - {id: sec, plugin: test.secret, params: {token: '${T}'}}\n")
    from evidentia.scrub import Scrubber, ScrubbingFilter

    config = load_config(cfg, make_host(), env={"T": token})
    caplog.handler.addFilter(ScrubbingFilter(Scrubber(config.instances[0].secrets)))
    with caplog.at_level(logging.WARNING):
        summary = Runner(config, make_host()).run()
    result = by_id(summary)["sec"]
    assert result.status == "failed" and "[REDACTED]" in result.reason and token not in result.reason
    assert result.redactions >= 2
    store_bytes = b"".join(p.read_bytes() for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert token.encode() not in store_bytes and b"ZZZZZZZZZZZZ" not in store_bytes
    assert b"[secret from environment]" in store_bytes
    assert token not in caplog.text and "[REDACTED]" in caplog.text


def test_hooks_see_every_filing_and_the_run_summary(tmp_path: Path) -> None:
    seen: dict[str, list[Any]] = {"filed": [], "runs": []}
    listener = types.ModuleType("listener")

    @hookimpl
    def evidentia_artefact_filed(filing: Any) -> None:
        seen["filed"].append((filing.name, filing.unchanged, filing.paths))

    @hookimpl
    def evidentia_run_finished(summary: Any) -> None:
        seen["runs"].append(summary.exit_code)

    listener.evidentia_artefact_filed = evidentia_artefact_filed  # type: ignore[attr-defined]
    listener.evidentia_run_finished = evidentia_run_finished  # type: ignore[attr-defined]
    import collectors_for_tests

    host = build_plugin_host(
        entry_points=False,
        extra=[(collectors_for_tests, TEST_PLUGIN), (listener, PluginInfo("listener", "listener", "l", "0"))],
    )
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo, params: {count: 2}}\n")
    run(cfg, host=host)
    run(cfg, host=host, force=True)
    assert [(n, u) for n, u, _ in seen["filed"]] == [
        ("item-0", False),
        ("item-1", False),
        ("item-0", True),
        ("item-1", True),
    ]
    assert all(len(paths) == 2 for _, _, paths in seen["filed"])
    assert seen["runs"] == [0, 0]


def test_a_raising_hook_is_logged_and_does_not_fail_the_run(tmp_path: Path) -> None:
    broken = types.ModuleType("broken_notifier")

    @hookimpl
    def evidentia_run_finished(summary: Any) -> None:
        raise RuntimeError("slack is down")

    broken.evidentia_run_finished = evidentia_run_finished  # type: ignore[attr-defined]
    import collectors_for_tests

    host = build_plugin_host(
        entry_points=False,
        extra=[(collectors_for_tests, TEST_PLUGIN), (broken, PluginInfo("b", "b", "b", "0"))],
    )
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo}\n")
    assert run(cfg, host=host).exit_code == 0


def test_only_runs_the_named_instances(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - {id: a, plugin: test.echo}
          - {id: b, plugin: test.fail}
    """,
    )
    summary = run(cfg, only=["a"])
    assert [r.id for r in summary.instances] == ["a"] and summary.exit_code == 0


def test_durations_are_reported_in_config_spelling() -> None:
    import datetime as dt

    from evidentia.durations import format_duration, parse_duration

    for text in ("1w", "1d", "12h", "90m", "45s", "7d"):
        assert format_duration(parse_duration(text)) == ("1w" if text == "7d" else text)
    assert format_duration(dt.timedelta(days=1, seconds=1)) == "86401s"
