"""Connections to PostgreSQL: URLs, ``?`` placeholders, connect errors, the reader pool.

Every connection is made by a :class:`Connector` with a short ``connect_timeout``, the session
time zone UTC and loaders that give plain Python values (NUMERIC as int or float, JSON as
text), so results match DuckDB's. A failed connect raises ``StoreUnavailable`` naming the URL
(password masked), the reason and what to check.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.adapt import AdaptersMap, Loader
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.string import TextLoader

from truecourse.errors import InvalidInput, StoreUnavailable

__all__ = ["Connector", "ReaderPool", "is_broken", "mask_url", "pyformat", "reason"]

CONNECT_TIMEOUT_S = 5


# -- URLs, placeholders, errors ---------------------------------------------------------------

def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) as ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _ = userinfo.partition(":")
        if sep:
            netloc = f"{user}:***@{hostport}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


_TOKEN = re.compile(r"""
      '(?:[^']|'')*'?                       # string literal ('' escapes a quote)
    | [eE]'(?:[^'\\]|\\.|'')*'?             # E'' string with backslash escapes
    | "(?:[^"]|"")*"?                       # quoted identifier
    | --[^\n]*                              # line comment
    | /\*.*?(?:\*/|\Z)                      # block comment
    | (\$[A-Za-z_]?[A-Za-z_0-9]*\$).*?(?:\1|\Z)  # dollar-quoted string
    | [A-Za-z_][A-Za-z_0-9]*                # a word (so a tag inside one is not a quote)
    | \?                                    # placeholder
    | [^'"?$\-/A-Za-z_eE]+ | .              # anything else
""", re.VERBOSE | re.DOTALL)


@functools.lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s``; ``%`` doubled; a ``?`` inside a
    string literal, quoted identifier, comment or dollar quote is left alone."""
    out = []
    for m in _TOKEN.finditer(sql):
        tok = m.group(0)
        out.append("%s" if tok == "?" else tok.replace("%", "%%"))
    return "".join(out)


def reason(exc: BaseException) -> str:
    """The useful part of a libpq error: ``connection refused``, ``database "x" does not
    exist``, ..."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.removeprefix("connection failed: ")
    if " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text).strip()
    return text[:1].lower() + text[1:]


def _connect_hint(why: str) -> str:
    if "does not exist" in why and "database" in why:
        return "create the database (createdb NAME) or fix the database name in the URL"
    if any(w in why for w in ("password", "authentication", "role", "permission")):
        return "check the user and password in the URL (or PGPASSWORD / ~/.pgpass)"
    return "check the server is running and the URL (host, port, database, user) is right"


# -- connections -------------------------------------------------------------------------------

class _NumberLoader(Loader):
    """NUMERIC as int when whole-written, else float: no Decimal reaches the callers."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        if b"." in text or b"N" in text or b"n" in text:  # 1.5, NaN, Infinity
            return float(text)
        return int(text)


_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_loader("numeric", _NumberLoader)
for _json in ("json", "jsonb"):  # JSON results as text, like DuckDB's VARCHAR JSON columns
    _ADAPTERS.register_loader(_json, TextLoader)


class _Context:
    adapters = _ADAPTERS
    connection = None


def is_broken(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.closed or conn.broken)


class ReaderPool:
    """At most ``size`` autocommit read connections; broken ones are dropped, not reused."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], size: int,
                 wait_s: float) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection[Any]] = []
        self._mutex = threading.Lock()
        self._wait_s = wait_s
        self._closed = False
        self.size = size

    def acquire(self) -> tuple[psycopg.Connection[Any], bool]:
        """A connection and whether it was reused (an idle one may have died meanwhile)."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise TimeoutError(f"all {self.size} read connections stayed busy for "
                               f"{self._wait_s:g} s")
        with self._mutex:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            return conn, True
        try:
            return self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: psycopg.Connection[Any]) -> None:
        """Give ``conn`` back; a broken one is closed, and so are the idle ones (a server
        restart or a terminated session rarely takes just one)."""
        try:
            if is_broken(conn):
                conn.close()
                self.discard_idle()
            elif (self._closed
                  or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
                conn.close()
            else:
                with self._mutex:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        with self._mutex:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self.discard_idle()


class Connector:
    """Opens connections to the database of one ``postgresql://`` URL.

    ``url`` is the URL with the password masked (for messages). Raises InvalidInput for a URL
    libpq cannot parse.
    """

    def __init__(self, url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> None:
        self.url = mask_url(url)
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"--db {self.url} is not a valid PostgreSQL URL: {exc}") from exc
        params.setdefault("connect_timeout", str(connect_timeout_s))
        params.setdefault("application_name", "truecourse")
        # a server that vanishes without closing the socket (host down, network cut) is
        # noticed within about a minute instead of the kernel's two hours
        for key, value in (("keepalives", "1"), ("keepalives_idle", "30"),
                           ("keepalives_interval", "10"), ("keepalives_count", "3")):
            params.setdefault(key, value)
        options = str(params.get("options") or "")
        params["options"] = f"{options} -c TimeZone=UTC".strip()
        self._conninfo = make_conninfo("", **params)

    def connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        """A new connection; ``StoreUnavailable`` saying why when there is none."""
        try:
            return psycopg.Connection.connect(self._conninfo, autocommit=autocommit,
                                              context=_Context())
        except psycopg.Error as exc:
            why = reason(exc)
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {self.url}: {why}",
                                   hint=_connect_hint(why)) from exc
