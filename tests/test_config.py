"""collectors.yaml: every problem names file, line and key; secrets only by reference; hostile input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_host, write_config

from evidentia.config import load_config
from evidentia.errors import ConfigError

HOST = make_host()


def errors(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, HOST, env=env or {})
    return info.value.problems


def test_valid_config_resolves_defaults_paths_and_env(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        store: ${STORE_DIR:-ev}
        defaults: {schedule: weekly, timeout: 5m}
        collectors:
          - id: echo
            plugin: test.echo
            params: {count: 2}
            principles: [p12]
          - id: sec
            plugin: test.secret
            schedule: 12h
            params: {token: "${TOKEN}"}
    """,
    )
    config = load_config(cfg, HOST, env={"TOKEN": "s3cr3t-value"})
    echo, sec = config.instances
    assert config.store == tmp_path / "ev"
    assert echo.params == {"count": 2, "content": "same", "size": 0, "delay": 0}
    assert echo.schedule == dt.timedelta(weeks=1) and echo.timeout == dt.timedelta(minutes=5)
    assert echo.principles == ("P5", "P8", "P12")
    assert sec.schedule == dt.timedelta(hours=12)
    assert sec.params["token"] == "s3cr3t-value" and sec.secrets == ("s3cr3t-value",)


def test_each_problem_names_file_line_instance_and_key(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - id: echo
            plugin: test.echo
            params:
              count: many
              colour: red
          - id: echo
            plugin: test.ech
          - id: sec
            plugin: test.secret
            shedule: daily
            params: {token: ghp_literal_token_in_file}
    """,
    )
    found = errors(cfg)
    expected = [
        f"{cfg}:5: collector 'echo': key 'params.count': 'many' is not of type 'integer'",
        f"{cfg}:6: collector 'echo': key 'params.colour': unknown parameter",
        f"{cfg}:8: collector 'echo': key 'plugin': no installed collector named 'test.ech'",
        f"{cfg}:11: collector 'sec': key 'shedule': unknown key",
        f"{cfg}:12: collector 'sec': key 'params.token': a secret must not be written into the file",
    ]
    for want in expected:
        assert any(e.startswith(want) for e in found), (want, found)
    assert any("did you mean 'test.echo'?" in e for e in found)
    assert any("did you mean 'schedule'?" in e for e in found)
    assert len(found) == len(expected)


def test_duplicate_ids_are_refused_naming_the_first(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - {id: a, plugin: test.echo}
          - {id: a, plugin: test.fail}
    """,
    )
    assert errors(cfg) == [
        f"{cfg}:3: collector 'a': key 'id': id 'a' is already used on line 2\n"
        "  hint: ids must be unique: they name the instance's evidence folder"
    ]


@pytest.mark.parametrize("bad_id", ["../up", "a/b", "", "UPPER", ".hidden", "x" * 65, "semi;colon"])
def test_ids_unsafe_as_folder_names_are_refused(tmp_path: Path, bad_id: str) -> None:
    cfg = write_config(tmp_path, f"collectors:\n  - id: {bad_id!r}\n    plugin: test.echo\n")
    assert any("unsafe as a folder name" in e and ":2:" in e for e in errors(cfg))


