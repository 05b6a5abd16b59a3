"""Bad input: binary and non-UTF-8 text, megabyte values, deep nesting — scanned within bounds
or marked unscanned, never passed through silently, never failing the batch."""

from __future__ import annotations

from typing import Any

import orjson

from truecourse.config import GuardConfig
from truecourse.guard import WITHHELD, Guard, RowSafety
from truecourse.pipeline.processors import GuardProcessor

from pipeline.telemetry_rows import logs, spans

EMAIL = "bob@example.com"


def _unscanned(safety: RowSafety) -> dict[str, int]:
    return {e["safety.type"]: e["safety.count"] for e in safety.events()
            if e["safety.kind"] == "unscanned"}


def test_megabyte_value_is_scanned_up_to_the_bound_and_the_rest_marked() -> None:
    guard = Guard(GuardConfig(max_value_chars=100_000))
    text = f"{EMAIL} " + "x" * 200_000 + f" {EMAIL}"
    safety = RowSafety()
    out = guard.guard_text(text, "input_text", safety)
    assert out is not None and EMAIL not in out
    assert out.startswith("<EMAIL> ") and out.endswith(f"<UNSCANNED:{len(text) - 100_000} chars>")
    assert len(out) < 100_100
    assert _unscanned(safety) == {"TOO_LARGE": 1}


def test_megabyte_attribute_in_json_keeps_json_valid_and_the_rest_of_the_row() -> None:
    guard = Guard(GuardConfig(max_value_chars=100_000))
    attrs = orjson.dumps({"big": "y" * 1_500_000 + EMAIL, "mail": EMAIL, "n": 7}).decode()
    safety = RowSafety()
    out = guard.guard_json(attrs, "attributes", safety)
    assert out is not None
    parsed = orjson.loads(out)
    assert parsed["mail"] == "<EMAIL>" and parsed["n"] == 7
    assert parsed["big"].endswith("<UNSCANNED:1400015 chars>") and EMAIL not in out
    assert _unscanned(safety) == {"TOO_LARGE": 1}


def test_deep_nesting_is_masked_as_text_below_the_depth_bound() -> None:
    guard = Guard(GuardConfig(max_depth=5, fields=[{"field": "attributes.*", "action": "redact"}]))
    node: Any = {"mail": EMAIL}
    for _ in range(40):
        node = {"d": [node]}
    safety = RowSafety()
    out = guard.guard_json(orjson.dumps({"top": EMAIL, "deep": node}).decode(), "attributes",
                           safety)
    assert out is not None and EMAIL not in out
    orjson.loads(out)  # still JSON
    assert _unscanned(safety) == {"DEPTH": 1}


def test_binary_and_replacement_characters_are_scanned_not_skipped() -> None:
    raw = b"\x00\x01\xff\xfe card 4111111111111111 \x80\x81" + EMAIL.encode()
    text = raw.decode("utf-8", errors="replace")
    surrogates = raw.decode("utf-8", errors="surrogateescape")
    guard = Guard(GuardConfig())
    for value in (text, surrogates):
        safety = RowSafety()
        out = guard.guard_text(value, "body", safety)
        assert out is not None and "4111111111111111" not in out and EMAIL not in out
    # lone surrogates cannot be encoded by orjson: the JSON path falls back, does not raise
    safety = RowSafety()
    out = guard.guard_json('{"a": 1}', "attributes", safety)
    assert out == '{"a": 1}'
    walked = guard._walk({"v": surrogates}, [], 0, "attributes", safety)[0]
    assert EMAIL not in str(walked)


def test_a_failing_detector_withholds_the_value_and_the_batch_survives(monkeypatch: Any) -> None:
    stage = GuardProcessor(GuardConfig())

    def broken(text: str, key: str | None = None) -> list[Any]:
        if "boom" in text:
            raise RuntimeError("detector bug")
        return []

    monkeypatch.setattr(stage.guard, "findings", broken)
    out = stage.process(logs({"body": "boom"}, {"body": "fine"}))
    assert out["body"] == [WITHHELD, "fine"]
    safety = orjson.loads(out["attributes"][0])["truecourse.safety"]
    assert safety == [{"safety.kind": "unscanned", "safety.type": "ERROR",
                       "safety.field": "body", "safety.count": 1}]
    assert stage.stats.unscanned == 1


def test_json_column_that_is_not_json_is_scanned_as_text() -> None:
    stage = GuardProcessor(GuardConfig())
    out = stage.process(spans({"attributes": f"not json {EMAIL}"}))
    assert out["attributes"] == ["not json <EMAIL>"]


def test_metric_point_attributes_are_masked_too() -> None:
    from pipeline.telemetry_rows import metrics

    stage = GuardProcessor(GuardConfig())
    out = stage.process(metrics({"attributes": {"user.email": EMAIL, "region": "eu"}}))
    assert orjson.loads(out["attributes"][0]) == {"user.email": "<EMAIL>", "region": "eu"}
    assert stage.stats.by_type["EMAIL"] == 1
