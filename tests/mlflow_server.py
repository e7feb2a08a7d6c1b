"""A real MLflow tracking server on loopback, for the `mlflow.registry` tests.

The collector speaks plain REST, so the only honest test partner is the server itself: its paging,
its JSON shapes and its error codes. It runs as `mlflow server` with a SQLite backend and an
artifact root in a temporary folder, job execution disabled (no background workers), in its own
process group so that stopping it also stops the uvicorn/gunicorn workers it forks.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class MlflowServer:
    """A running server: its base URL, how long it took to answer `/health`, and its log file."""

    url: str
    started_in: float
    log: Path


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlflow_command() -> list[str]:
    """`mlflow server` from the same environment as the tests, whatever is first on PATH."""
    script = Path(sys.executable).with_name("mlflow")
    if script.exists():
        return [str(script)]
    found = shutil.which("mlflow")
    return [found] if found else [sys.executable, "-m", "mlflow"]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"mlflow server not healthy after {START_TIMEOUT:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group: TERM first, KILL whatever is left after a few seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextmanager
def running_mlflow(folder: Path) -> Iterator[MlflowServer]:
    """Start `mlflow server` in `folder`, wait for `/health`, and stop its process group after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "mlflow-server.log"
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    command = [
        *mlflow_command(),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--workers",
        "1",
    ]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_healthy(url, proc, log)
        yield MlflowServer(url=url, started_in=time.monotonic() - started, log=log)
    finally:
        _stop(proc)


def call(server: MlflowServer, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST one REST call (`runs/create`, `registered-models/alias`...) and return its JSON answer."""
    response = requests.post(f"{server.url}/api/2.0/mlflow/{endpoint}", json=body, timeout=30)
    if not response.ok:
        raise RuntimeError(f"seeding {endpoint} failed: HTTP {response.status_code} {response.text[:500]}")
    answer = response.json()
    assert isinstance(answer, dict)
    return answer
