"""The listening socket a server binds before anything else, so a taken port fails fast."""

from __future__ import annotations

import socket

from truecourse.errors import InvalidInput

__all__ = ["listen"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or InvalidInput saying why not (port in use, ...)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="pick another --port, or stop what holds it") from exc
    return sock
