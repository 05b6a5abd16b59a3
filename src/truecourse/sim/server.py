"""An in-process TrueCourse server for simulations, and an inbox for its notifications.

:class:`SimServer` is the real server — the same :class:`~truecourse.runtime.Runtime`, FastAPI
app and uvicorn a ``truecourse serve`` runs, on a DuckDB file — with one difference: its clock.
While a simulation drives it, "now" is the simulation's event time, and detection ticks when the
simulation says a step is complete rather than on the wall clock. :meth:`SimServer.go_live`
hands it back to the wall clock (the demo does once its timeline has caught up with it).

:class:`Inbox` is a local HTTP server standing in for the on-call teams' webhook endpoints: the
alerting engine delivers real, signed-if-configured HTTP notifications to it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from truecourse.api.listen import listen
from truecourse.config import TrueCourseConfig

__all__ = ["Inbox", "SimClock", "SimServer"]


class SimClock:
    """Event time while a simulation drives it; the wall clock after :meth:`release`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._t = start
        self._lock = threading.Lock()

    def set(self, t: datetime) -> None:
        with self._lock:
            self._t = t

    def release(self) -> None:
        with self._lock:
            self._t = None

    def now(self) -> datetime:
        with self._lock:
            return self._t if self._t is not None else datetime.now(UTC)


@dataclass
class Delivery:
    """One notification as the receiving end saw it."""

    receiver: str
    received_at: float
    body: dict[str, Any]


@dataclass
class Inbox:
    """A webhook endpoint on loopback: ``POST {url}/<receiver>`` is recorded."""

    deliveries: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "inbox not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Inbox:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with inbox._lock:
                    inbox.deliveries.append(Delivery(self.path.strip("/"), time.time(), body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="sim-inbox",
                         daemon=True).start()
        return self

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SimServer:
    """A TrueCourse server in this process on ``db``, under ``config``, on ``host:port``
    (port 0: any free port), whose clock a simulation drives."""

    def __init__(self, config: TrueCourseConfig, db: Path | str, *, host: str = "127.0.0.1",
                 port: int = 0, start: datetime | None = None) -> None:
        self.config = config
        self.db = str(db)
        self.host = host
        self.port = port
        self.clock = SimClock(start)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.runtime: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimServer:
        """Open the store, start the pipeline and serve; detection waits for :meth:`tick`."""
        import uvicorn

        from truecourse.api import create_app
        from truecourse.runtime import Runtime

        sock = listen(self.host, self.port)
        try:
            rt = Runtime.build(self.config, db=self.db)
        except BaseException:
            sock.close()
            raise
        rt.clock = self.clock.now
        rt.start(detection=False)
        self.runtime = rt
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(
            create_app(rt, manage_lifecycle=False), log_level="warning", access_log=False,
            timeout_graceful_shutdown=10))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="sim-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulation's server did not start")
            time.sleep(0.02)
        return self

    def tick(self, now: datetime) -> None:
        """Evaluate detection at every tick due up to event time ``now`` and flush alerting."""
        self.clock.set(now)
        if self.runtime.detection is not None:
            self.runtime.detection.run_once(now)

    def firing(self) -> list[dict[str, Any]]:
        """Firing alerts as the API lists them (at the current clock)."""
        items: list[dict[str, Any]] = self.runtime.alerts.alerts(self.clock.now(),
                                                                 status="firing")
        return items

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.runtime.alerts.stats()
        return stats

    def go_live(self) -> None:
        """Back to the wall clock: the leader-run detection loop takes over from here."""
        self.clock.release()
        self.runtime.start_detection()

    def wait(self) -> None:
        """Block until the server stops (Ctrl+C)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        if self.runtime is not None:
            self.runtime.shutdown()
            self.runtime = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
