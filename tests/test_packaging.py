"""Packaging: one import name, the catalogue inside, the CLI schema accepts the shipped config."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import yaml
from support import REPO, run_cli


def _source_copy(dest: Path) -> Path:
    """The tree as a fresh clone has it: a `build/` left by an earlier local build would leak stale
    modules into the wheel (setuptools reuses it), so the wheel is built from a clean copy."""
    junk = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "evidence", "__pycache__")
    shutil.copytree(REPO, dest, symlinks=True, ignore=junk)
    return dest


def _source_of(name: str) -> Path:
    """Where a wheel member comes from: `evidentia/plugins/...` is plugins/, the rest is core/."""
    parts = name.split("/")[1:]
    if parts[:1] == ["plugins"]:
        return REPO / "plugins" / Path(*parts[1:])
    return REPO / "core" / Path(*parts)


def test_wheel_installs_only_the_evidentia_package_with_its_data(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "src")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("evidentia-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"evidentia", next(t for t in tops if t.endswith(".dist-info"))}
    assert "evidentia/catalog/en304223.yaml" in names
    assert "evidentia/plugins/local/git.py" in names
    stale = [n for n in names if n.startswith("evidentia/") and not _source_of(n).is_file()]
    assert stale == [], "wheel members with no source file"
    entry_points = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    )
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser["evidentia"]["local"] == "evidentia.plugins.local"
    assert parser["console_scripts"]["evidentia"] == "evidentia.cli:main"


def test_generated_schema_accepts_the_shipped_config_and_rejects_typos(tmp_path: Path) -> None:
    schema = json.loads(run_cli("schema", cwd=tmp_path).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = yaml.safe_load((REPO / "collectors.yaml").read_text())
    jsonschema.validate(shipped, schema)
    shipped["collectors"][0]["shedule"] = "daily"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(shipped))
    assert errors
    shipped["collectors"][0].pop("shedule")
    shipped["collectors"][3]["params"]["max_assessment_age"] = "a year"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(shipped))


def test_the_committed_store_readme_is_the_one_the_tool_writes() -> None:
    from evidentia.store.readme import STORE_README

    assert (REPO / "evidence" / "README.md").read_text(encoding="utf-8") == STORE_README
