"""Packaging: one import name, the catalogue inside, the CLI schema accepts the shipped config."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import yaml
from support import REPO, run_cli


def test_wheel_installs_only_the_evidentia_package_with_its_data(tmp_path: Path) -> None:
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
            str(REPO),
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
