"""The offline collectors against real files and a real git repository built here (no mocks)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import struct
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from evidentia import Artefact, CollectContext, Collector, Finding, Period
from evidentia.catalog import load_builtin
from evidentia.plugins import local
from evidentia.plugins.local._fs import Excluder, glob_regex, split_glob
from evidentia.plugins.local.ai_inventory import AiInventoryCollector, classify
from evidentia.plugins.local.files import FilesCollector
from evidentia.plugins.local.git import GitCollector
from evidentia.plugins.local.vendors import VendorsCollector

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 10, tzinfo=UTC)
END = START + dt.timedelta(days=10)
DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-ai-system"


def params(cls: type[Collector], **given: Any) -> dict[str, Any]:
    """What the host hands a collector: given params, checked by its schema, defaults filled."""
    Draft202012Validator(cls.params_schema).validate(given)
    defaults = {k: v["default"] for k, v in cls.params_schema["properties"].items() if "default" in v}
    return {**defaults, **given}


def context(
    cls: type[Collector],
    base: Path,
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
    **given: Any,
) -> CollectContext:
    return CollectContext(
        instance_id="t",
        params=params(cls, **given),
        period=Period(start, end),
        logger=logging.getLogger("t"),
        is_first_run=True,
        base_dir=base,
    )


def collect(cls: type[Collector], base: Path, **kw: Any) -> tuple[dict[str, Artefact], CollectContext]:
    ctx = context(cls, base, **kw)
    return {a.name: a for a in cls().collect(ctx)}, ctx


def data(artefact: Artefact) -> Any:
    return json.loads(artefact.content)


def codes(findings: tuple[Finding, ...], code: str) -> dict[str | None, Finding]:
    return {f.subject: f for f in findings if f.code == code}


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


# -- registration and schemas --------------------------------------------------------------------


def test_plugin_registers_four_valid_collectors() -> None:
    found: list[type[Collector]] = []
    local.evidentia_register_collectors(register=found.append)
    catalog = load_builtin()
    assert [c.name for c in found] == [
        "local.git",
        "local.files",
        "local.ai_inventory",
        "local.vendors",
    ]
    for cls in found:
        Draft202012Validator.check_schema(cls.params_schema)
        assert cls.params_schema["additionalProperties"] is False
        assert all(p in catalog.principles for p in cls.principles)
        assert cls.kind == ("events" if cls.name == "local.git" else "snapshot")
        with pytest.raises(Exception, match="Additional properties"):
            Draft202012Validator(cls.params_schema).validate({"documents": [], "nope": 1})


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/__pycache__/**", "__pycache__/a.md", True),
        ("**/__pycache__/**", "a/b/__pycache__/c.md", True),
        ("*.md", "a/b.md", False),
        ("docs/**/*.md", "docs/x.md", True),
        ("docs/**/*.md", "docs/a/b/x.md", True),
        ("file[0-9].txt", "file7.txt", True),
        ("file[!0-9].txt", "file7.txt", False),
    ],
)
def test_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_split_glob_and_folder_pruning() -> None:
    assert split_glob("docs/policies/**/*.md") == ("docs/policies", "**/*.md")
    assert split_glob("*.md") == (".", "*.md")
    assert split_glob("/abs/x/*.md") == ("/abs/x", "*.md")
    excluder = Excluder([".git/**", "**/__pycache__/**"])
    assert excluder.folder(".git") and excluder.folder("pkg/__pycache__")
    assert not excluder.folder("docs")


# -- local.git -----------------------------------------------------------------------------------


def git(repo: Path, *args: str, when: dt.datetime | None = None, authored: dt.datetime | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if when is not None:
        env["GIT_COMMITTER_DATE"] = f"@{int(when.timestamp())} +0000"
        env["GIT_AUTHOR_DATE"] = f"@{int((authored or when).timestamp())} +0000"
    cmd = ["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit(repo: Path, message: str, when: dt.datetime, file: str, **kw: Any) -> str:
    write(repo / file, f"{message}\n{when.isoformat()}\n")
    git(repo, "add", file)
    git(repo, "commit", "-q", "-m", message, when=when, **kw)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def local_git_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main: before start, at start (direct), reviewed, a merged feature, squash, at/after end."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    day = dt.timedelta(days=1)
    shas = {"before": commit(repo, "initial", START - dt.timedelta(seconds=1), "a.txt")}
    shas["at_start"] = commit(repo, "direct change", START, "a.txt")
    shas["reviewed"] = commit(
        repo, "reviewed change\n\nReviewed-by: Ana <ana@example.com>", START + day, "b.txt"
    )
    git(repo, "checkout", "-q", "-b", "feature")
    shas["feature"] = commit(repo, "feature work", START + 2 * day, "f.txt")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "Merge pull request #7 from feature",
        when=START + 3 * day,
    )
    shas["merge"] = git(repo, "rev-parse", "HEAD")
    shas["squash"] = commit(
        repo, "squashed feature (#12)", START + 4 * day, "c.txt", authored=START - 30 * day
    )
    shas["at_end"] = commit(repo, "at end", END, "a.txt")
    shas["after"] = commit(repo, "after end", END + day, "a.txt")
    return repo, shas


def test_git_period_is_half_open_on_committer_date(
    local_git_repo: tuple[Path, dict[str, str]],
) -> None:
    repo, shas = local_git_repo
    artefacts, ctx = collect(GitCollector, repo.parent, repo="repo")
    commits = {c["sha"]: c for c in data(artefacts["commits"])["commits"]}
    expected = {shas[k] for k in ("at_start", "reviewed", "feature", "merge", "squash")}
    assert set(commits) == expected  # at start included; before start, at end, after end excluded
    assert commits[shas["squash"]]["author"]["date"] == "2025-12-11T00:00:00Z"
    assert commits[shas["at_start"]]["committer"]["date"] == "2026-01-10T00:00:00Z"
    assert artefacts["commits"].summary["commits"] == 5
    assert any(call.startswith("git -C") and " log " in call for call in ctx.calls)


def test_git_merges_and_review_findings(local_git_repo: tuple[Path, dict[str, str]]) -> None:
    repo, shas = local_git_repo
    artefacts, _ = collect(GitCollector, repo.parent, repo="repo", branch="main")
    art = artefacts["commits"]
    commits = {c["sha"]: c for c in data(art)["commits"]}
    merge = commits[shas["merge"]]
    assert merge["is_merge"] and merge["parents"] == [shas["reviewed"], shas["feature"]]
    assert merge["files_changed"] == 1 and merge["signature"] == "none"
    assert not commits[shas["feature"]]["on_first_parent_line"]
    assert commits[shas["reviewed"]]["review_marker"] == "Reviewed-by:"
    assert commits[shas["squash"]]["review_marker"] == "(#12)"
    assert set(codes(art.findings, "direct-commit-without-review")) == {shas["at_start"]}
    unsigned = codes(art.findings, "unsigned-commit")
    assert len(unsigned) == 5 and {f.severity for f in unsigned.values()} == {"info"}
    strict, _ = collect(
        GitCollector, repo.parent, repo="repo", require_signed=True, review_markers=["nothing"]
    )
    findings = strict["commits"].findings
    assert {f.severity for f in codes(findings, "unsigned-commit").values()} == {"low"}
    assert set(codes(findings, "direct-commit-without-review")) == {
        shas["at_start"],
        shas["reviewed"],
        shas["squash"],
    }


def test_git_errors_are_clear(
    tmp_path: Path, local_git_repo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain").mkdir()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"repo": "plain"}, "not a git repository"),
        ({"repo": "absent"}, "does not exist"),
        ({"repo": "repo", "branch": "nope"}, "does not name a commit"),
        ({"repo": "repo", "review_markers": ["("]}, "not a valid regex"),
    ]
    for given, message in cases:
        with pytest.raises(RuntimeError, match=message):
            collect(GitCollector, tmp_path, **given)
    monkeypatch.setenv("PATH", str(tmp_path / "plain"))
    with pytest.raises(RuntimeError, match="git is not installed"):
        collect(GitCollector, tmp_path, repo="repo")


# -- local.files ---------------------------------------------------------------------------------


def test_files_maps_globs_to_principles_and_excludes(tmp_path: Path) -> None:
    policy = write(tmp_path / "policies/ai.md", "# AI policy\n")
    write(tmp_path / "policies/sub/runbook.md", "# Runbook\n")
    write(tmp_path / "threats/tm.md", "# Threat model\n")
    write(tmp_path / "README.md", "# Readme\n")
    for hidden in (
        ".git/notes.md",
        "evidence/P01/old.md",
        "pkg/__pycache__/x.md",
        ".venv/lib/y.md",
    ):
        write(tmp_path / hidden, "not evidence\n")
    big = write(tmp_path / "big/large.txt", "x" * 500)
    documents = [
        {"glob": "policies/**/*.md", "principles": ["p1"]},
        {"glob": "**/tm.md", "principles": ["P3"]},
        {"glob": "**/*.md", "principles": ["P8"], "description": "all markdown"},
        {"glob": "missing/*.pdf", "principles": ["P2"]},
        {"glob": "big/*", "principles": ["P9"]},
    ]
    artefacts, _ = collect(FilesCollector, tmp_path, documents=documents, max_bytes=100)
    assert set(artefacts) == {
        "policies/ai.md",
        "policies/sub/runbook.md",
        "threats/tm.md",
        "README.md",
        "document-index",
    }
    ai = artefacts["policies/ai.md"]
    assert ai.principles == ("P1", "P8") and ai.content == policy.read_bytes()
    assert (ai.media_type, ai.extension) == ("text/markdown", "md")
    assert artefacts["threats/tm.md"].principles == ("P3", "P8")
    index = artefacts["document-index"]
    assert index.principles == ("P1", "P2", "P3", "P8", "P9")
    records = {r["path"]: r for r in data(index)["documents"]}
    assert records["big/large.txt"]["stored"] is False
    assert records["big/large.txt"]["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    assert records["policies/ai.md"]["sha256"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    assert set(codes(index.findings, "no-documents-matched")) == {"missing/*.pdf"}
    assert set(codes(index.findings, "file-too-large")) == {"big/large.txt"}
    everything, _ = collect(FilesCollector, tmp_path, documents=documents[2:3], exclude=[])
    assert {".git/notes.md", "evidence/P01/old.md"} <= set(everything)


# -- local.ai_inventory --------------------------------------------------------------------------


def test_ai_inventory_classifies_hashes_and_flags_pickle(tmp_path: Path) -> None:
    pkl = write(tmp_path / "models/classifier.pkl", pickle.dumps({"weights": [0.1, 0.2]}))
    write(tmp_path / "models/encoder.safetensors", struct.pack("<Q", 2) + b"{}")
    write(tmp_path / "models/legacy.h5", b"\x89HDF\r\n\x1a\n")
    csv_file = write(tmp_path / "data/train.csv", "text,label\nhello,greeting\n")
    write(tmp_path / "data/logs.jsonl.gz", b"\x1f\x8b")
    write(tmp_path / "prompts/system.md", "You are a helpful assistant.\n")
    write(tmp_path / "chat.prompt.md", "Answer briefly.\n")
    write(tmp_path / "agent.prompty", "---\nname: agent\n---\n")
    write(tmp_path / "notes/readme.md", "not an AI asset\n")
    write(tmp_path / ".venv/lib/vendored.pkl", b"excluded")
    write(tmp_path / "evidence/P05/old.pt", b"excluded")
    artefacts, _ = collect(AiInventoryCollector, tmp_path, paths=[".", "models", "missing"])
    inventory = artefacts["inventory"]
    assets = {a["path"]: a for a in data(inventory)["assets"]}
    assert set(assets) == {
        "models/classifier.pkl",
        "models/encoder.safetensors",
        "models/legacy.h5",
        "data/train.csv",
        "data/logs.jsonl.gz",
        "prompts/system.md",
        "chat.prompt.md",
        "agent.prompty",
    }
    assert assets["models/classifier.pkl"]["executes_code_on_load"] is True
    assert assets["models/encoder.safetensors"]["executes_code_on_load"] is False
    assert assets["models/legacy.h5"]["executes_code_on_load"] is None
    assert assets["data/logs.jsonl.gz"]["format"] == "jsonl+gzip"
    assert assets["prompts/system.md"]["kind"] == assets["chat.prompt.md"]["kind"] == "prompt"
    assert assets["models/classifier.pkl"]["sha256"] == hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert assets["data/train.csv"]["size"] == csv_file.stat().st_size
    unsafe = codes(inventory.findings, "unsafe-model-format")
    assert set(unsafe) == {"models/classifier.pkl"} and unsafe["models/classifier.pkl"].severity == "high"
    assert set(codes(inventory.findings, "model-format-may-execute-code")) == {"models/legacy.h5"}
    assert set(codes(inventory.findings, "path-not-found")) == {"missing"}
    assert inventory.summary["models"] == 3 and inventory.summary["executes_code_on_load"] == 1


def test_classify_leaves_other_files_alone() -> None:
    assert classify("src/app.py") is None and classify("docs/readme.md") is None
    assert classify("LICENSE") is None
    assert classify("prompts/templates/answer.j2") == ("prompt", "jinja", False)


# -- local.vendors -------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)


def vendor_run(base: Path, path: str, **given: Any) -> dict[str, Artefact]:
    artefacts, _ = collect(
        VendorsCollector, base, start=NOW - dt.timedelta(days=1), end=NOW, path=path, **given
    )
    return artefacts


def test_vendors_yaml_overdue_and_missing(tmp_path: Path) -> None:
    old, recent = (
        (NOW.date() - dt.timedelta(days=400)).isoformat(),
        (NOW.date() - dt.timedelta(days=10)).isoformat(),
    )
    write(
        tmp_path / "vendors.yaml",
        f"- {{name: LLM Co, ai_provider: true, last_assessment: {old}, data_shared: [prompts]}}\n"
        f"- {{name: Hosting, ai_provider: false, last_assessment: {old}}}\n"
        f"- {{name: Fresh, ai_provider: yes, last_assessment: {recent},"
        " reviewed_at: 2026-01-02 10:00:00}\n"
        "- {name: Never, service: email}\n"
        "- just a string\n",
    )
    artefacts = vendor_run(tmp_path, "vendors.yaml")
    register = artefacts["vendor-register"]
    overdue = codes(register.findings, "assessment-overdue")
    assert {k: f.severity for k, f in overdue.items()} == {"LLM Co": "high", "Hosting": "medium"}
    assert set(codes(register.findings, "assessment-missing")) == {"Never"}
    assert set(codes(register.findings, "invalid-row")) == {"entry 5"}
    vendors = {v["name"]: v for v in data(register)["vendors"]}
    assert vendors["LLM Co"]["assessment_age_days"] == 400 and vendors["LLM Co"]["data_shared"] == ["prompts"]
    assert vendors["Fresh"]["other"] == {"reviewed_at": "2026-01-02T10:00:00"}
    assert register.summary == {
        "vendors": 4,
        "ai_providers": 2,
        "overdue": 2,
        "missing": 1,
        "invalid_rows": 1,
    }
    assert artefacts["vendor-register-source"].content == (tmp_path / "vendors.yaml").read_bytes()
    none_overdue = vendor_run(tmp_path, "vendors.yaml", max_assessment_age=500)["vendor-register"]
    assert not codes(none_overdue.findings, "assessment-overdue")


def test_vendors_csv_reports_bad_rows_without_crashing(tmp_path: Path) -> None:
    source = write(
        tmp_path / "register.csv",
        "\ufeffname,service,ai_provider,data_shared,last_assessment,contract\n"
        "Model API,LLM,yes,prompts; answers,2026-06-01,C-1\n"
        "Bad Date,Hosting,no,,01/02/2026,C-2\n"
        "Too Many,CRM,no,,2026-06-01,C-3,extra\n"
        "Bad Bool,CRM,maybe,,2026-06-01,C-4\n"
        ",nameless,no,,2026-06-01,C-5\n",
    )
    artefacts = vendor_run(tmp_path, "register.csv")
    register = artefacts["vendor-register"]
    vendors = data(register)["vendors"]
    assert [v["name"] for v in vendors] == ["Model API"]
    assert vendors[0]["ai_provider"] is True and vendors[0]["data_shared"] == ["prompts", "answers"]
    assert vendors[0]["last_assessment"] == "2026-06-01"
    invalid = codes(register.findings, "invalid-row")
    assert set(invalid) == {"line 3", "line 4", "line 5", "line 6"}
    assert "not a date" in invalid["line 3"].message and "true/false" in invalid["line 5"].message
    source_artefact = artefacts["vendor-register-source"]
    assert source_artefact.content == source.read_bytes() and source_artefact.media_type == "text/csv"
    with pytest.raises(RuntimeError, match="cannot read the vendor register"):
        vendor_run(tmp_path, "absent.csv")


# -- the demo system -----------------------------------------------------------------------------


def test_demo_assets_give_the_documented_evidence() -> None:
    documents = [
        {"glob": "policies/ai-security-policy.md", "principles": ["P1", "P2", "P4", "P13"]},
        {"glob": "policies/ai-incident-runbook.md", "principles": ["P12"]},
        {"glob": "threat-models/*.md", "principles": ["P3"]},
        {"glob": "training/*.csv", "principles": ["P1"]},
        {"glob": "models/*.md", "principles": ["P5", "P7", "P8"]},
    ]
    files, _ = collect(FilesCollector, DEMO, documents=documents)
    assert not files["document-index"].findings and len(files) == 6
    inventory, _ = collect(AiInventoryCollector, DEMO, paths=["datasets", "models", "prompts"])
    kinds = {a["path"]: a["kind"] for a in data(inventory["inventory"])["assets"]}
    assert kinds == {
        "datasets/eval-questions.csv": "dataset",
        "prompts/support-assistant.prompt.md": "prompt",
    }
    register = vendor_run(DEMO, "vendors.yaml")["vendor-register"]
    assert [(f.code, f.subject, f.severity) for f in register.findings] == [
        ("assessment-overdue", "Nimbus Language Models Ltd", "high")
    ]


def test_demo_files_stay_small() -> None:
    sizes: Mapping[str, int] = {
        p.relative_to(DEMO).as_posix(): len(p.read_text().splitlines())
        for p in DEMO.rglob("*")
        if p.is_file()
    }
    assert sizes and all(10 <= n <= 60 for n in sizes.values()), sizes
