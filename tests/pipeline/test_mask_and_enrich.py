"""The guard's regex masking and the catalog enricher."""

from __future__ import annotations

from truecourse.config import CatalogConfig, GuardConfig
from truecourse.pipeline.processors import CatalogEnricher, MaskProcessor

from pipeline.telemetry_rows import logs, metrics, spans

KEY = "sk-" + "A" * 24


def guard(rules: list[dict[str, str]], **extra: object) -> MaskProcessor:
    return MaskProcessor(GuardConfig.model_validate({"mask": rules, **extra}))


def test_mask_replaces_matches_in_guarded_columns() -> None:
    stage = guard([{"name": "api_key", "pattern": "sk-[A-Za-z0-9]{20,}"},
                   {"name": "email", "pattern": r"[\w.]+@[\w.]+\.\w+", "replacement": "<email>"}])
    batch = spans(
        {"input_text": f"my key is {KEY}, mail bob@example.com", "output_text": "ok",
         "name": KEY},
        {"input_text": None, "output_text": f"{KEY}\n{KEY}"},
    )
    out = stage.process(batch)
    assert out["input_text"] == ["my key is [REDACTED:api_key], mail <email>", None]
    assert out["output_text"] == ["ok", "[REDACTED:api_key]\n[REDACTED:api_key]"]
    assert out["name"] == [KEY, "op"]  # not a guarded column
    assert batch["input_text"][0].startswith("my key is sk-")  # the input batch is untouched
    assert (stage.stats.masked, stage.stats.values_changed) == (4, 2)
    assert stage.stats.by_rule == {"api_key": 3, "email": 1}


def test_mask_logs_body_and_first_rule_wins_at_a_position() -> None:
    stage = guard([{"name": "long", "pattern": "secret-[0-9]+"},
                   {"name": "short", "pattern": "secret"}])
    out = stage.process(logs({"body": "secret-42 and secret"}))
    assert out["body"] == ["[REDACTED:long] and [REDACTED:short]"]


def test_mask_falls_back_to_one_pass_per_rule() -> None:
    stage = guard([{"name": "pair", "pattern": r"(\w)\1{3,}"},
                   {"name": "digits", "pattern": r"\d{4}"}])
    out = stage.process(logs({"body": "aaaa 1234"}))
    assert out["body"] == ["[REDACTED:pair] [REDACTED:digits]"]


def test_mask_without_rules_or_columns_passes_batches_through() -> None:
    batch = spans({"input_text": KEY})
    assert guard([], detect=False, injection={"enabled": False}).process(batch) is batch
    clean = spans({"input_text": "where is my order?", "attributes": '{"n": 1}'})
    assert guard([]).process(clean) is clean  # detectors on, nothing found: shared as is
    only_body = guard([{"name": "k", "pattern": "sk-"}], columns=["body"],
                      injection={"enabled": False})
    assert "spans" not in only_body.tables
    assert only_body.process(batch) is batch


CATALOG = CatalogConfig.model_validate({"services": {
    "chat-api": {"owner": "alice@example.com", "team": "assistants", "environment": "prod"},
    "retriever": {"team": "search"},
}})


def test_enrich_sets_team_owner_and_default_env() -> None:
    stage = CatalogEnricher(CATALOG)
    batch = spans(
        {"service": "chat-api"},
        {"service": "chat-api", "env": "staging", "team": "stale"},
        {"service": "retriever"},
        {"service": "unknown", "team": "theirs"},
        {"service": None},
    )
    out = stage.process(batch)
    assert out["team"] == ["assistants", "assistants", "search", "theirs", None]
    assert out["owner"] == ["alice@example.com", "alice@example.com", None, None, None]
    assert out["env"] == ["prod", "staging", None, None, None]
    assert batch["team"][0] is None  # copy-on-write
    assert stage.stats.enriched == 3


def test_enrich_logs_and_metrics_and_empty_catalog() -> None:
    stage = CatalogEnricher(CATALOG)
    assert stage.process(logs({"service": "chat-api"}))["env"] == ["prod"]
    assert stage.process(metrics({"service": "retriever"}))["team"] == ["search"]
    batch = spans({"service": "chat-api"})
    assert CatalogEnricher(CatalogConfig()).process(batch) is batch


def test_guard_masks_attribute_json_and_keeps_it_valid() -> None:
    import orjson

    from truecourse.config import GuardConfig
    from truecourse.ingest.otlp import decode
    from truecourse.pipeline.processors.guard import MaskProcessor

    import otlp_builders as ob

    req = ob.trace_request([ob.span("chat", attrs={
        "gen_ai.input.messages":
            '[{"role":"user","content":"my key is sk-ABCDEFGHIJKLMNOPQRSTUV"}]',
        "note": "call 555-0100"})])
    batch = decode("traces", req.SerializeToString(), "application/x-protobuf").batch
    rules = [{"name": "api_key", "pattern": "sk-[A-Za-z0-9]{20,}"},
             # a careless rule whose match runs across JSON syntax ("...": "...")
             {"name": "greedy", "pattern": r"0100.*"}]
    out = MaskProcessor(GuardConfig.model_validate({"mask": rules})).process(batch)
    attrs = orjson.loads(out["attributes"][0])  # still valid JSON
    assert "sk-ABCDEFGHIJKLMNOPQRSTUV" not in out["attributes"][0]
    assert "[REDACTED:api_key]" in attrs["gen_ai.input.messages"]
    assert attrs["note"] == "call 555-[REDACTED:greedy]"


def test_guard_masks_json_column_text_that_is_not_json_without_failing_the_batch() -> None:
    # ingest falls back to str() for a value it cannot encode, and NaN is not JSON either;
    # a match there used to raise JSONDecodeError and fail the whole batch
    stage = guard([{"name": "k", "pattern": "sk-[A-Za-z0-9]{20,}"}])
    batch = spans({"attributes": f"not json {KEY}"},
                  {"attributes": f'{{"a": NaN, "key": "{KEY}"}}'},
                  {"attributes": f'{{"key": "{KEY}"}}'})
    out = stage.process(batch)
    assert out["attributes"] == ["not json [REDACTED:k]",
                                 '{"a": NaN, "key": "[REDACTED:k]"}',
                                 '{"key": "[REDACTED:k]"}']
    assert stage.stats.by_rule == {"k": 3}
