"""`evidentia plugins`: what is installed, so users can see what each collector needs and files."""

from __future__ import annotations

import json
from typing import Any

from .errors import PluginError
from .plugin_manager import PluginHost, RegisteredCollector


def describe(reg: RegisteredCollector) -> dict[str, Any]:
    cls = reg.cls
    schema = cls.params_schema
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "type": "|".join(t) if isinstance(t := prop.get("type", "any"), list) else t,
            "required": name in required,
            "secret": name in cls.secret_params,
        }
        if "default" in prop:
            param["default"] = prop["default"]
        if prop.get("description"):
            param["description"] = prop["description"]
        params.append(param)
    return {
        "name": cls.name,
        "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
        "kind": cls.kind,
        "version": cls.version,
        "plugin": {"name": reg.plugin.name, "package": reg.plugin.package, "version": reg.plugin.version},
        "principles": list(cls.principles),
        "parameters": params,
        "permissions": list(cls.permissions),
    }


def _text(info: dict[str, Any]) -> list[str]:
    plugin = info["plugin"]
    lines = [
        f"{info['name']}  ({plugin['package']} {plugin['version']}, {info['kind']})",
        f"    {info['description']}",
        f"    principles: {', '.join(info['principles']) or '(set per artefact or in config)'}",
    ]
    for p in info["parameters"]:
        flags = [f for f, on in (("required", p["required"]), ("secret", p["secret"])) if on]
        default = f" = {json.dumps(p['default'])}" if "default" in p else ""
        lines.append(f"    param {p['name']}: {p['type']}{default} {' '.join(flags)}".rstrip())
    lines += [f"    needs: {perm}" for perm in info["permissions"]]
    return lines


def render_plugins(host: PluginHost, *, name: str | None, as_json: bool) -> str:
    regs = [host.collector(name)] if name else [host.collectors[n] for n in sorted(host.collectors)]
    if name is None and not regs and not host.failures:
        raise PluginError("no collectors are installed", hint="pip install evidentia")
    infos = [describe(r) for r in regs]
    if as_json:
        data = {"collectors": infos, "failed_plugins": dict(sorted(host.failures.items()))}
        return json.dumps(data, indent=2) + "\n"
    lines: list[str] = []
    for info in infos:
        lines += [*_text(info), ""]
    lines += [f"FAILED plugin {n}: {why}" for n, why in sorted(host.failures.items())]
    return "\n".join(lines) + "\n"
