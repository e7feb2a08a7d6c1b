"""YAML that remembers where each value came from, so config errors can name file, line and key.

PyYAML's composer gives nodes with positions; we build plain Python values from them and keep a map
from key path to line. The same walk refuses what a hostile file might hold: duplicate keys (PyYAML
silently keeps the last), non-text keys, and alias expansion beyond a fixed size ("billion laughs").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
KeyPath = tuple[str | int, ...]


class YamlSourceError(Exception):
    """The file cannot be read as YAML; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Located:
    """Parsed YAML plus the line of every key path (`("collectors", 0, "params", "org")`)."""

    value: Any
    lines: Mapping[KeyPath, int]

    def line(self, path: KeyPath) -> int:
        """The line of `path`, or of its nearest ancestor that exists (for a missing key)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class _Builder:
    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.budget = MAX_NODES
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise YamlSourceError(
                f"expands to more than {MAX_NODES} values (an alias bomb?)", node.start_mark.line + 1
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in self._merged_pairs(node):
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise YamlSourceError(f"keys must be text, not {key_node.tag.rsplit(':', 1)[-1]}", line)
            key = str(key_node.value)
            key_path: KeyPath = (*path, key)
            if key in out:
                raise YamlSourceError(f"key '{dotted(key_path)}' appears twice", line)
            self.lines[key_path] = line
            out[key] = self.build(value_node, key_path)
        return out

    def _merged_pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        """Apply `<<: *anchor` merge keys the way PyYAML's SafeLoader does."""
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise YamlSourceError("'<<' must merge a mapping", key_node.start_mark.line + 1)
                    merged.extend(self._merged_pairs(source))
            else:
                pairs.append((key_node, value_node))
        own = {k.value for k, _ in pairs if isinstance(k, yaml.ScalarNode)}
        return [(k, v) for k, v in merged if k.value not in own] + pairs


def dotted(path: KeyPath) -> str:
    """`collectors[0].params.org` for a key path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_located(path: Path) -> Located:
    """Read a YAML file with line positions; raise `YamlSourceError` for anything unreadable."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise YamlSourceError("file not found") from None
    if size > MAX_BYTES:
        raise YamlSourceError(f"is {size} bytes; a config file is limited to {MAX_BYTES}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlSourceError(f"is not valid UTF-8 (byte {exc.start})", line) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise YamlSourceError(f"is not valid YAML: {exc.problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(f"is not valid YAML: {exc}") from None
    if node is None:
        return Located({}, {(): 1})
    builder = _Builder()
    try:
        value = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlSourceError(f"{exc.problem}", mark.line + 1 if mark else None) from None
    except RecursionError:
        raise YamlSourceError("is nested too deeply") from None
    return Located(value, builder.lines)
