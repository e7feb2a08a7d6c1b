"""Live progress on a terminal (one line per instance), plain log lines otherwise.

Small enough to own: a terminal library would cost more start-up time than these lines do.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

SYMBOLS = {
    "pending": "·",
    "running": "…",
    "ok": "✓",
    "skipped": "-",
    "failed": "✗",
    "timeout": "⏱",
    "interrupted": "✗",
}


class Progress:
    """Shows each instance's state; redraws in place on a TTY, prints changes otherwise."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.rows: dict[str, tuple[str, int, str]] = {}
        self.started = time.monotonic()
        self._drawn = 0
        self._last_draw = 0.0
        self._lock = threading.Lock()

    def add(self, inst_id: str, status: str) -> None:
        self.rows[inst_id] = (status, 0, "")
        if self.enabled and not self.live and status == "skipped":
            self._print(inst_id)
        self._draw()

    def update(self, inst_id: str, status: str, filed: int = 0, note: str = "") -> None:
        before = self.rows.get(inst_id, ("", 0, ""))[0]
        self.rows[inst_id] = (status, filed, note)
        if self.enabled and not self.live and status != before:
            self._print(inst_id)
        self._draw(force=status != "running")

    def _line(self, inst_id: str) -> str:
        status, filed, note = self.rows[inst_id]
        text = f"{SYMBOLS.get(status, '?')} {inst_id:<28} {status:<11} {filed:>6} filed"
        return f"{text}  {note.splitlines()[0][:100]}" if note else text

    def _print(self, inst_id: str) -> None:
        print(self._line(inst_id), file=self.stream, flush=True)

    def _draw(self, force: bool = False) -> None:
        if not self.live:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            out = f"\x1b[{self._drawn}F" if self._drawn else ""
            out += "".join(f"\x1b[2K{self._line(i)}\n" for i in self.rows)
            self.stream.write(out)
            self.stream.flush()
            self._drawn = len(self.rows)

    def close(self) -> None:
        self._draw(force=True)
