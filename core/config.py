"""collectors.yaml: its schema, secret references, and errors that name file, line and key.

Everything is checked before any collection starts, and every problem found is reported at once
(not just the first), each as `FILE:LINE: collector 'ID': key 'params.org': what is wrong`, with a
hint where one helps. Relative paths in the file resolve against the file's own folder, so a cron
job started elsewhere files into the same store.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Catalog, load_catalog
from .durations import parse_duration
from .errors import CatalogError, ConfigError
from .plugin_manager import PluginHost, RegisteredCollector
from .store.layout import SAFE_ID
from .yamlsource import KeyPath, Located, YamlSourceError, dotted, load_located

TOP_KEYS = ("store", "catalog", "defaults", "concurrency", "signing_key", "collectors")
SIGNING_KEY_ENV = "EVIDENTIA_SIGNING_KEY"
DEFAULT_KEYS = ("schedule", "timeout", "lookback", "settle", "stale_after")
ZERO_DURATION_KEYS = ("settle",)  # durations for which 0 means "none" rather than a mistake
INSTANCE_KEYS = (
    "id",
    "plugin",
    "params",
    "schedule",
    "timeout",
    "lookback",
    "settle",
    "stale_after",
    "principles",
)
CATALOG_KEYS = ("frameworks", "mappings", "unmap")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ONLY_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-)?\}$")
DEFAULTS = {
    "schedule": dt.timedelta(days=1),
    "timeout": dt.timedelta(minutes=10),
    "stale_after": None,
}


@dataclass(frozen=True)
class Instance:
    """One configured collector instance, validated, with its secrets resolved from the environment."""

    id: str
    plugin: str
    collector: RegisteredCollector
    params: Mapping[str, Any]
    schedule: dt.timedelta
    timeout: dt.timedelta
    lookback: dt.timedelta
    stale_after: dt.timedelta
    principles: tuple[str, ...]
    line: int
    secrets: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    # Events newer than this are left to the next run: sources index or deliver late (see Collector).
    settle: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Config:
    path: Path
    store: Path
    catalog: Catalog
    concurrency: int
    instances: tuple[Instance, ...]
    raw: Located = field(repr=False)
    signing_key: Path | None = None  # the private key each run signs the ledger head with

    @property
    def base_dir(self) -> Path:
        """Absolute, so collectors' provenance and cron runs do not depend on the working folder."""
        return self.path.parent.resolve()


class _Problems:
    """Collects problems with their place, so one run of `check` shows all of them."""

    def __init__(self, path: Path, source: Located) -> None:
        self.path = path
        self.source = source
        self.items: list[str] = []
        self._lines: list[int] = []

    def sorted_items(self) -> list[str]:
        """In file order: a user fixing the file top to bottom reads the errors in the same order."""
        ordered = sorted(zip(self._lines, self.items, strict=True), key=lambda pair: pair[0])
        return [item for _, item in ordered]

    def add_unplaced(self, text: str) -> None:
        """A problem outside the file (an environment variable), listed first."""
        self.items.append(text)
        self._lines.append(0)

    def add(self, key: KeyPath, message: str, hint: str | None = None, instance: str | None = None) -> None:
        where = f"collector '{instance}': " if instance else ""
        key_text = dotted(key[2:] if instance and len(key) > 2 else key) if key else "(top level)"
        line = self.source.line(key)
        text = f"{self.path}:{line}: {where}key '{key_text}': {message}"
        self.items.append(f"{text}\n  hint: {hint}" if hint else text)
        self._lines.append(line)


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(choices)}"


def _check_keys(
    problems: _Problems,
    value: Mapping[str, Any],
    allowed: tuple[str, ...],
    path: KeyPath,
    inst: str | None = None,
) -> None:
    for key in value:
        if key not in allowed:
            problems.add((*path, key), "unknown key", _suggest(key, allowed), inst)


