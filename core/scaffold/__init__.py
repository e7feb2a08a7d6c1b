"""`evidentia new-plugin NAME`: write a plugin package that installs, registers and passes its test.

The template is the smallest complete plugin: a collector with a parameter schema, the hook that
registers it, the entry point, a test using `evidentia.testing`, and a README. Authors replace the
body of `collect()` with calls to their system.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import EvidentiaError

NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
TEMPLATE_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "evidentia_{name}/__init__.py",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}


def scaffold_plugin(name: str, parent: Path) -> Path:
    """Write `evidentia-NAME/` under `parent`; refuse to overwrite anything."""
    if not NAME.match(name):
        raise EvidentiaError(
            f"plugin name {name!r} is not a valid module name",
            hint="use lower-case letters, digits and '_', starting with a letter (e.g. acme_console)",
        )
    root = parent / f"evidentia-{name.replace('_', '-')}"
    if root.exists():
        raise EvidentiaError(f"{root} already exists; not overwriting it")
    title = name.replace("_", " ").title().replace(" ", "")
    values = {"name": name, "dist": f"evidentia-{name.replace('_', '-')}", "Title": title}
    templates = resources.files(__package__)
    for template, target in TEMPLATE_FILES.items():
        text = templates.joinpath(template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = root / target.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
