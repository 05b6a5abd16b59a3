"""Receivers' decoding: OTLP (protobuf and JSON) and events to columnar batches, and the
semantic-convention mapping of GenAI / OpenInference / OpenLLMetry attributes."""

from truecourse.ingest.events import EventsResult, events_from_json
from truecourse.ingest.otlp import decode, encode_response, media_type
from truecourse.ingest.result import DecodeResult
from truecourse.ingest.semconv import map_span

__all__ = [
    "DecodeResult",
    "EventsResult",
    "decode",
    "encode_response",
    "events_from_json",
    "map_span",
    "media_type",
]