def _duration(problems: _Problems, value: Any, path: KeyPath, inst: str | None = None) -> dt.timedelta | None:
    try:
        return parse_duration(value, allow_zero=path[-1] in ZERO_DURATION_KEYS)
    except ValueError as exc:
        problems.add(path, str(exc), instance=inst)
        return None


def resolve_env(value: Any, env: Mapping[str, str], path: KeyPath, missing: list[tuple[KeyPath, str]]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; note variables that are not set."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing.append((path, name))
            return ""

        return ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [resolve_env(v, env, (*path, i), missing) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: resolve_env(v, env, (*path, k), missing) for k, v in value.items()}
    return value


def _with_schema_defaults(params: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name, prop in schema.get("properties", {}).items():
        if name not in out and isinstance(prop, dict) and "default" in prop:
            out[name] = prop["default"]
    return out


def _validate_params(
    problems: _Problems,
    reg: RegisteredCollector,
    params: dict[str, Any],
    path: KeyPath,
    inst: str,
    skip: set[KeyPath],
) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(reg.cls.params_schema)
    for err in sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path))):
        err_path = (*path, *err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted(reg.cls.params_schema.get("properties", {}))
            for extra in sorted(set(params) - set(allowed)):
                problems.add((*path, extra), "unknown parameter", _suggest(extra, allowed), inst)
            continue
        if err_path in skip:
            continue
        hint = f"see `evidentia plugins {reg.cls.name}` for its parameters"
        problems.add(err_path, err.message, hint, inst)


def _instance(
    problems: _Problems,
    raw: Any,
    index: int,
    defaults: Mapping[str, Any],
    host: PluginHost,
    catalog: Catalog,
    env: Mapping[str, str],
) -> Instance | None:
    path: KeyPath = ("collectors", index)
    if not isinstance(raw, dict):
        problems.add(path, "each collector must be a mapping with id, plugin and params")
        return None
    inst_id = raw.get("id")
    label = inst_id if isinstance(inst_id, str) else f"#{index + 1}"
    _check_keys(problems, raw, INSTANCE_KEYS, path, label)
    if not isinstance(inst_id, str) or not SAFE_ID.match(inst_id):
        problems.add(
            (*path, "id"),
            f"id {inst_id!r} is missing or unsafe as a folder name",
            "use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
            label,
        )
    plugin = raw.get("plugin")
    reg = host.collectors.get(plugin) if isinstance(plugin, str) else None
    if reg is None:
        known = sorted(host.collectors)
        close = difflib.get_close_matches(str(plugin), known, n=1)
        hint = close[0] if close else None
        problems.add(
            (*path, "plugin"),
            f"no installed collector named {plugin!r}",
            f"did you mean '{hint}'?" if hint else f"installed: {', '.join(known)}",
            label,
        )
    merged = {**defaults, **{k: raw[k] for k in DEFAULT_KEYS if k in raw}}
    durations = {
        k: _duration(problems, merged[k], (*path, k) if k in raw else ("defaults", k), label)
        for k in DEFAULT_KEYS
        if merged.get(k) is not None
    }
    principles = raw.get("principles", [])
    if not isinstance(principles, list) or not all(isinstance(p, str) for p in principles):
        problems.add((*path, "principles"), "must be a list of principle IDs such as P5", instance=label)
        principles = []
    for i, pid in enumerate(principles):
        if pid.upper() not in catalog.principles:
            problems.add(
                (*path, "principles", i),
                f"unknown principle {pid!r}",
                f"the catalogue has {', '.join(catalog.principles)}",
                label,
            )
    params_raw = raw.get("params", {})
    if not isinstance(params_raw, dict):
        problems.add((*path, "params"), "params must be a mapping", instance=label)
        params_raw = {}
    if reg is None or not isinstance(inst_id, str):
        return None
    for name in reg.cls.secret_params:
        value = params_raw.get(name)
        if value is not None and not (isinstance(value, str) and ONLY_REF.match(value)):
            problems.add(
                (*path, "params", name),
                "a secret must not be written into the file",
                f"reference an environment variable instead, e.g. {name}: ${{{name.upper()}}}",
                label,
            )
    params = _with_schema_defaults(params_raw, reg.cls.params_schema)
    missing: list[tuple[KeyPath, str]] = []
    resolved = resolve_env(params, env, (*path, "params"), missing)
    _validate_params(problems, reg, resolved, (*path, "params"), label, {p for p, _ in missing})
    secrets = tuple(str(resolved[n]) for n in reg.cls.secret_params if resolved.get(n))
    unresolved = tuple(
        f"{problems.path}:{problems.source.line(p)}: collector '{inst_id}': key "
        f"'{dotted(p[2:])}': environment variable {var} is not set"
        for p, var in missing
    )
    for pid in reg.cls.principles:
        if pid not in catalog.principles:
            problems.add(
                (*path, "plugin"),
                f"collector {reg.cls.name} declares unknown principle {pid}",
                instance=label,
            )
    declared = tuple(p.upper() for p in (*reg.cls.principles, *principles))
    timeout = durations.get("timeout") or DEFAULTS["timeout"]
    schedule = durations.get("schedule") or DEFAULTS["schedule"]
    assert isinstance(timeout, dt.timedelta) and isinstance(schedule, dt.timedelta)
    settle = durations.get("settle")
    return Instance(
        id=inst_id,
        plugin=reg.cls.name,
        collector=reg,
        params=resolved,
        schedule=schedule,
        timeout=timeout,
        lookback=durations.get("lookback") or reg.cls.default_lookback,
        settle=reg.cls.default_settle if settle is None else settle,  # `settle: 0` is a valid choice
        stale_after=durations.get("stale_after") or max(2 * schedule, dt.timedelta(days=1)),
        principles=tuple(dict.fromkeys(declared)),
        line=problems.source.line(path),
        secrets=secrets,
        unresolved=unresolved,
    )


def _catalog(problems: _Problems, raw: Any, base: Path) -> Catalog:
    from .catalog import load_builtin

    if raw is None:
        return load_builtin()
    if not isinstance(raw, dict):
        problems.add(("catalog",), "must be a mapping with frameworks, mappings or unmap")
        return load_builtin()
    _check_keys(problems, raw, CATALOG_KEYS, ("catalog",))
    for key in CATALOG_KEYS:
        if key in raw and not isinstance(raw[key], list):
            problems.add(("catalog", key), "must be a list")
            return load_builtin()
    try:
        return load_catalog(raw, base)
    except CatalogError as exc:
        problems.add(("catalog",), str(exc))
        return load_builtin()


def load_config(
    path: Path,
    host: PluginHost,
    *,
    env: Mapping[str, str] | None = None,
    store_override: Path | None = None,
) -> Config:
    """Read and validate collectors.yaml; raise `ConfigError` listing every problem found."""
    env = os.environ if env is None else env
    try:
        source = load_located(path)
    except YamlSourceError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise ConfigError([f"{where}: {exc}"]) from None
    problems = _Problems(path, source)
    doc = source.value
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}:1: the file must be a mapping with a 'collectors' list"])
    _check_keys(problems, doc, TOP_KEYS, ())
    base = path.parent.resolve()
    catalog = _catalog(problems, doc.get("catalog"), base)
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.add(("defaults",), "must be a mapping")
        defaults = {}
    _check_keys(problems, defaults, DEFAULT_KEYS, ("defaults",))
    concurrency = doc.get("concurrency", 4)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= 64:
        problems.add(("concurrency",), "must be a whole number from 1 to 64")
        concurrency = 4
    raw_instances = doc.get("collectors")
    if not isinstance(raw_instances, list):
        problems.add(("collectors",), "a 'collectors' list is required")
        raw_instances = []
    instances: list[Instance] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_instances):
        inst = _instance(problems, raw, i, defaults, host, catalog, env)
        if inst is None:
            continue
        if inst.id in seen:
            problems.add(
                ("collectors", i, "id"),
                f"id '{inst.id}' is already used on line {seen[inst.id]}",
                "ids must be unique: they name the instance's evidence folder",
                inst.id,
            )
            continue
        seen[inst.id] = inst.line
        instances.append(inst)
    store_raw = doc.get("store", "evidence")
    if not isinstance(store_raw, str) or not store_raw.strip():
        problems.add(("store",), "must be a folder path")
        store_raw = "evidence"
    signing_key = _signing_key(problems, doc.get("signing_key"), base, env)
    if problems.items:
        raise ConfigError(problems.sorted_items())
    store = store_override or (base / resolve_env(store_raw, env, ("store",), []))
    return Config(
        path=path,
        store=store,
        catalog=catalog,
        concurrency=concurrency,
        instances=tuple(instances),
        raw=source,
        signing_key=signing_key,
    )


