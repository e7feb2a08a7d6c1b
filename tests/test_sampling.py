"""SOC 2 Type II samples drawn from real event populations (local.git over a real repository)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import collectors_for_tests
import pytest
from support import cli_env, provenance, run_cli

from evidentia.catalog import load_builtin
from evidentia.collector import Artefact, Period, utc_iso
from evidentia.plugins.local.git import GitCollector
from evidentia.sampling import (
    FREQUENCIES,
    REDRAW,
    SampleRequest,
    SamplingError,
    extract_items,
    make_window,
    read_population,
    take_sample,
)
from evidentia.store.local import LocalStore
from evidentia.store.records import Provenance, file_artefact, file_catalog_if_changed, file_run_record
from evidentia.store.verify import verify_store
from evidentia.testing import run_collector

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)
# commits at these moments (days and hours after START); a few sit exactly on window boundaries
COMMIT_TIMES = [START + dt.timedelta(days=d, hours=h) for d in range(0, 60, 2) for h in (9, 15)]
BOUNDARY = START + 10 * DAY  # a commit lands exactly here: inside a window that starts here


def git(repo: Path, *args: str, when: dt.datetime | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(path: Path, times: Iterable[dt.datetime]) -> dict[str, dt.datetime]:
    """A repository with one empty commit per time; returns sha -> committer time."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "user.email", "dev@example.com")
    shas = {}
    for i, when in enumerate(sorted(times)):
        git(path, "commit", "-q", "--allow-empty", "-m", f"change {i}", when=when)
        shas[git(path, "rev-parse", "HEAD").strip()] = when
    return shas


def prov(instance: str, collector: str, kind: str, period: Period, run: str) -> Provenance:
    return provenance(period.end, instance=instance, collector=collector, kind=kind, period=period, run=run)


def file_run(
    root: Path, instance: str, collector: str, artefacts: Sequence[Artefact], period: Period
) -> None:
    """What the runner does for one successful run: the artefacts, then the run record."""
    catalog = load_builtin()
    run = f"run-{period.start:%Y%m%d%H}"
    with LocalStore(root) as store:
        file_catalog_if_changed(store, catalog, period.end)
        for artefact in artefacts:
            kind = "events" if collector in ("local.git", "test.events") else "snapshot"
            file_artefact(
                store, catalog, artefact, ["P2", "P8", "P11"], prov(instance, collector, kind, period, run)
            )
        summary = {
            "run_id": run,
            "instances": [
                {
                    "id": instance,
                    "collector": collector,
                    "kind": "events",
                    "status": "ok",
                    "period": period.to_dict(),
                }
            ],
        }
        file_run_record(store, summary, run, period.end)


def collect_git(root: Path, repo: Path, periods: Iterable[Period], instance: str = "changes") -> None:
    for period in periods:
        [artefact] = run_collector(GitCollector, {"repo": str(repo)}, period=period)
        file_run(root, instance, "local.git", [artefact], period)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dt.datetime]]:
    path = tmp_path_factory.mktemp("git") / "repo"
    return path, make_repo(path, [*COMMIT_TIMES, BOUNDARY])


@pytest.fixture
def store(tmp_path: Path, repo: tuple[Path, dict[str, dt.datetime]]) -> Path:
    """Weekly runs of local.git over the first 8 weeks, with week 4 missing (a failed night)."""
    root = tmp_path / "ev"
    weeks = [Period(START + 7 * i * DAY, START + 7 * (i + 1) * DAY) for i in range(8) if i != 3]
    collect_git(root, repo[0], weeks)
    return root


def expected(shas: dict[str, dt.datetime], window: Period, holes: Sequence[Period] = ()) -> set[str]:
    return {
        sha
        for sha, when in shas.items()
        if window.contains(when) and not any(h.contains(when) for h in holes)
    }


def all_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".evidentia" not in p.parts
    }


# -- the population ---------------------------------------------------------------------------------


