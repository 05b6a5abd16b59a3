"""OTLP/HTTP request bodies to batches: media types, gzip, size limits, protobuf and JSON.

The receiver calls :func:`decode` with the raw body and headers and gets a
:class:`~truecourse.ingest.result.DecodeResult`; :func:`encode_response` builds the
spec-shaped answer (``partial_success`` when items were rejected) in the request's encoding.

Errors: an unknown media type raises ``UnsupportedMediaType`` (415); a body over the limit,
compressed or not, raises ``PayloadTooLarge`` (413); an undecodable body raises ``InvalidInput``
(400) saying why. Items that decode but are invalid (bad ids, a JSON span that does not fit the
schema) are rejected one by one and counted, and the valid rest is kept.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_svc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_svc
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from truecourse.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from truecourse.ingest.otlp_logs import logs_from_request
from truecourse.ingest.otlp_metrics import metrics_from_request
from truecourse.ingest.otlp_traces import spans_from_request
from truecourse.ingest.result import DecodeResult
from truecourse.model import DEFAULT_PROJECT

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class Signal:
    """How one OTLP signal is laid out, in protobuf and in JSON."""

    name: str
    request: type[Message]
    response: type[Message]
    partial: type[Message]
    rejected_field: str
    keys: tuple[str, str, str]  # JSON: resource list, scope list, item list
    fields: tuple[str, str, str]  # protobuf: the same three
    item: type[Message]
    to_batch: Callable[[Any, DecodeResult | None], DecodeResult]
    empty: Callable[[], DecodeResult]


def _empty(table: str) -> Callable[[], DecodeResult]:
    from truecourse.model import BATCH_TYPES

    return lambda: DecodeResult(BATCH_TYPES[table]())


SIGNALS: dict[str, Signal] = {
    "traces": Signal(
        "traces", trace_svc.ExportTraceServiceRequest, trace_svc.ExportTraceServiceResponse,
        trace_svc.ExportTracePartialSuccess, "rejected_spans",
        ("resourceSpans", "scopeSpans", "spans"), ("resource_spans", "scope_spans", "spans"),
        trace_pb2.Span, spans_from_request, _empty("spans")),
    "logs": Signal(
        "logs", logs_svc.ExportLogsServiceRequest, logs_svc.ExportLogsServiceResponse,
        logs_svc.ExportLogsPartialSuccess, "rejected_log_records",
        ("resourceLogs", "scopeLogs", "logRecords"), ("resource_logs", "scope_logs", "log_records"),
        logs_pb2.LogRecord, logs_from_request, _empty("logs")),
    "metrics": Signal(
        "metrics", metrics_svc.ExportMetricsServiceRequest,
        metrics_svc.ExportMetricsServiceResponse, metrics_svc.ExportMetricsPartialSuccess,
        "rejected_data_points",
        ("resourceMetrics", "scopeMetrics", "metrics"),
        ("resource_metrics", "scope_metrics", "metrics"),
        metrics_pb2.Metric, metrics_from_request, _empty("metric_points")),
}


def media_type(content_type: str | None) -> str:
    """The request's OTLP encoding, or ``UnsupportedMediaType`` naming what is accepted."""
    mt = (content_type or "").split(";", 1)[0].strip().lower()
    if mt in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if mt == JSON:
        return JSON
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type!r}",
        hint=f"send OTLP as {PROTOBUF} or {JSON}")


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body with gzip/deflate removed; the limit applies to the decompressed size too."""
    enc = (content_encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"unsupported Content-Encoding {content_encoding!r}",
                                   hint="use gzip, deflate or no encoding")
    wbits = 16 + zlib.MAX_WBITS if enc == "gzip" else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"body is not valid {enc}: {exc}") from exc
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body is over the limit of {limit} bytes",
                              hint="send smaller batches or raise server.max_body_bytes")
    if not d.eof:
        raise InvalidInput(f"body is truncated {enc} data")
    return out


def decode(signal: str, body: bytes, content_type: str | None,
           content_encoding: str | None = None, limit: int = 8 << 20,
           project: str = DEFAULT_PROJECT) -> DecodeResult:
    """Decode one OTLP/HTTP export body for ``signal`` (traces, logs, metrics); every row
    belongs to ``project`` (the sending key's)."""
    result = _decode(signal, body, content_type, content_encoding, limit)
    result.batch.stamp_project(project)
    return result


def _decode(signal: str, body: bytes, content_type: str | None,
            content_encoding: str | None, limit: int) -> DecodeResult:
    sig = SIGNALS[signal]
    mt = media_type(content_type)
    if len(body) > limit:
        raise PayloadTooLarge(f"body of {len(body)} bytes is over the limit of {limit} bytes",
                              hint="send smaller batches or raise server.max_body_bytes")
    raw = decompress(body, content_encoding, limit)
    if mt == PROTOBUF:
        req = sig.request()
        try:
            req.ParseFromString(raw)
        except DecodeError as exc:
            raise InvalidInput(
                f"body is not a valid OTLP {sig.request.DESCRIPTOR.name} protobuf: {exc}",
                hint="check the Content-Type and that the body is not compressed "
                     "without Content-Encoding") from exc
        return sig.to_batch(req, None)
    return _decode_json(sig, raw)


def _decode_json(sig: Signal, raw: bytes) -> DecodeResult:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"OTLP JSON body must be an object with {sig.keys[0]!r}, "
                           f"got {type(doc).__name__}")
    result = sig.empty()
    req = sig.request()
    rkey, skey, ikey = sig.keys
    rfield, sfield, ifield = sig.fields
    resources = doc.get(rkey, [])
    if not isinstance(resources, list):
        raise InvalidInput(f"{rkey} must be a list")
    # a broken resource or scope rejects only the items under it; the rest is kept
    for ri, rdoc in enumerate(resources):
        where_r = f"{rkey}[{ri}]"
        opened = _open_level(sig, result, getattr(req, rfield), rdoc, where_r, "resource", 0)
        if opened is None:
            continue
        rmsg, scopes = opened
        for si, sdoc in enumerate(scopes):
            where_s = f"{where_r}.{skey}[{si}]"
            opened = _open_level(sig, result, getattr(rmsg, sfield), sdoc, where_s, "scope", 1)
            if opened is None:
                continue
            smsg, item_docs = opened
            items = getattr(smsg, ifield)
            for ii, idoc in enumerate(item_docs):
                where = f"{where_s}.{ikey}[{ii}]"
                try:
                    item = _parse_item(sig, idoc)
                except ValueError as exc:
                    result.reject(f"{where}: {exc}", _item_count(sig, idoc))
                    continue
                items.append(item)
    return sig.to_batch(req, result)