def _signing_key(problems: _Problems, raw: Any, base: Path, env: Mapping[str, str]) -> Path | None:
    """`signing_key:` (relative to the config's folder), else $EVIDENTIA_SIGNING_KEY; checked now.

    A key that cannot be read must stop the run before collecting, not after: evidence filed by a
    run that then fails to sign would carry no proof of origin.
    """
    from .signing import SigningError, load_private_key

    if raw is None:
        value = env.get(SIGNING_KEY_ENV, "").strip()
        if not value:
            return None
        path, where = Path(value), f"environment variable {SIGNING_KEY_ENV}"
    else:
        missing: list[tuple[KeyPath, str]] = []
        value = resolve_env(raw, env, ("signing_key",), missing) if isinstance(raw, str) else ""
        if not value.strip() or missing:
            unset = f" ({missing[0][1]} is not set)" if missing else ""
            problems.add(("signing_key",), f"must be the path of an Ed25519 private key file{unset}")
            return None
        path, where = base / value, ""
    try:
        load_private_key(path)
    except SigningError as exc:
        if where:
            problems.add_unplaced(f"{where}: {exc}")
        else:
            problems.add(("signing_key",), str(exc))
        return None
    return path


def config_json_schema(host: PluginHost) -> dict[str, Any]:
    """A JSON Schema of collectors.yaml for editors, with each installed collector's parameters."""
    duration = {"type": ["string", "number"], "description": "daily, weekly, 24h, 90d, or seconds"}
    variants = []
    for name, reg in sorted(host.collectors.items()):
        variants.append(
            {
                "if": {"properties": {"plugin": {"const": name}}, "required": ["plugin"]},
                "then": {"properties": {"params": reg.cls.params_schema}},
            }
        )
    instance = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "plugin"],
        "properties": {
            "id": {"type": "string", "pattern": SAFE_ID.pattern},
            "plugin": {"enum": sorted(host.collectors)},
            "params": {"type": "object"},
            "schedule": duration,
            "timeout": duration,
            "lookback": duration,
            "settle": duration,
            "stale_after": duration,
            "principles": {"type": "array", "items": {"type": "string", "pattern": "^P[0-9]+$"}},
        },
        "allOf": variants,
    }
    mapping_props: dict[str, Any] = {
        k: {"type": "string"} for k in ("principle", "framework", "control", "title")
    }
    mapping = {
        "type": "object",
        "properties": mapping_props,
        "required": ["principle", "framework", "control"],
    }
    fit = {"enum": ["primary", "supporting", "weak"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://evidentia.dev/schemas/collectors.json",
        "title": "Evidentia collectors.yaml",
        "type": "object",
        "additionalProperties": False,
        "required": ["collectors"],
        "properties": {
            "store": {"type": "string", "default": "evidence"},
            "signing_key": {"type": "string", "description": "path of the Ed25519 private key (PEM)"},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 64, "default": 4},
            "defaults": {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: duration for k in DEFAULT_KEYS},
            },
            "catalog": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "frameworks": {"type": "array", "items": {"type": "string"}},
                    "mappings": {
                        "type": "array",
                        "items": {**mapping, "properties": {**mapping_props, "fit": fit}},
                    },
                    "unmap": {"type": "array", "items": mapping},
                },
            },
            "collectors": {"type": "array", "items": instance},
        },
    }
