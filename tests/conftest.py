"""Shared fixtures: a real server process on a free port, and service requirements."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REQUIRE_SERVICES = os.environ.get("TRUECOURSE_REQUIRE_SERVICES") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A ``truecourse serve`` child process and where to reach it."""

    proc: subprocess.Popen[bytes]
    base_url: str
    db: Path
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_server(tmp: Path, *extra: str, db: Path | None = None,
                 env: dict[str, str] | None = None) -> ServerProcess:
    """Start ``python -m truecourse serve`` and wait until /readyz answers 200."""
    port = free_port()
    db = db or tmp / "server.duckdb"
    log = tmp / f"server-{port}.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "truecourse", "serve", "--db", str(db), "--port", str(port),
         *extra],
        stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return ServerProcess(proc, base, db, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready after 60 s: {log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    s = start_server(tmp_path)
    yield s
    s.stop()
