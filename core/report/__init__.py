"""Coverage reports: what a store folder proves per principle, control, population and theme.

`build_coverage` reads only the store (its ledger and the catalogue filed in it), so an auditor can
regenerate a report from the folder alone; `render` turns the result into text, Markdown or JSON.
"""

from .coverage import build_coverage
from .model import Coverage
from .render import FORMATS, render
from .source import catalog_from_document

__all__ = ["FORMATS", "Coverage", "build_coverage", "catalog_from_document", "render"]