def test_unset_environment_variable_is_reported_for_its_instance_only(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - id: sec
            plugin: test.secret
            params:
              token: ${GH_TOKEN}
    """,
    )
    config = load_config(cfg, HOST, env={})
    assert config.instances[0].unresolved == (
        f"{cfg}:5: collector 'sec': key 'params.token': environment variable GH_TOKEN is not set",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("collectors: [\n", "is not valid YAML"),
        ("a: 1\na: 2\ncollectors: []\n", "key 'a' appears twice"),
        ("collectors:\n  - {id: x, plugin: test.echo, timeout: soon}\n", "'soon' is not a duration"),
        ("concurrency: 0\ncollectors: []\n", "key 'concurrency': must be a whole number"),
        ("- just\n- a list\n", "must be a mapping"),
        ("{1: x, collectors: []}\n", "keys must be text"),
        ("collectors:\n  - {id: x, plugin: test.echo, principles: [P99]}\n", "unknown principle 'P99'"),
        (
            "catalog: {unmap: [{principle: P5, framework: soc2, control: CC9.9}]}\ncollectors: []\n",
            "P5 has no soc2 mapping 'CC9.9' to remove",
        ),
    ],
)
def test_malformed_files_get_a_located_message(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "collectors.yaml"
    cfg.write_text(text)
    found = errors(cfg)
    assert any(message in e for e in found), found
    assert all(e.startswith(str(cfg)) for e in found)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    cfg = tmp_path / "collectors.yaml"
    cfg.write_text("\n".join(lines) + "\ncollectors: []\n")
    assert any("alias bomb" in e for e in errors(cfg))


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "collectors.yaml"
    cfg.write_bytes(b"collectors:\n  - id: caf\xe9\n")
    assert errors(cfg) == [f"{cfg}:2: is not valid UTF-8 (byte 23)"]


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    cfg = tmp_path / "collectors.yaml"
    cfg.write_bytes(b"#" * (2 << 20))
    assert "a config file is limited to" in errors(cfg)[0]


def test_catalog_extension_from_a_framework_file(tmp_path: Path) -> None:
    (tmp_path / "iso42001.yaml").write_text(
        "framework: {id: iso42001, title: ISO/IEC 42001:2023}\n"
        "controls:\n  - {id: A.6.2.6, title: AI system operation and monitoring, principles: [P12]}\n"
    )
    cfg = write_config(
        tmp_path,
        """
        catalog:
          frameworks: [iso42001.yaml]
          mappings:
            - {principle: P5, framework: soc2, control: CC6.1, title: Logical access, fit: primary}
        collectors: []
    """,
    )
    catalog = load_config(cfg, HOST, env={}).catalog
    assert catalog.controls_for(["P12"])["iso42001"] == ["A.6.2.6"]
    assert "CC6.1" in catalog.controls_for(["P5"])["soc2"]


def test_malformed_framework_file_is_rejected_by_name(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("framework: {id: x}\ncontrols:\n  - {id: C1, principles: [P5]}\n")
    cfg = write_config(tmp_path, "catalog: {frameworks: [bad.yaml]}\ncollectors: []\n")
    found = errors(cfg)
    assert len(found) == 1 and "bad.yaml: controls[0]" in found[0] and "has no 'title'" in found[0]


yaml_scalars = st.one_of(
    st.integers(), st.booleans(), st.none(), st.text(max_size=20), st.floats(allow_nan=False)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    doc=st.dictionaries(
        st.sampled_from(["store", "collectors", "defaults", "catalog", "x"]), yaml_values, max_size=4
    )
)
def test_any_document_loads_or_fails_with_located_config_errors(tmp_path: Path, doc: dict) -> None:
    import yaml

    cfg = tmp_path / "collectors.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    try:
        load_config(cfg, HOST, env={})
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(f"{cfg}") for p in exc.problems)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path: Path, raw: bytes) -> None:
    cfg = tmp_path / "collectors.yaml"
    cfg.write_bytes(raw)
    try:
        load_config(cfg, HOST, env={})
    except ConfigError as exc:
        assert all(p.startswith(f"{cfg}") for p in exc.problems)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(inst_id=st.text(min_size=1, max_size=70))
def test_ids_that_load_are_always_single_safe_path_segments(tmp_path: Path, inst_id: str) -> None:
    import yaml

    cfg = tmp_path / "collectors.yaml"
    cfg.write_text(yaml.safe_dump({"collectors": [{"id": inst_id, "plugin": "test.echo"}]}))
    try:
        config = load_config(cfg, HOST, env={})
    except ConfigError:
        return
    loaded = config.instances[0].id
    assert "/" not in loaded and "\\" not in loaded and loaded not in (".", "..")
    assert not loaded.startswith(".") and len(loaded) <= 64


def test_settle_defaults_per_collector_and_an_explicit_zero_is_kept(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        "collectors:\n"
        "  - {id: trail, plugin: aws.cloudtrail}\n"
        "  - {id: trail-now, plugin: aws.cloudtrail, settle: 0}\n"
        "  - {id: git, plugin: local.git, settle: 1h}\n",
    )
    settle = {i.id: i.settle for i in load_config(cfg, make_host(), env={}).instances}
    assert settle == {
        "trail": dt.timedelta(minutes=15),
        "trail-now": dt.timedelta(0),
        "git": dt.timedelta(hours=1),
    }


def test_problems_are_listed_in_file_order(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        "collectors:\n  - id: a\n    plugin: test.ecko\n    shedule: daily\n",
    )
    lines = [int(e.split(":")[1]) for e in errors(cfg) if e.startswith(str(cfg))]
    assert len(lines) == 2 and lines == sorted(lines)
