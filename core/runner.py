"""One `evidentia collect` run: pick the due instances, run them concurrently and isolated, file.

Collectors run in daemon threads, at most `concurrency` at once; the main thread is the store's only
writer. A collector that raises is recorded with its cause; one that outlives its time-out is cut off
(told to stop, its later output ignored, and the process does not wait for it). Event populations are
filed only when their collector finished, so a failed night leaves no partial population, and the
next run covers the same period again: no gap, no overlap.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from . import __version__
from .collector import Artefact, CollectContext, Period, utc_iso
from .config import Config, Instance
from .durations import format_duration
from .errors import CollectionCancelled
from .plugin_manager import PluginHost
from .progress import Progress
from .scrub import Scrubber, redact_fields
from .store import layout
from .store.filing import Filing
from .store.local import LocalStore
from .store.records import Provenance, file_artefact, file_catalog_if_changed, file_run_record

log = logging.getLogger("evidentia.runner")


@dataclass
class InstanceResult:
    """What happened to one instance in a run; becomes part of the filed run record."""

    id: str
    collector: str
    kind: str = "snapshot"
    status: str = "pending"  # ok | failed | timeout | skipped | interrupted
    reason: str = ""
    artefacts: int = 0
    unchanged: int = 0
    discarded: int = 0
    findings: int = 0
    requests: int = 0
    redactions: int = 0
    duration_s: float = 0.0
    period: dict[str, str] | None = None
    finished_at: str | None = None


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    finished_at: str
    store: str
    config: str
    tool_version: str
    instances: list[InstanceResult] = field(default_factory=list)
    recovered_filings: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if any(r.status in ("failed", "timeout", "interrupted") for r in self.instances) else 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["exit_code"] = self.exit_code
        out["totals"] = {
            key: sum(getattr(r, key) for r in self.instances)
            for key in ("artefacts", "unchanged", "findings", "requests")
        }
        return out


@dataclass
class _Running:
    inst: Instance
    ctx: CollectContext
    result: InstanceResult
    started: float
    cancelled: threading.Event
    held: list[tuple[Artefact, list[str]]] = field(default_factory=list)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


class Runner:
    """Runs the instances of one config against one store. Build one per run."""

    def __init__(
        self,
        config: Config,
        host: PluginHost,
        *,
        only: Iterable[str] = (),
        force: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.only = set(only)
        self.force = force
        self.progress = progress or Progress(enabled=False)
        self.scrubber = Scrubber(s for inst in config.instances for s in inst.secrets)
        self.run_id = uuid.uuid4().hex[:12]
        self.now = _now()
        self.events: queue.Queue[tuple[str, str, Any]] = queue.Queue(maxsize=1024)

    # -- planning -------------------------------------------------------------------------------

    def _selected(self) -> list[Instance]:
        return [i for i in self.config.instances if not self.only or i.id in self.only]

    def _due(self, inst: Instance, store: LocalStore) -> str | None:
        """Why the instance is not due, or None when it should run."""
        last = store.index.last_success.get(inst.id)
        if self.force or last is None or "finished_at" not in last:
            return None
        next_due = _parse(last["finished_at"]) + inst.schedule
        # a small tolerance so a nightly cron that starts a few seconds early still runs
        if next_due - dt.timedelta(minutes=5) > self.now:
            return f"not due until {utc_iso(next_due)} (schedule {format_duration(inst.schedule)})"
        return None

    def _period(self, inst: Instance, store: LocalStore) -> tuple[Period, bool]:
        """[last end, now - settle): the settle delay keeps late-indexed events for the next run."""
        end = self.now - inst.settle if inst.collector.cls.kind == "events" else self.now
        last = store.index.last_success.get(inst.id)
        if last and last.get("period"):
            start = _parse(last["period"]["end"])
            return Period(start, max(start, end)), False
        return Period(end - inst.lookback, end), True

    # -- running --------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        summary = RunSummary(
            run_id=self.run_id,
            started_at=utc_iso(self.now),
            finished_at="",
            store=str(self.config.store),
            config=str(self.config.path),
            tool_version=__version__,
        )
        with LocalStore(self.config.store) as store:
            summary.recovered_filings = store.recovered
            self._fire_filed(file_catalog_if_changed(store, self.config.catalog, self.now))
            waiting: list[tuple[Instance, InstanceResult, Period, bool]] = []
            for inst in self._selected():
                result = InstanceResult(id=inst.id, collector=inst.plugin, kind=inst.collector.cls.kind)
                summary.instances.append(result)
                not_due = self._due(inst, store)
                if not_due:
                    result.status, result.reason = "skipped", not_due
                elif inst.unresolved:
                    result.status, result.reason = "failed", "; ".join(inst.unresolved)
                else:
                    period, first = self._period(inst, store)
                    waiting.append((inst, result, period, first))
                self.progress.add(inst.id, result.status)
            try:
                self._run_all(store, waiting)
            except KeyboardInterrupt:
                for _, result, _, _ in waiting:
                    if result.status in ("pending", "running"):
                        result.status, result.reason = "interrupted", "the run was interrupted"
                self._finish(store, summary)
                raise
            self._finish(store, summary)
        return summary

    def _finish(self, store: LocalStore, summary: RunSummary) -> None:
        self._fire_filed(store.flush())
        summary.finished_at = utc_iso(_now())
        key, unreadable = None, None
        if self.config.signing_key is not None:  # read first: the run record names the key it signs with
            from .signing import SigningError, fingerprint, load_private_key, sign_store

            try:
                key = load_private_key(self.config.signing_key)
            except SigningError as exc:  # gone since the config check: still file the record, then fail
                unreadable = exc
        promise = fingerprint(key.public_key()) if key is not None else None
        file_run_record(store, summary.to_dict(), self.run_id, self.now, promise)
        if unreadable is not None:
            raise unreadable
        if key is not None:  # last, so the signature covers the run record too
            sign_store(store, key)
        self.progress.close()
        try:
            self.host.hook.evidentia_run_finished(summary=summary)
        except Exception:
            log.exception("a plugin's evidentia_run_finished hook failed")

    def _run_all(
        self, store: LocalStore, waiting: list[tuple[Instance, InstanceResult, Period, bool]]
    ) -> None:
        pending = list(waiting)
        running: dict[str, _Running] = {}
        while pending or running:
            while pending and len(running) < self.config.concurrency:
                inst, result, period, first = pending.pop(0)
                running[inst.id] = self._start(inst, result, period, first)
            self._drain(store, running, timeout=0.2)
            self._cut_off_overdue(running)

    def _start(self, inst: Instance, result: InstanceResult, period: Period, first: bool) -> _Running:
        cancelled = threading.Event()
        ctx = CollectContext(
            instance_id=inst.id,
            params=inst.params,
            period=period,
            logger=logging.getLogger(f"evidentia.collector.{inst.id}"),
            is_first_run=first,
            base_dir=self.config.base_dir,
            cancelled=cancelled.is_set,
            scrub=self.scrubber.scrub,
            cache_dir=self.config.store / layout.TOOL_DIR / "cache" / inst.id,
        )
        result.status = "running"
        result.period = period.to_dict()
        job = _Running(inst, ctx, result, time.monotonic(), cancelled)
        thread = threading.Thread(
            target=self._collect, args=(inst, ctx), name=f"collector-{inst.id}", daemon=True
        )
        thread.start()
        self.progress.update(inst.id, "running")
        return job

    def _collect(self, inst: Instance, ctx: CollectContext) -> None:
        """Runs in the collector's thread: everything it produces goes through the queue."""
        try:
            collector = inst.collector.cls()
            for artefact in collector.collect(ctx):
                if not isinstance(artefact, Artefact):
                    raise TypeError(f"collect() yielded {type(artefact).__name__}, not an Artefact")
                ctx.check_cancelled()
                self.events.put(("artefact", inst.id, (artefact, ctx.take_calls())))
            self.events.put(("done", inst.id, None))
        except CollectionCancelled:
            return
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.debug("collector %s failed", inst.id, exc_info=True)
            self.events.put(("done", inst.id, detail))

    def _drain(self, store: LocalStore, running: dict[str, _Running], timeout: float) -> None:
        try:
            kind, inst_id, payload = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            job = running.get(inst_id)
            if job is not None:  # output of a cut-off collector is ignored
                if kind == "artefact":
                    self._receive(store, job, *payload)
                else:
                    self._complete(store, job, payload)
                    del running[inst_id]
            try:
                kind, inst_id, payload = self.events.get_nowait()
            except queue.Empty:
                return

    def _receive(self, store: LocalStore, job: _Running, artefact: Artefact, calls: list[str]) -> None:
        if job.inst.collector.cls.kind == "events":
            job.held.append((artefact, calls))  # filed only if the whole population was collected
        else:
            self._file(store, job, artefact, calls)
        self.progress.update(job.inst.id, "running", job.result.artefacts + len(job.held))

    def _complete(self, store: LocalStore, job: _Running, error: str | None) -> None:
        result = job.result
        if error is None:
            try:
                for artefact, calls in job.held:
                    self._file(store, job, artefact, calls)
                self._fire_filed(store.flush())
                result.status = "ok"
            except Exception as exc:  # e.g. an artefact that names an unknown principle
                result.status, result.reason = "failed", self.scrubber.scrub(str(exc))
        else:
            result.status, result.reason = "failed", self.scrubber.scrub(error)
            result.discarded = len(job.held)
        self._close(job)

    def _cut_off_overdue(self, running: dict[str, _Running]) -> None:
        for inst_id, job in list(running.items()):
            limit = job.inst.timeout.total_seconds()
            if time.monotonic() - job.started > limit:
                job.cancelled.set()
                job.result.status = "timeout"
                job.result.reason = f"cut off after its time-out of {limit:.0f} s"
                job.result.discarded = len(job.held)
                self._close(job)
                del running[inst_id]

    def _close(self, job: _Running) -> None:
        result = job.result
        result.duration_s = round(time.monotonic() - job.started, 3)
        result.requests = job.ctx.request_count
        result.finished_at = utc_iso(_now())
        self.progress.update(job.inst.id, result.status, result.artefacts, result.reason)

    def _file(self, store: LocalStore, job: _Running, artefact: Artefact, calls: list[str]) -> None:
        inst = job.inst
        content, redacted = redact_fields(artefact.content, inst.collector.cls.redact_fields)
        content, scrubbed = self.scrubber.scrub_bytes(content)
        if redacted or scrubbed:
            artefact = _replace_content(artefact, content)
            job.result.redactions += redacted + scrubbed
        principles = artefact.principles or inst.principles
        if not principles:
            raise ValueError(
                f"artefact {artefact.name!r} supports no principle: declare principles on the "
                f"collector or add `principles:` to instance {inst.id!r}"
            )
        reg = inst.collector
        prov = Provenance(
            instance=inst.id,
            collector=reg.cls.name,
            collector_version=reg.cls.version,
            plugin=reg.plugin.package,
            plugin_version=reg.plugin.version,
            tool_version=__version__,
            run_id=self.run_id,
            kind=reg.cls.kind,
            collected_at=_now(),
            period=job.ctx.period,
            calls=calls,
            params=_public_params(inst),
            stale_after_seconds=int(inst.stale_after.total_seconds()),
        )
        unchanged, flushed = file_artefact(store, self.config.catalog, artefact, principles, prov)
        job.result.findings += len(artefact.findings)
        self._fire_filed(flushed)
        if unchanged:
            job.result.unchanged += 1
        else:
            job.result.artefacts += 1

    def _fire_filed(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry.get("type") not in ("artefact", "unchanged"):
                continue
            try:
                self.host.hook.evidentia_artefact_filed(filing=Filing.from_entry(entry))
            except Exception:
                log.exception("a plugin's evidentia_artefact_filed hook failed")


def _public_params(inst: Instance) -> Mapping[str, Any]:
    """Parameters as provenance: what was asked, with secret parameters named but never shown."""
    secret = set(inst.collector.cls.secret_params)
    return {k: ("[secret from environment]" if k in secret else v) for k, v in inst.params.items()}


def _replace_content(artefact: Artefact, content: bytes) -> Artefact:
    from dataclasses import replace

    return replace(artefact, content=content)