def _open_level(sig: Signal, result: DecodeResult, container: Any, doc: Any, where: str,
                header: str, level: int) -> tuple[Any, list[Any]] | None:
    """Add a resource (level 0) or scope (level 1) message parsed from ``doc`` to ``container``.

    Returns the message and the child documents under it, or None after rejecting every item
    the level carried when it is not an object or its header does not fit the schema.
    """
    if not isinstance(doc, dict):
        result.reject(f"{where}: must be an object, got {type(doc).__name__}")
        return None
    msg = container.add()
    try:
        json_format.ParseDict(doc.get(header) or {}, getattr(msg, header),
                              ignore_unknown_fields=True)
        children = _list(doc, sig.keys[level + 1], where)
    except (json_format.ParseError, TypeError, ValueError, InvalidInput) as exc:
        del container[-1]
        result.reject(f"{where}.{header}: {_reason(exc)}", _count_under(sig, doc, level))
        return None
    return msg, children


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, InvalidInput) else str(exc)


def _count_under(sig: Signal, doc: Any, level: int) -> int:
    """How many items a rejected resource (level 0) or scope (level 1) carried, at least 1."""
    keys = sig.keys[level + 1:]
    nodes = [doc]
    for key in keys:
        nxt: list[Any] = []
        for node in nodes:
            value = node.get(key) if isinstance(node, dict) else None
            if isinstance(value, list):
                nxt.extend(value)
        nodes = nxt
    return max(1, sum(_item_count(sig, n) for n in nodes))


def _list(doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where}.{key} must be a list, got {type(value).__name__}")
    return value


_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id",
                      "parent_span_id"})


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP JSON ids are hex; protobuf's JSON mapping wants base64. Raises ValueError on bad hex."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_KEYS and isinstance(v, str):
                try:
                    raw = bytes.fromhex(v)
                except ValueError:
                    raise ValueError(f"{k} {v!r} is not hex") from None
                out[k] = base64.b64encode(raw).decode("ascii")
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


def _parse_item(sig: Signal, idoc: Any) -> Message:
    if not isinstance(idoc, dict):
        raise ValueError(f"must be an object, got {type(idoc).__name__}")
    item = sig.item()
    try:
        json_format.ParseDict(_hex_ids_to_base64(idoc), item, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ValueError(str(exc)) from None
    except (TypeError, OverflowError) as exc:
        raise ValueError(f"invalid value: {exc}") from None
    return item


def _item_count(sig: Signal, idoc: Any) -> int:
    """Rejected-item count for a bad JSON item: a metric counts its data points."""
    if sig.name != "metrics" or not isinstance(idoc, dict):
        return 1
    for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
        data = idoc.get(kind)
        if isinstance(data, dict) and isinstance(data.get("dataPoints"), list):
            return max(1, len(data["dataPoints"]))
    return 1


def encode_response(signal: str, rejected: int, error_message: str, media: str) -> bytes:
    """The Export*ServiceResponse in ``media``; ``partial_success`` when items were rejected."""
    sig = SIGNALS[signal]
    resp = sig.response()
    if rejected:
        ps = resp.partial_success  # type: ignore[attr-defined]
        setattr(ps, sig.rejected_field, rejected)
        ps.error_message = error_message
    if media == JSON:
        return json_format.MessageToJson(resp, indent=None).encode()
    return resp.SerializeToString()


__all__ = ["JSON", "PROTOBUF", "SIGNALS", "decode", "encode_response", "media_type"]
