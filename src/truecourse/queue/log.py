"""The ingest log on NATS JetStream: ingest nodes publish batches, workers consume them.

::

    log = IngestLog(config.queue)            # url from queue.url or --queue
    await log.connect()                      # QueueUnavailable naming the URL when unreachable
    await log.publish("spans", arrow, key)   # returns once JetStream stored every chunk
    sub = await log.subscribe()              # the durable pull consumer all workers share

The stream uses work-queue retention (a batch is removed once a worker acknowledged it) and
discards new messages when full, so ``max_bytes`` bounds the unprocessed backlog and a full
stream is answered 503 + Retry-After, never silently dropped. Each message carries
``Nats-Msg-Id`` = the batch key: JetStream drops a republished key within
``duplicate_window_s`` (a sender's retry after the server died between ack and answer), and the
workers' ledger skips a key that was committed before.

A message holds one table's rows as compressed Arrow IPC; a batch bigger than the server's
``max_payload`` is split into several messages by rows, each with its own key suffix.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import nats
import pyarrow as pa
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from truecourse.config import QueueConfig
from truecourse.errors import InvalidInput, QueueFull, QueueUnavailable
from truecourse.model import TABLE_COLUMNS, ArrowBatch

log = logging.getLogger(__name__)

TABLE_HEADER = "Tc-Table"
FORMAT_HEADER = "Tc-Format"
FORMAT = "arrow-ipc-lz4-1"
_STREAM_FULL_CODES = {10077, 10047, 10028}  # max bytes / insufficient resources / msg size
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
_HEADROOM = 4096  # bytes of max_payload left for headers


def batch_key(signal: str, body: bytes, content_type: str | None = None,
              content_encoding: str | None = None, project: str = "default") -> str:
    """The key of one received body: the same bytes sent again (to the same project) give
    the same key."""
    h = hashlib.blake2b(digest_size=16)
    parts = (signal, content_type or "", content_encoding or "")
    for part in parts if project == "default" else (*parts, project):
        h.update(part.encode())
        h.update(b"\0")
    h.update(body)
    return h.hexdigest()


def encode_chunks(arrow: pa.Table, max_bytes: int) -> list[bytes]:
    """Arrow IPC payloads of at most ``max_bytes`` each, splitting ``arrow`` by rows.

    Raises ``InvalidInput`` when a single row does not fit (an attribute larger than the NATS
    server's max_payload).
    """
    pending = [arrow]
    out: list[bytes] = []
    while pending:
        part = pending.pop(0)
        data = _ipc(part)
        if len(data) <= max_bytes:
            out.append(data)
            continue
        if part.num_rows <= 1:
            raise InvalidInput(
                f"one row is {len(data)} bytes as a queue message, over the NATS max_payload "
                f"of {max_bytes + _HEADROOM} bytes",
                hint="raise max_payload in nats-server.conf or send smaller attributes")
        pieces = min(part.num_rows, -(-len(data) // max_bytes) + 1)
        step = -(-part.num_rows // pieces)
        pending[0:0] = [part.slice(i, step) for i in range(0, part.num_rows, step)]
    return out


def _ipc(arrow: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(arrow)
    return bytes(sink.getvalue().to_pybytes())


def decode_message(headers: dict[str, str] | None, data: bytes) -> ArrowBatch:
    """The rows of one queue message; ``InvalidInput`` for a message no worker can read."""
    headers = headers or {}
    table = headers.get(TABLE_HEADER)
    if table not in TABLE_COLUMNS:
        raise InvalidInput(f"queue message has table header {table!r}, not one of "
                           f"{sorted(TABLE_COLUMNS)}")
    if headers.get(FORMAT_HEADER) != FORMAT:
        raise InvalidInput(f"queue message format {headers.get(FORMAT_HEADER)!r} is not {FORMAT}",
                           hint="run workers of the same TrueCourse version as the servers")
    try:
        return ArrowBatch.from_ipc(table, data)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"queue message is not readable Arrow IPC: {exc}") from exc


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    user = cred.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in cred else url


class IngestLog:
    """A connection to the JetStream ingest stream; one per process, used from its event loop."""

    def __init__(self, config: QueueConfig, url: str | None = None) -> None:
        self.config = config
        url = url or config.url
        if not url:
            raise InvalidInput("no queue URL", hint="pass --queue nats://host:4222 or set "
                                                    "queue.url")
        if not url.startswith(("nats://", "tls://")):
            raise InvalidInput(f"--queue {url!r} is not a nats:// URL",
                               hint="for example --queue nats://127.0.0.1:4222")
        self.url = url
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._first_error: Exception | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and make sure the stream exists with the configured limits.

        Raises ``QueueUnavailable`` naming the URL when NATS cannot be reached or JetStream is
        not enabled on it. After a successful connect the client reconnects on its own.
        """
        if self._nc is not None:
            return
        try:
            # nats-py retries a failed first connect up to max_reconnect_attempts (forever at -1),
            # so a first, bounded attempt makes an unreachable server an error at start-up
            first = await nats.connect(self.url, connect_timeout=3, allow_reconnect=False,
                                       max_reconnect_attempts=1, reconnect_time_wait=0.1,
                                       error_cb=self._remember)
            await first.close()
            nc = await nats.connect(
                self.url, connect_timeout=3, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                allow_reconnect=True, name="truecourse",
                error_cb=self._on_error, disconnected_cb=self._on_disconnect)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            cause = self._first_error or exc
            raise QueueUnavailable(
                f"cannot connect to NATS at {masked_url(self.url)}: "
                f"{getattr(cause, 'strerror', None) or cause or type(cause).__name__}",
                hint="check nats-server is running with JetStream (-js) and the --queue URL "
                     "host and port") from exc
        self._nc = nc
        self._js = nc.jetstream(timeout=self.config.publish_timeout_s)
        try:
            await self._ensure_stream()
        except BaseException:
            await self.close()
            raise

    async def _remember(self, exc: Exception) -> None:
        self._first_error = self._first_error or exc

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS %s: %s", masked_url(self.url), exc)

    async def _on_disconnect(self) -> None:
        log.warning("disconnected from NATS %s; reconnecting", masked_url(self.url))

    def _stream_config(self) -> js_api.StreamConfig:
        c = self.config
        return js_api.StreamConfig(
            name=c.stream, subjects=[f"{c.subject_prefix}.>"],
            retention=js_api.RetentionPolicy.WORK_QUEUE, discard=js_api.DiscardPolicy.NEW,
            storage=js_api.StorageType.FILE, max_bytes=c.max_bytes, max_age=c.max_age_s,
            duplicate_window=c.duplicate_window_s, num_replicas=c.replicas)

    async def _ensure_stream(self) -> None:
        js = self._jetstream()
        want = self._stream_config()
        try:
            try:
                info = await js.stream_info(self.config.stream)
            except NotFoundError:
                await js.add_stream(want)
                return
            have = info.config
            if (have.max_bytes, have.max_age, have.duplicate_window) != (
                    want.max_bytes, want.max_age, want.duplicate_window):
                await js.update_stream(want)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
            raise QueueUnavailable(
                f"NATS at {masked_url(self.url)} does not answer JetStream requests",
                hint="start nats-server with JetStream enabled (-js)") from exc
        except APIError as exc:
            raise QueueUnavailable(
                f"cannot set up JetStream stream {want.name} on {masked_url(self.url)}: "
                f"{exc.description or exc}",
                hint="check the stream's existing settings (retention must be workqueue) and "
                     "the server's JetStream limits") from exc

    async def close(self) -> None:
        """Flush pending acknowledgements and disconnect; safe to call twice."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.drain()
            with contextlib.suppress(Exception):
                await nc.close()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise QueueUnavailable(f"not connected to NATS at {masked_url(self.url)}")
        return self._js

    async def ping(self) -> None:
        """Raise ``QueueUnavailable`` unless the stream answers now (readiness)."""
        if not self.connected:
            raise QueueUnavailable(f"not connected to NATS at {masked_url(self.url)}")
        try:
            await asyncio.wait_for(self._jetstream().stream_info(self.config.stream), 2.0)
        except (TimeoutError, nats.errors.Error) as exc:
            raise QueueUnavailable(f"JetStream stream {self.config.stream} on "
                                   f"{masked_url(self.url)} does not answer: "
                                   f"{exc or type(exc).__name__}") from exc

    async def backlog(self) -> dict[str, int]:
        """Messages and bytes waiting in the stream."""
        info = await self._jetstream().stream_info(self.config.stream)
        return {"messages": int(info.state.messages), "bytes": int(info.state.bytes)}

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, table: str, arrow: pa.Table, key: str) -> int:
        """Store ``arrow`` (rows of ``table``) in the stream; the number of messages used.

        Returns only after JetStream acknowledged every message. Raises ``QueueFull`` when the
        stream is at ``max_bytes`` and ``QueueUnavailable`` when NATS does not acknowledge
        within ``publish_timeout_s``; after either, any part already stored is kept and a retry
        of the same key is deduplicated.
        """
        js = self._jetstream()
        assert self._nc is not None
        chunks = encode_chunks(arrow, max(self._nc.max_payload - _HEADROOM, 1024))
        subject = f"{self.config.subject_prefix}.{table}"
        n = len(chunks)

        async def one(i: int, data: bytes) -> None:
            headers = {TABLE_HEADER: table, FORMAT_HEADER: FORMAT,
                       "Nats-Msg-Id": key if n == 1 else f"{key}-{i}of{n}"}
            await js.publish(subject, data, headers=headers,
                             timeout=self.config.publish_timeout_s)

        try:
            await asyncio.gather(*(one(i, d) for i, d in enumerate(chunks)))
        except ServiceUnavailableError as exc:
            if exc.err_code in _STREAM_FULL_CODES:
                raise QueueFull(
                    f"ingest stream {self.config.stream} is full ({exc.description})",
                    hint="retry after the Retry-After delay; add workers or raise "
                         "queue.max_bytes") from exc
            raise self._unavailable(exc) from exc
        except (TimeoutError, nats.errors.Error, APIError) as exc:
            raise self._unavailable(exc) from exc
        return n

    def _unavailable(self, exc: BaseException) -> QueueUnavailable:
        return QueueUnavailable(
            f"NATS at {masked_url(self.url)} did not store the batch: "
            f"{str(exc) or type(exc).__name__}",
            hint="retry after the Retry-After delay; check nats-server and its JetStream "
                 "storage")

    # -- consuming ----------------------------------------------------------------------------

    async def subscribe(self) -> Any:
        """The durable pull consumer shared by all workers (created on first use)."""
        js = self._jetstream()
        c = self.config
        cfg = js_api.ConsumerConfig(
            durable_name=c.consumer, ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=c.ack_wait_s, max_deliver=-1, max_ack_pending=-1)
        try:
            return await js.pull_subscribe(f"{c.subject_prefix}.>", durable=c.consumer,
                                           stream=c.stream, config=cfg)
        except (nats.errors.Error, APIError) as exc:
            raise QueueUnavailable(
                f"cannot open consumer {c.consumer} on stream {c.stream} at "
                f"{masked_url(self.url)}: {exc}") from exc


async def probe(config: QueueConfig, url: str | None = None) -> None:
    """Connect, set up the stream and disconnect: the start-up check of ``serve``/``worker``."""
    ingest_log = IngestLog(config, url)
    try:
        await ingest_log.connect()
    finally:
        await ingest_log.close()


def message_keys(messages: Sequence[Any]) -> list[str]:
    """The ledger key of each message: its ``Nats-Msg-Id`` (stream sequence when missing)."""
    out = []
    for m in messages:
        key = (m.headers or {}).get("Nats-Msg-Id")
        out.append(key or f"seq-{m.metadata.sequence.stream}")
    return out
