"""`huggingface.cache` against Hub caches built here on disk in huggingface_hub's real layout.

Blobs are named as the Hub names them (SHA-256 of LFS content, git blob SHA-1 of small files),
snapshots are relative symlinks into `blobs/`, refs are files holding a commit SHA. One test checks
the layout against `huggingface_hub.scan_cache_dir` itself when that library is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest
from support import make_host, run_cli, write_config

from evidentia import Artefact, Finding
from evidentia.plugins.huggingface._location import default_cache_dir
from evidentia.plugins.huggingface.cache import HuggingFaceCacheCollector
from evidentia.testing import run_collector

C_PINNED, C_MAIN, C_PR, C_DATA, C_BROKEN, C_SPACE, C_OLD = (f"{n:x}" * 40 for n in range(1, 8))
PICKLE = pickle.dumps({"weights": [0.1, 0.2]})
SAFETENSORS = struct.pack("<Q", 2) + b"{}"
CONFIG = b'{"model_type": "bert"}\n'
OLD_TIME, MODIFIED_TIME = 1_500_000_000, 1_600_000_000  # 2017-07-14T02:40:00Z, 2020-09-13T12:26:40Z
ENV_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def add_file(repo: Path, commit: str, path: str, content: bytes, *, lfs: bool) -> Path:
    """Store a file as huggingface_hub does: a blob named by its etag, a relative snapshot link."""
    name = hashlib.sha256(content).hexdigest() if lfs else git_blob_sha1(content)
    blob = repo / "blobs" / name
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    link = repo / "snapshots" / commit / path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    return blob


def set_ref(repo: Path, ref: str, commit: str) -> None:
    path = repo / "refs" / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(commit)  # no newline, as the library writes it


def build_cache(root: Path) -> dict[str, Path]:
    """Every case seeded once; returns the blobs the tests look at."""
    pinned = root / "models--acme--pinned-model"
    add_file(pinned, C_PINNED, "config.json", CONFIG, lfs=False)
    safetensors = add_file(pinned, C_PINNED, "model.safetensors", SAFETENSORS, lfs=True)
    add_file(pinned, C_OLD, "config.json", CONFIG, lfs=False)  # fetched via main, later by SHA
    set_ref(pinned, "main", C_OLD)

    unpinned = root / "models--acme--main-model"
    config = add_file(unpinned, C_MAIN, "config.json", CONFIG, lfs=False)
    weights = add_file(unpinned, C_MAIN, "pytorch_model.bin", PICKLE, lfs=True)
    add_file(unpinned, C_MAIN, "onnx/model.onnx", b"onnx-bytes", lfs=True)
    add_file(unpinned, C_PR, "pytorch_model.bin", PICKLE, lfs=True)  # same blob, two revisions
    set_ref(unpinned, "main", C_MAIN)
    set_ref(unpinned, "refs/pr/1", C_PR)
    partial = unpinned / "blobs" / f"{'e' * 64}.incomplete"
    partial.write_bytes(b"half a download")
    os.utime(weights, (OLD_TIME, MODIFIED_TIME))

    dataset = root / "datasets--acme--reviews"
    parquet = add_file(dataset, C_DATA, "data/train.parquet", b"PAR1" + b"\0" * 100 + b"PAR1", lfs=True)
    add_file(dataset, C_DATA, "README.md", b"# Reviews\n", lfs=False)

    broken = root / "models--gpt2"
    add_file(broken, C_BROKEN, "config.json", CONFIG, lfs=False)
    gone = add_file(broken, C_BROKEN, "model.safetensors", b"deleted later", lfs=True)
    gone.unlink()

    space = root / "spaces--acme--demo" / "snapshots" / C_SPACE  # Windows mode: real files, no blobs
    space.mkdir(parents=True)
    (space / "app.py").write_bytes(b"import gradio\n")

    (root / ".locks" / "models--acme--main-model").mkdir(parents=True)
    (root / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (root / "notes.txt").write_text("not a repo\n")
    return {"safetensors": safetensors, "weights": weights, "config": config, "parquet": parquet}


@pytest.fixture()
def cache(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "hub"
    return root, build_cache(root)


def collect(cache_dir: Path | None, **params: Any) -> tuple[Artefact, dict[str, Any]]:
    given = {"cache_dir": str(cache_dir), **params} if cache_dir else params
    [artefact] = run_collector(HuggingFaceCacheCollector, given)
    assert artefact.name == "hf-cache"
    return artefact, json.loads(artefact.content)


def repos(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['repo_type']}:{r['repo_id']}": r for r in data["repos"]}


def files(repo: dict[str, Any], commit: str) -> dict[str, dict[str, Any]]:
    [rev] = [r for r in repo["revisions"] if r["commit"] == commit]
    return {f["path"]: f for f in rev["files"]}


def by_code(findings: tuple[Finding, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in findings:
        out.setdefault(finding.code, []).append(finding.subject or "")
    return out


def test_repos_revisions_refs_and_files_are_read_from_the_layout(cache: tuple[Path, dict[str, Path]]) -> None:
    root, blobs = cache
    _, data = collect(root)
    assert data["found"] is True and data["cache_dir"] == str(root) and data["cache_dir_from"] == "param"
    found = repos(data)
    assert set(found) == {
        "model:acme/pinned-model",
        "model:acme/main-model",
        "model:gpt2",
        "dataset:acme/reviews",
        "space:acme/demo",
    }
    assert data["other_entries"] == ["notes.txt"]
    main = found["model:acme/main-model"]
    assert main["refs"] == {"main": C_MAIN, "refs/pr/1": C_PR}
    assert {r["commit"]: r["refs"] for r in main["revisions"]} == {C_MAIN: ["main"], C_PR: ["refs/pr/1"]}
    assert main["pinned"] is False
    pinned = found["model:acme/pinned-model"]
    assert {r["commit"]: r["pinned_by_commit"] for r in pinned["revisions"]} == {C_PINNED: True, C_OLD: False}
    assert pinned["pinned"] is True and pinned["refs"] == {"main": C_OLD}

    current = files(main, C_MAIN)
    assert sorted(current) == ["config.json", "onnx/model.onnx", "pytorch_model.bin"]
    weights = current["pytorch_model.bin"]
    assert weights["size"] == len(PICKLE) and weights["sha256"] == hashlib.sha256(PICKLE).hexdigest()
    assert weights["blob_hash"] == blobs["weights"].name == weights["sha256"]
    assert weights["blob_hash_algorithm"] == "sha256" and weights["blob_hash_verified"] is True
    assert (weights["last_accessed"], weights["last_modified"]) == (
        "2017-07-14T02:40:00Z",
        "2020-09-13T12:26:40Z",
    )
    assert weights["executes_code_on_load"] is True and weights["format"] == "pytorch-bin"
    assert files(main, C_PR)["pytorch_model.bin"] == weights
    config = current["config.json"]
    assert config["blob_hash"] == git_blob_sha1(CONFIG) and config["blob_hash_algorithm"] == "git-blob-sha1"
    assert config["sha256"] == hashlib.sha256(CONFIG).hexdigest() and config["blob_hash_verified"] is True
    assert config["executes_code_on_load"] is False and config["kind"] is None
    assert main["size_on_disk"] == len(CONFIG) + len(PICKLE) + len(b"onnx-bytes")  # shared blob once
    assert main["incomplete_downloads"] == [
        {
            "blob": f"{'e' * 64}.incomplete",
            "size": 15,
            "last_modified": main["incomplete_downloads"][0]["last_modified"],
        }
    ]

    parquet = files(found["dataset:acme/reviews"], C_DATA)["data/train.parquet"]
    assert parquet["size"] == blobs["parquet"].stat().st_size and parquet["format"] == "parquet"
    safetensors = files(pinned, C_PINNED)["model.safetensors"]
    assert safetensors["executes_code_on_load"] is False and safetensors["size"] == len(SAFETENSORS)
    app = files(found["space:acme/demo"], C_SPACE)["app.py"]
    assert app["blob_hash"] is None and app["sha256"] == hashlib.sha256(b"import gradio\n").hexdigest()
    assert (app["kind"], app["executes_code_on_load"]) == ("code", None)
    dangling = files(found["model:gpt2"], C_BROKEN)["model.safetensors"]
    assert dangling["blob_missing"] is True and dangling["size"] is None and dangling["sha256"] is None


def test_each_finding_is_raised_exactly_where_it_was_seeded(cache: tuple[Path, dict[str, Path]]) -> None:
    root, _ = cache
    artefact, _ = collect(root)
    assert by_code(artefact.findings) == {
        "revision-not-pinned": ["model:acme/main-model"],
        "unsafe-model-format": ["model:acme/main-model/pytorch_model.bin"],
        "dangling-snapshot-file": [f"model:gpt2@{C_BROKEN}/model.safetensors"],
        "incomplete-download": [f"model:acme/main-model/blobs/{'e' * 64}.incomplete"],
    }
    severity = {f.code: f.severity for f in artefact.findings}
    assert severity == {
        "revision-not-pinned": "medium",
        "unsafe-model-format": "high",
        "dangling-snapshot-file": "low",
        "incomplete-download": "info",
    }
    assert artefact.principles == () and HuggingFaceCacheCollector.principles == ("P5", "P7", "P8")
    assert artefact.summary["repos"] == 5 and artefact.summary["unpinned_repos"] == 1


def test_hashing_does_not_touch_access_times_and_respects_the_limits(
    cache: tuple[Path, dict[str, Path]],
) -> None:
    root, blobs = cache
    collect(root)
    assert blobs["weights"].stat().st_atime == OLD_TIME  # read with O_NOATIME, so still the seeded time
    _, data = collect(root, max_hash_bytes=len(CONFIG))
    current = files(repos(data)["model:acme/main-model"], C_MAIN)
    assert current["config.json"]["sha256"] == hashlib.sha256(CONFIG).hexdigest()
    assert current["pytorch_model.bin"]["sha256"] is None
    assert current["pytorch_model.bin"]["sha256_skipped"] == f"larger than max_hash_bytes ({len(CONFIG)})"
    assert current["pytorch_model.bin"]["size"] == len(PICKLE)
    _, data = collect(root, hash_files=False)
    unhashed = [f for r in data["repos"] for rev in r["revisions"] for f in rev["files"] if f["sha256"]]
    assert unhashed == []


def test_a_blob_that_no_longer_matches_its_name_is_flagged(cache: tuple[Path, dict[str, Path]]) -> None:
    root, blobs = cache
    blobs["safetensors"].write_bytes(SAFETENSORS + b"tampered")
    blobs["config"].write_bytes(CONFIG.replace(b"bert", b"gpt2"))
    artefact, data = collect(root)
    assert sorted(by_code(artefact.findings)["blob-hash-mismatch"]) == [
        f"model:acme/main-model/blobs/{git_blob_sha1(CONFIG)}",
        f"model:acme/pinned-model/blobs/{blobs['safetensors'].name}",
    ]
    tampered = files(repos(data)["model:acme/pinned-model"], C_PINNED)["model.safetensors"]
    assert tampered["blob_hash_verified"] is False


def test_a_missing_cache_is_evidence_and_a_file_is_an_error(tmp_path: Path) -> None:
    artefact, data = collect(tmp_path / "nowhere")
    assert (data["found"], data["repos"]) == (False, [])
    [finding] = artefact.findings
    assert (finding.code, finding.severity, finding.subject) == (
        "cache-not-found",
        "info",
        str(tmp_path / "nowhere"),
    )
    (tmp_path / "hub").write_text("not a folder")
    with pytest.raises(RuntimeError, match="exists but is not a folder"):
        collect(tmp_path / "hub")


def test_default_location_follows_the_library_environment_rules() -> None:
    assert default_cache_dir({"HF_HUB_CACHE": "/c", "HF_HOME": "/h"}) == (Path("/c"), "HF_HUB_CACHE")
    assert default_cache_dir({"HUGGINGFACE_HUB_CACHE": "/l", "HF_HOME": "/h"}) == (
        Path("/l"),
        "HUGGINGFACE_HUB_CACHE",
    )
    assert default_cache_dir({"HF_HOME": "/h", "XDG_CACHE_HOME": "/x"}) == (Path("/h/hub"), "HF_HOME")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == (Path("/x/huggingface/hub"), "XDG_CACHE_HOME")
    assert default_cache_dir({"HF_HUB_CACHE": "", "HF_HOME": ""})[1] == "default"  # empty is unset


@pytest.mark.parametrize("variable", ["HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HOME"])
def test_the_collector_uses_the_environment_when_cache_dir_is_omitted(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    suffix = {"HF_HUB_CACHE": "", "HF_HOME": "hub", "XDG_CACHE_HOME": "huggingface/hub"}
    expected = tmp_path / suffix.get(variable, ".cache/huggingface/hub")
    build_cache(expected)
    monkeypatch.setenv(variable, str(tmp_path))
    _, data = collect(None)
    assert data["cache_dir"] == str(expected)
    assert data["cache_dir_from"] == ("default" if variable == "HOME" else variable)
    assert "model:acme/main-model" in repos(data)


def test_huggingface_hub_scan_cache_dir_sees_the_same_cache(cache: tuple[Path, dict[str, Path]]) -> None:
    hub = pytest.importorskip("huggingface_hub")
    root, _ = cache
    _, data = collect(root)
    ours = repos(data)
    info = hub.scan_cache_dir(root)
    theirs = {f"{r.repo_type}:{r.repo_id}": r for r in info.repos}
    assert set(theirs) == set(ours) - {"model:gpt2"}  # the library drops a repo with a broken link
    assert any("Blob missing" in str(w) for w in info.warnings)
    for key, repo in theirs.items():
        mine = ours[key]
        assert {r.commit_hash: set(r.refs) for r in repo.revisions} == {
            r["commit"]: set(r["refs"]) for r in mine["revisions"]
        }
        assert {
            (r.commit_hash, f.file_path.relative_to(r.snapshot_path).as_posix(), f.size_on_disk)
            for r in repo.revisions
            for f in r.files
        } == {(r["commit"], f["path"], f["size"]) for r in mine["revisions"] for f in r["files"]}
        assert repo.size_on_disk == mine["size_on_disk"]
    assert {p.file_path.name for p in info.incomplete_files} == {
        p["blob"] for r in ours.values() for p in r["incomplete_downloads"]
    }


def test_registered_and_filed_under_p5_p7_p8_by_the_cli(
    cache: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    registered = make_host().collectors["huggingface.cache"]  # through the entry point
    assert registered.cls is HuggingFaceCacheCollector and registered.plugin.package == "evidentia"
    config = write_config(
        tmp_path, "collectors:\n  - {id: hf, plugin: huggingface.cache, params: {cache_dir: hub}}\n"
    )
    done = run_cli("collect", "-c", str(config), "--json", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    [result] = json.loads(done.stdout)["instances"]
    assert (result["id"], result["collector"], result["status"], result["artefacts"]) == (
        "hf",
        "huggingface.cache",
        "ok",
        1,
    )
    store = tmp_path / "evidence"
    filed = sorted(p.relative_to(store).parts[0][:3] for p in store.rglob("*--hf-cache.json"))
    assert filed == ["P05", "P07", "P08"]
    verified = run_cli("verify", str(store), cwd=tmp_path, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