def test_population_is_exactly_the_items_in_the_window(
    store: Path, repo: tuple[Path, dict[str, dt.datetime]]
) -> None:
    window = Period(BOUNDARY, START + 40 * DAY)
    population = read_population(store, "changes", window)
    hole = Period(START + 21 * DAY, START + 28 * DAY)
    want = expected(repo[1], window, [hole])
    assert {item.id for item in population.items} == want
    assert len(population.items) == len(want)
    assert BOUNDARY in {item.at for item in population.items}  # the start is inside, [start, end)
    assert population.holes == (hole,)
    assert [p.to_dict() for p in population.covered] == [
        Period(BOUNDARY, hole.start).to_dict(),
        Period(hole.end, START + 40 * DAY).to_dict(),
    ]
    assert all(a.sha256 and a.path for a in population.artefacts)
    assert population.principles == ("P2", "P8", "P11")


def test_window_end_is_excluded_and_a_date_is_utc_midnight(store: Path) -> None:
    window = make_window("2026-01-11", "2026-01-12")  # the BOUNDARY day only, 00:00 to 24:00
    assert window == Period(BOUNDARY, BOUNDARY + DAY)
    assert [i.at for i in read_population(store, "changes", window).items] == [
        BOUNDARY,
        BOUNDARY + dt.timedelta(hours=9),
        BOUNDARY + dt.timedelta(hours=15),
    ]
    before = Period(BOUNDARY - DAY, BOUNDARY)  # ends where the boundary commit lands: excluded
    assert BOUNDARY not in {i.at for i in read_population(store, "changes", before).items}


def test_the_window_reads_like_the_audit_packs() -> None:
    """`sample` and `export` given the same --from/--to mean the same window."""
    from evidentia.export import parse_when

    for start, end in [("2026-01-01", "2026-04-01"), ("2026-01-01T06:00:00+02:00", "2026-02-01T00:00:00Z")]:
        assert make_window(start, end) == Period(parse_when(start, "--from"), parse_when(end, "--to"))
    with pytest.raises(SamplingError, match=r"--to '2026-04-01T00:00:00' has no time zone"):
        make_window("2026-01-01", "2026-04-01T00:00:00")
    with pytest.raises(SamplingError, match=r"the window \[2026-04-01, 2026-04-01\) is empty"):
        make_window("2026-04-01", "2026-04-01")


def test_an_item_collected_twice_counts_once(
    tmp_path: Path, repo: tuple[Path, dict[str, dt.datetime]]
) -> None:
    root = tmp_path / "ev"
    collect_git(root, repo[0], [Period(START, START + 10 * DAY), Period(START + 5 * DAY, START + 12 * DAY)])
    window = Period(START, START + 12 * DAY)
    population = read_population(root, "changes", window)
    assert {i.id for i in population.items} == expected(repo[1], window)
    overlap = expected(repo[1], Period(START + 5 * DAY, START + 10 * DAY))
    assert set(population.duplicates) == overlap and overlap


# -- the draw ------------------------------------------------------------------------------------------


