"""Real local servers for the notifier tests: an HTTP capture server and a minimal SMTP one."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Captured:
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    #: status codes to answer, in order; 200 once they run out
    statuses: list[int] = field(default_factory=list)


@contextmanager
def http_capture(statuses: list[int] | None = None) -> Iterator[tuple[str, Captured]]:
    """An HTTP server on a free port recording every POST; yields (base URL, captured)."""
    captured = Captured(statuses=list(statuses or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                captured.requests.append((self.path, dict(self.headers), body))
                code = captured.statuses.pop(0) if captured.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: str


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Mail]]]:
    """A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, QUIT, RSET, NOOP) on a free port."""
    mails: list[Mail] = []

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            sender, rcpts = "", []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                cmd = raw.decode().rstrip("\r\n")
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    self.reply("250-localhost")
                    self.reply("250 8BITMIME")
                elif verb == "HELO":
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    sender = cmd.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        line = self.rfile.readline().decode()
                        if line.rstrip("\r\n") == ".":
                            break
                        lines.append(line[1:] if line.startswith("..") else line)
                    mails.append(Mail(sender, rcpts, "".join(lines)))
                    sender, rcpts = "", []
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                elif verb in ("RSET", "NOOP"):
                    self.reply("250 OK")
                else:
                    self.reply("502 Command not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], mails
    finally:
        server.shutdown()
        server.server_close()
