"""Builds the plugin manager: entry-point discovery, each plugin in its own error boundary.

Built-in collectors are registered through the same ``evidentia`` entry-point group as third-party
ones (see pyproject.toml), so nothing here knows about any particular plugin. A manager is built per
call, never at import time, so a broken plugin cannot break ``evidentia --help`` and tests can
build managers with exactly the plugins they want.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from . import hookspecs
from .collector import Collector
from .errors import PluginError

ENTRY_POINT_GROUP = "evidentia"
DISABLE_ENV = "EVIDENTIA_DISABLE_PLUGINS"
MODULES_ENV = "EVIDENTIA_PLUGIN_MODULES"


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from: its entry-point name and the distribution that ships it."""

    name: str
    module: str
    package: str
    version: str


@dataclass(frozen=True)
class RegisteredCollector:
    cls: type[Collector]
    plugin: PluginInfo


@dataclass
class PluginHost:
    """The loaded plugins, the collectors they registered, and the plugins that failed to load."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    collectors: dict[str, RegisteredCollector] = field(default_factory=dict)

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.pm.hook

    def collector(self, name: str) -> RegisteredCollector:
        try:
            return self.collectors[name]
        except KeyError:
            known = ", ".join(sorted(self.collectors)) or "none"
            raise PluginError(
                f"no collector named {name!r} is installed (known: {known})",
                hint="`evidentia plugins` lists installed collectors",
            ) from None


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _load_entry_point(ep: metadata.EntryPoint) -> tuple[ModuleType, PluginInfo]:
    module = ep.load()
    if not isinstance(module, ModuleType):
        module = importlib.import_module(ep.module)
    dist = ep.dist
    info = PluginInfo(
        name=ep.name,
        module=ep.value,
        package=dist.metadata["Name"] if dist is not None else ep.module,
        version=dist.version if dist is not None else "unknown",
    )
    return module, info


def build_plugin_host(
    *, entry_points: bool = True, extra: list[tuple[ModuleType, PluginInfo]] | None = None
) -> PluginHost:
    """Load every plugin, collect their collectors, and report what failed by name.

    A plugin that raises on import, or registers a bad collector, lands in ``failures`` and the
    others still load. Duplicate collector names are an error naming both plugins, since silently
    picking one would file evidence under the wrong code.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm=pm)
    candidates: list[tuple[ModuleType, PluginInfo]] = list(extra or [])
    if entry_points:
        disabled = _disabled()
        eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            if ep.name in disabled:
                continue
            try:
                candidates.append(_load_entry_point(ep))
            except Exception as exc:  # a third-party import error must not stop the others
                host.failures[ep.name] = f"{type(exc).__name__}: {exc}"
        for module_name in _extra_modules():
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                host.failures[module_name] = f"{type(exc).__name__}: {exc}"
                continue
            candidates.append((module, PluginInfo(module_name, module_name, module_name, "dev")))
    for module, info in candidates:
        _register_plugin(host, module, info)
    return host


def _extra_modules() -> list[str]:
    """Plugin modules named in EVIDENTIA_PLUGIN_MODULES: try a plugin before packaging it."""
    return [m.strip() for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]


def _register_plugin(host: PluginHost, module: ModuleType, info: PluginInfo) -> None:
    if host.pm.is_registered(module):
        return  # named by an entry point and by EVIDENTIA_PLUGIN_MODULES: load it once
    try:
        host.pm.register(module, name=info.name)
        host.pm.check_pending()
    except pluggy.PluginValidationError as exc:
        host.pm.unregister(name=info.name)
        host.failures[info.name] = f"invalid hook implementation: {exc}"
        return
    found: list[type[Collector]] = []
    others = [p for p in host.pm.get_plugins() if p is not module]
    only_this = host.pm.subset_hook_caller("evidentia_register_collectors", remove_plugins=others)
    try:
        only_this(register=found.append)
    except Exception as exc:
        host.pm.unregister(name=info.name)
        host.failures[info.name] = f"evidentia_register_collectors failed: {type(exc).__name__}: {exc}"
        return
    for cls in found:
        problem = _collector_problem(cls)
        if problem:
            host.failures[info.name] = problem
            continue
        if cls.name in host.collectors:
            other = host.collectors[cls.name].plugin
            raise PluginError(
                f"collector name {cls.name!r} is registered by two plugins: "
                f"{other.package} ({other.name}) and {info.package} ({info.name})",
                hint=f"uninstall one, or disable one with {DISABLE_ENV}={info.name}",
            )
        host.collectors[cls.name] = RegisteredCollector(cls=cls, plugin=info)
    host.plugins.append(info)


def _collector_problem(cls: object) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, Collector)):
        return f"registered {cls!r}, which is not a Collector subclass"
    if not cls.name or "." not in cls.name:
        return f"{cls.__name__} has no dotted name (e.g. 'acme.users')"
    if cls.kind not in ("snapshot", "events"):
        return f"{cls.name}: kind must be 'snapshot' or 'events', not {cls.kind!r}"
    if cls.params_schema.get("type") != "object":
        return f"{cls.name}: params_schema must be a JSON Schema of type 'object'"
    return None