def sample(root: Path, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    window = kwargs.pop("window", Period(START, START + 56 * DAY))
    return take_sample(root, SampleRequest("changes", window, **kwargs))


def picked(document: dict[str, Any]) -> list[str]:
    return [item["id"] for item in document["sample"]]


def test_same_seed_draws_the_same_sample_and_another_seed_another(store: Path) -> None:
    first, _ = sample(store, size=8, seed="audit-2026")
    again, _ = sample(store, size=8, seed="audit-2026")
    other, _ = sample(store, size=8, seed="audit-2027")
    assert len(picked(first)) == 8
    assert picked(first) == picked(again)
    assert picked(first) != picked(other)
    assert set(picked(first)) <= {i["id"] for i in first["population"]["items"]}


def test_an_independent_implementation_redraws_the_sample(store: Path) -> None:
    document, _ = sample(store, size=10, seed="s3")
    ids = [i["id"] for i in document["population"]["items"]]
    ranks = sorted((hashlib.sha256(f"s3:{i}".encode()).hexdigest(), i) for i in ids)
    assert picked(document) == [i for _, i in ranks[:10]]


README = Path(__file__).resolve().parents[1] / "README.md"
TRICKY_IDS = ["CHG 1", "é-2", "-n", "a\\b", "%s", "--", "x" * 300, *(f"T-{i}" for i in range(40))]


def readme_recipe() -> str:
    """The re-draw recipe exactly as README.md shows it to auditors."""
    blocks = README.read_text(encoding="utf-8").split("```sh\n")
    [block] = [b.split("```")[0] for b in blocks if "sample re-drawn" in b]
    return "".join(line.removeprefix("  ") + "\n" for line in block.splitlines() if line.strip())


def run_recipe(folder: Path, sample_file: str) -> subprocess.CompletedProcess[str]:
    if not all(shutil.which(tool) for tool in ("bash", "jq", "sha256sum", "sort", "diff")):
        pytest.skip("bash, jq, sha256sum, sort and diff are needed for the stock-tools recipe")
    recipe = readme_recipe().replace("SAMPLE.json", f"'{sample_file}'")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no LC_ALL inherited: the recipe sets its own
    return subprocess.run(["bash", "-c", recipe], cwd=folder, capture_output=True, text=True, env=env)


def test_the_readme_recipe_is_the_one_filed_with_each_sample() -> None:
    assert readme_recipe() == REDRAW


def test_the_stock_tools_recipe_redraws_a_filed_sample(tmp_path: Path) -> None:
    """Run verbatim from README.md, with ids and a seed that trip naive shell (spaces, -n, %s, é)."""
    root = tmp_path / "ev"
    period = Period(START, START + DAY)
    items = [
        {"id": ident, "at": utc_iso(START + i * dt.timedelta(minutes=1))}
        for i, ident in enumerate(TRICKY_IDS)
    ]
    file_run(root, "tickets", "test.events", [Artefact.json("tickets", {"items": items})], period)
    seed = "q3 audit é %d"
    document, entry = take_sample(root, SampleRequest("tickets", period, size=12, seed=seed))
    done = run_recipe(root, entry["paths"][0])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "sample re-drawn: identical\n"
    ranked = sorted(TRICKY_IDS, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    assert picked(document) == ranked[:12]  # and an independent ranking agrees

    forged = json.loads((root / entry["paths"][0]).read_bytes())
    forged["sample"][0]["id"] = ranked[12]  # an auditee swapping one item for a friendlier one
    (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    caught = run_recipe(tmp_path, "forged.json")
    assert caught.returncode != 0 and "identical" not in caught.stdout
    assert ranked[0] in caught.stdout and ranked[12] in caught.stdout  # diff names both


def test_the_recipe_redraws_a_sample_of_a_real_git_population(store: Path) -> None:
    _, entry = sample(store, size=7, seed="q3 audit")
    done = run_recipe(store, entry["paths"][0])
    assert done.returncode == 0 and done.stdout == "sample re-drawn: identical\n", done.stderr


def test_the_sample_is_filed_as_new_evidence_and_the_store_verifies(store: Path) -> None:
    before, ledger = all_files(store), (store / "ledger.jsonl").read_bytes()
    document, entry = sample(store, size=5, seed="x")
    after = all_files(store)
    assert {k: after[k] for k in before if k != "ledger.jsonl"} == {
        k: v for k, v in before.items() if k != "ledger.jsonl"
    }  # nothing filed earlier was touched
    assert (store / "ledger.jsonl").read_bytes().startswith(ledger)  # the ledger was only appended to
    [sample_path, *_] = entry["paths"]
    assert sample_path.startswith("P02-") and "/changes/" in sample_path
    assert json.loads((store / sample_path).read_bytes()) == document
    meta = json.loads((store / entry["meta_path"]).read_bytes())
    assert meta["provenance"]["collector"] == {"name": "evidentia.sample", "version": "1"}
    assert meta["provenance"]["params"]["seed"] == "x"
    assert meta["provenance"]["params"]["population"] == "changes"
    assert len(meta["provenance"]["calls"]) == len(document["population"]["artefacts"])
    assert meta["principles"] == ["P2", "P8", "P11"]
    result = verify_store(store)
    assert result.ok, result.discrepancies


def test_the_sample_records_what_an_auditor_needs(store: Path) -> None:
    document, _ = sample(store, size=3)
    population, method = document["population"], document["method"]
    assert method["name"] == "sha256-rank" and method["seed_source"] == "generated" and method["seed"]
    assert population["size"] == len(population["items"])
    listed = {a["seq"] for a in population["artefacts"]}
    assert listed == {i["artefact"] for i in population["items"]}
    assert population["coverage"]["holes"] == [Period(START + 21 * DAY, START + 28 * DAY).to_dict()]
    redrawn, _ = sample(store, size=3, seed=method["seed"])  # the recorded seed re-draws it
    assert picked(redrawn) == picked(document)


def test_a_sample_never_makes_its_principles_fresh(
    tmp_path: Path, repo: tuple[Path, dict[str, dt.datetime]]
) -> None:
    """Judged at the very moment each draw was filed (the newest filing, as OSCAL judges), it is stale."""
    from evidentia.report.coverage import build_coverage

    root = tmp_path / "ev"
    window = Period(START, START + 14 * DAY)
    collect_git(root, repo[0], [window])
    statuses = []
    for _ in range(2):  # the second, identical draw is recorded as unchanged: observed again
        _, entry = sample(root, size=3, seed="f", window=window)
        assert entry["stale_after_seconds"] == 0
        filed = dt.datetime.fromisoformat(entry["recorded_at"].replace("Z", "+00:00"))
        coverage = build_coverage(root, filed)
        statuses.append({p.id: p.status for p in coverage.principles})
        [sampled] = [a for a in coverage.artefacts if a.collector == "evidentia.sample"]
        assert sampled.status == "stale" and sampled.principles == ("P2", "P8", "P11")
    assert statuses[0] == statuses[1]
    assert {statuses[0][p] for p in ("P2", "P8", "P11")} == {"stale"}


def test_generated_seeds_differ(store: Path) -> None:
    seeds = {sample(store, size=2)[0]["method"]["seed"] for _ in range(3)}
    assert len(seeds) == 3


# -- sample size guidance ----------------------------------------------------------------------------


def test_size_follows_the_guidance_table_when_not_given(store: Path) -> None:
    weekly, _ = sample(store, frequency="weekly", seed="g")
    assert len(weekly["sample"]) == 15 and weekly["guidance"]["recommended"] == {"min": 5, "max": 15}
    daily, _ = sample(store, frequency="daily", seed="g")
    assert len(daily["sample"]) == 40 and daily["guidance"]["size_source"].startswith("the guidance's upper")
    many, _ = sample(store, frequency="many-times-a-day", seed="g")
    total = many["population"]["size"]
    assert 40 < total < 60 and len(many["sample"]) == total  # a population under the table is tested whole
    assert [row["frequency"] for row in many["guidance"]["table"]] == list(FREQUENCIES)
    assert picked(weekly) == picked(daily)[:15]  # one ranking: a larger sample extends a smaller one


def test_the_cli_offers_exactly_the_guidance_frequencies() -> None:
    from evidentia.cli import sample as command

    [option] = [o for o in command.params if o.name == "frequency"]
    assert tuple(option.type.choices) == FREQUENCIES  # type: ignore[attr-defined]


def test_frequency_is_inferred_from_the_population(store: Path) -> None:
    document, _ = sample(store, seed="g")  # ~1 commit a day over the covered weeks
    assert document["guidance"]["frequency"] == "daily"
    assert document["guidance"]["frequency_source"].startswith("inferred")


def test_a_size_larger_than_the_population_takes_it_all(store: Path) -> None:
    document, _ = sample(store, size=10_000, seed="g")
    assert len(document["sample"]) == document["population"]["size"]


# -- items: the convention and the collectors that predate it ----------------------------------------


def test_the_items_convention_and_the_fallback_keys() -> None:
    assert extract_items({"items": [{"id": "SEC-1", "at": "2026-01-02T03:04:05Z"}]}, "x") == [
        ("SEC-1", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    ]
    cloudtrail = {
        "trails": [{"Name": "t"}],
        "events": [{"EventId": "e-1", "EventTime": "2026-01-02T00:00:00Z"}],
    }
    assert extract_items(cloudtrail, "x") == [("e-1", dt.datetime(2026, 1, 2, tzinfo=UTC))]
    assert extract_items([{"id": 7}], "x") == [("7", None)]


def test_items_without_a_time_are_placed_by_their_artefacts_period(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    early, late = Period(START, START + 2 * DAY), Period(START + 2 * DAY, START + 4 * DAY)
    noon = utc_iso(START + 2.5 * DAY)
    file_run(
        root, "tickets", "test.events", [Artefact.json("t", {"items": [{"id": "T-1"}, {"id": "T-2"}]})], early
    )
    file_run(
        root,
        "tickets",
        "test.events",
        [Artefact.json("t", {"items": [{"id": "T-3"}, {"id": "T-4", "at": noon}]})],
        late,
    )
    population = read_population(root, "tickets", Period(START, START + 3 * DAY))
    assert [i.id for i in population.items] == ["T-1", "T-2", "T-4"]  # T-3's artefact is only partly inside
    assert population.unplaced == 1
    args = ("sample", "--store", str(root), "--population", "tickets", "--from", "2026-01-01")
    done = run_cli(*args, "--to", "2026-01-04", "--seed", "u", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: 1 item(s) without a time" in done.stderr
    assert sorted(line.split("\t")[0] for line in done.stdout.splitlines()) == ["T-1", "T-2", "T-4"]


def test_items_without_an_id_or_a_list_are_clear_errors() -> None:
    with pytest.raises(SamplingError, match=r"inst: a\.json: item 1 has no id"):
        extract_items({"items": [{"id": "a"}, {"name": "b"}]}, "inst: a.json")
    with pytest.raises(SamplingError, match=r"inst: a\.json: cannot find the population's items"):
        extract_items({"period": {}}, "inst: a.json")
    with pytest.raises(SamplingError, match=r"item ids are not unique \(5 appear"):
        extract_items({"items": [{"id": 5, "repo": "a"}, {"id": 5, "repo": "b"}]}, "inst: a.json")
    with pytest.raises(SamplingError, match=r"inst: a\.json: item 0 has an id with a line break"):
        extract_items({"items": [{"id": "CHG-1\nCHG-2"}]}, "inst: a.json")


@pytest.mark.parametrize("seed", ["", " lead", "trail ", "two\nlines", "tab\there", "x" * 201])
def test_a_seed_the_stock_tools_cannot_reproduce_is_refused(store: Path, seed: str) -> None:
    before = (store / "ledger.jsonl").read_bytes()
    with pytest.raises(SamplingError, match="cannot be re-drawn with stock tools"):
        sample(store, size=3, seed=seed)
    assert (store / "ledger.jsonl").read_bytes() == before  # nothing filed


def test_an_events_artefact_without_items_names_the_instance(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    period = Period(START, START + DAY)
    artefacts = run_collector(collectors_for_tests.Events, {}, period=period)
    file_run(root, "odd-events", "test.events", artefacts, period)
    with pytest.raises(SamplingError, match=r"odd-events: P02-.*cannot find the population's items"):
        read_population(root, "odd-events", period)


# -- errors ------------------------------------------------------------------------------------------


def test_unknown_instance_is_refused_naming_the_known_ones(store: Path) -> None:
    with pytest.raises(SamplingError, match="unknown instance 'nope'") as caught:
        sample_of(store, "nope")
    assert "changes" in str(caught.value)


def test_snapshot_instance_is_refused(store: Path) -> None:
    file_run(
        store,
        "inventory",
        "local.ai_inventory",
        [Artefact.json("inventory", {"models": []})],
        Period(START, START + DAY),
    )
    with pytest.raises(SamplingError, match=r"'inventory' \(local\.ai_inventory\) files snapshots"):
        sample_of(store, "inventory")


def test_a_window_without_evidence_is_refused(store: Path) -> None:
    with pytest.raises(SamplingError, match=r"'changes' has no evidence in the window") as caught:
        take_sample(store, SampleRequest("changes", Period(START - 30 * DAY, START)))
    assert "its events cover [2026-01-01T00:00:00Z, 2026-01-22T00:00:00Z)" in str(caught.value)


def test_a_covered_window_with_no_items_is_refused(store: Path) -> None:
    quiet = Period(START + dt.timedelta(hours=16), START + dt.timedelta(hours=20))  # between commits
    with pytest.raises(SamplingError, match=r"'changes' has no items in the window"):
        take_sample(store, SampleRequest("changes", quiet))


def test_an_altered_population_artefact_is_refused(store: Path) -> None:
    entry = next(
        json.loads(line) for line in (store / "ledger.jsonl").read_text().splitlines() if '"artefact"' in line
    )
    path = store / entry["paths"][0]
    path.write_bytes(path.read_bytes().replace(b'"change', b'"chAnge'))
    with pytest.raises(SamplingError, match="does not match its ledger SHA-256"):
        sample_of(store, "changes")


def sample_of(root: Path, instance: str) -> None:
    take_sample(root, SampleRequest(instance, Period(START, START + 56 * DAY), size=3, seed="e"))


# -- the command ---------------------------------------------------------------------------------------


def test_cli_sample_prints_the_selection_and_files_it(store: Path, tmp_path: Path) -> None:
    args = (
        "sample",
        "--store",
        str(store),
        "--population",
        "changes",
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-25",
    )
    done = run_cli(*args, "--size", "4", "--seed", "cli", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["sample"]) == 4 and out["method"]["seed"] == "cli"
    assert (store / out["filed"]["paths"][0]).is_file()
    text = run_cli(*args, "--size", "4", "--seed", "cli", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert [line.split("\t")[0] for line in text.stdout.splitlines()] == picked(out)
    assert "no evidence covers [2026-01-22T00:00:00Z, 2026-01-29T00:00:00Z)" in text.stderr
    assert "already filed" in text.stderr  # same seed, same population: the same bytes, not stored twice
    bad = run_cli(*args[:4], "nope", *args[5:], cwd=tmp_path)
    assert bad.returncode == 2 and "unknown instance 'nope'" in bad.stderr
    wrong = run_cli(*args[:6], "2026-13-01", *args[7:], cwd=tmp_path)
    assert wrong.returncode == 2 and "--from '2026-13-01' is not a date" in wrong.stderr
    naive = run_cli(*args[:8], "2026-02-25T00:00:00", cwd=tmp_path)
    assert naive.returncode == 2 and "--to '2026-02-25T00:00:00' has no time zone" in naive.stderr
    empty = run_cli(*args[:8], "2026-01-01", cwd=tmp_path)
    assert empty.returncode == 2 and "is empty: --to must come after --from" in empty.stderr
    seed = run_cli(*args, "--seed", "two\nlines", cwd=tmp_path)
    assert seed.returncode == 2 and "cannot be re-drawn with stock tools" in seed.stderr
    quiet = run_cli(*args[:6], "2025-01-01", "--to", "2025-02-01", cwd=tmp_path)
    assert quiet.returncode == 2 and "has no evidence in the window" in quiet.stderr


def test_a_sample_made_with_a_signing_key_leaves_no_unsigned_tail(store: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = run_cli("keygen", "--out", str(keys), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = cli_env(EVIDENTIA_SIGNING_KEY=str(keys / "evidentia-signing.key"))
    args = ("sample", "--store", str(store), "--population", "changes", "--from", "2026-01-01")
    done = run_cli(*args, "--to", "2026-02-25", "--seed", "signed", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    checked = run_cli(
        "verify", str(store), "--public-key", str(keys / "evidentia-signing.pub"), "--json", cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    signature = json.loads(checked.stdout)["signature"]
    assert signature["state"] == "valid"
    assert signature["signed_seq"] == signature["ledger_seq"]  # the sample's own line is covered
