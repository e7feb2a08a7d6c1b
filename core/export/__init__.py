"""The audit pack: evidence for an observation window, exported as a zip that verifies on its own."""

from .pack import PackSummary, export_pack
from .verify_pack import is_pack, verify_pack
from .window import ExportError, Window, parse_when

__all__ = ["ExportError", "PackSummary", "Window", "export_pack", "is_pack", "parse_when", "verify_pack"]
