"""The shipped pricing catalog, model-name resolution, costs and overrides."""

from __future__ import annotations

import datetime as dt
import math
from importlib import resources
from typing import Any

import pytest
import yaml

from truecourse.errors import InvalidInput
from truecourse.measure import pricing
from truecourse.measure.pricing import (
    STATUS_CATALOG,
    STATUS_UNKNOWN_MODEL,
    Price,
    PricingCatalog,
    cost_usd,
    price_spans,
    validate_override,
)

SOURCES = {
    "openai": "https://openai.com/api/pricing/",
    "anthropic": "https://www.anthropic.com/pricing#api",
    "google": "https://ai.google.dev/gemini-api/docs/pricing",
    "mistral": "https://mistral.ai/pricing#api-pricing",
    "cohere": "https://cohere.com/pricing",
    "together": "https://www.together.ai/pricing",
    "groq": "https://groq.com/pricing/",
    "bedrock": "https://aws.amazon.com/bedrock/pricing/",
    "deepseek": "https://api-docs.deepseek.com/quick_start/pricing",
    "xai": "https://docs.x.ai/docs/models",
}
REQUIRED = {
    "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3",
               "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-3.5-turbo",
               "text-embedding-3-small", "text-embedding-3-large"],
    "anthropic": ["claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4",
                  "claude-opus-4", "claude-3-haiku", "claude-3-opus", "claude-haiku-4-5",
                  "claude-sonnet-4-5", "claude-opus-4-1"],
    "google": ["gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash",
               "gemini-2.5-pro"],
    "mistral": ["mistral-large", "mistral-small", "mistral-medium", "codestral",
                "open-mistral-nemo"],
    "cohere": ["command-r", "command-r-plus", "command-a", "embed-v4.0"],
    "together": ["meta-llama/Llama-3.3-70B-Instruct-Turbo",
                 "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                 "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
                 "Qwen/Qwen2.5-72B-Instruct-Turbo"],
    "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "bedrock": ["meta.llama3-1-70b-instruct-v1:0", "meta.llama3-3-70b-instruct-v1:0"],
}


@pytest.fixture(scope="module")
def catalog() -> PricingCatalog:
    return PricingCatalog.load_default()


def test_public_surface() -> None:
    assert all(hasattr(pricing, name) for name in pricing.__all__)
    assert {"Price", "PricingCatalog", "cost_usd", "price_spans", "validate_override"} <= set(
        pricing.__all__)


def test_shipped_file_header() -> None:
    text = resources.files("truecourse.measure").joinpath("pricing_catalog.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["currency"] == "USD"
    assert data["unit"] == "per 1M tokens"
    assert isinstance(data["version"], str)
    dt.date.fromisoformat(data["version"])
    assert len(data["models"]) == len(PricingCatalog.load_default().entries)


def test_load_default_is_cached_and_dated(catalog: PricingCatalog) -> None:
    assert PricingCatalog.load_default() is catalog
    assert catalog.version == "2026-11-01"


def test_every_entry_is_sourced_dated_and_positive(catalog: PricingCatalog) -> None:
    version = dt.date.fromisoformat(catalog.version)
    keys = [(p.provider, p.model.lower()) for p in catalog.entries]
    assert len(keys) == len(set(keys))
    for price in catalog.entries:
        where = f"{price.provider}/{price.model}"
        assert price.source == SOURCES[price.provider], where
        assert dt.date.fromisoformat(price.as_of) <= version, where
        assert price.input > 0, where
        embedding = "embed" in price.model
        assert price.output == 0 if embedding else price.output > 0, where
        if price.cached_input is not None:
            assert 0 < price.cached_input < price.input, where
        if price.cache_write is not None:
            assert price.cache_write >= price.input, where


@pytest.mark.parametrize("provider", sorted(REQUIRED))
def test_common_models_are_covered(catalog: PricingCatalog, provider: str) -> None:
    listed = {p.model for p in catalog.entries if p.provider == provider}
    assert set(REQUIRED[provider]) <= listed


@pytest.mark.parametrize(("provider", "model", "expected"), [
    ("openai", "gpt-4o", ("openai", "gpt-4o")),
    ("openai", "gpt-4o-2024-08-06", ("openai", "gpt-4o")),
    ("openai", "gpt-4o-mini-2024-07-18", ("openai", "gpt-4o-mini")),
    (None, "gpt-4.1-nano-2025-04-14", ("openai", "gpt-4.1-nano")),
    ("openai", "o3-mini-2025-01-31", ("openai", "o3-mini")),
    ("openai", "gpt-3.5-turbo-0125", ("openai", "gpt-3.5-turbo")),
    (None, "openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
    ("azure.ai.openai", "gpt-35-turbo", ("openai", "gpt-3.5-turbo")),
    ("openai", "GPT-4o", ("openai", "gpt-4o")),
    (None, "GPT-4O-MINI", ("openai", "gpt-4o-mini")),
    ("anthropic", "claude-3-5-sonnet-20241022", ("anthropic", "claude-3-5-sonnet")),
    ("anthropic", "claude-3-5-haiku-20241022", ("anthropic", "claude-3-5-haiku")),
    ("anthropic", "claude-3-7-sonnet-latest", ("anthropic", "claude-3-7-sonnet")),
    ("anthropic", "claude-sonnet-4-20250514", ("anthropic", "claude-sonnet-4")),
    ("anthropic", "claude-opus-4-1-20250805", ("anthropic", "claude-opus-4-1")),
    ("anthropic", "claude-haiku-4-5-20251001", ("anthropic", "claude-haiku-4-5")),
    (None, "anthropic/claude-3.5-sonnet", ("anthropic", "claude-3-5-sonnet")),
    ("aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0",
     ("anthropic", "claude-3-5-sonnet")),
    ("aws.bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
     ("anthropic", "claude-3-7-sonnet")),
    (None, "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", ("anthropic", "claude-sonnet-4-5")),
    ("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022", ("anthropic", "claude-3-5-sonnet")),
    ("aws.bedrock", "us.meta.llama3-3-70b-instruct-v1:0",
     ("bedrock", "meta.llama3-3-70b-instruct-v1:0")),
    ("gcp.gemini", "models/gemini-2.5-pro", ("google", "gemini-2.5-pro")),
    (None, "models/gemini-2.5-pro", ("google", "gemini-2.5-pro")),
    ("gcp.vertex_ai", "gemini-1.5-pro-002", ("google", "gemini-1.5-pro")),
    ("gcp.gemini", "gemini-2.5-flash-preview-05-20", ("google", "gemini-2.5-flash")),
    ("mistral_ai", "mistral-large-latest", ("mistral", "mistral-large")),
    ("mistralai", "open-mistral-nemo-2407", ("mistral", "open-mistral-nemo")),
    ("cohere", "command-r-plus-08-2024", ("cohere", "command-r-plus")),
    ("cohere", "embed-english-v3.0", ("cohere", "embed-english-v3.0")),
    ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
     ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")),
    (None, "together_ai/Qwen/Qwen2.5-72B-Instruct-Turbo",
     ("together", "Qwen/Qwen2.5-72B-Instruct-Turbo")),
    ("groq", "llama-3.3-70b-versatile", ("groq", "llama-3.3-70b-versatile")),
    (None, "accounts/fireworks/models/gpt-4o", ("openai", "gpt-4o")),
])
def test_lookup_normalizes_names(
    catalog: PricingCatalog, provider: str | None, model: str, expected: tuple[str, str]
) -> None:
    price = catalog.lookup(provider, model)
    assert price is not None
    assert (price.provider, price.model) == expected


def test_a_snapshot_priced_on_its_own_keeps_its_price(catalog: PricingCatalog) -> None:
    dated = catalog.lookup("openai", "gpt-4o-2024-05-13")
    assert dated is not None and (dated.model, dated.input, dated.output) == (
        "gpt-4o-2024-05-13", 5.0, 15.0)


@pytest.mark.parametrize(("provider", "model"), [
    ("openai", "gpt-7-ultra"), (None, "no-such-model"), ("openai", None), (None, ""),
    ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123"), ("ollama", "llama3.1:8b"),
])
def test_unknown_models_have_no_price(
    catalog: PricingCatalog, provider: str | None, model: str | None
) -> None:
    assert catalog.lookup(provider, model) is None


def test_provider_narrows_and_ambiguous_names_need_one() -> None:
    both = PricingCatalog.from_entries("t", [
        {"provider": "openai", "model": "shared-1", "input": 1.0, "output": 2.0},
        {"provider": "groq", "model": "shared-1", "input": 3.0, "output": 4.0},
        {"provider": "groq", "model": "only-groq", "input": 5.0, "output": 6.0},
    ])
    assert both.lookup(None, "shared-1") is None
    assert both.lookup("gateway", "shared-1") is None
    assert both.lookup("openai", "shared-1").input == 1.0  # type: ignore[union-attr]
    assert both.lookup("GROQ", "Shared-1").input == 3.0  # type: ignore[union-attr]
    # a provider without its own entry (a gateway) falls back to the unambiguous model name
    assert both.lookup("openai", "only-groq").input == 5.0  # type: ignore[union-attr]


# (provider, model, input, output, cache_read, cache_creation, hand-computed USD, formula)
COSTS: list[tuple[str, str, int, int, int | None, int | None, float, float]] = [
    ("openai", "gpt-4o", 1_000, 500, None, None, 0.0075,
     (1_000 * 2.50 + 500 * 10.00) / 1e6),
    ("openai", "gpt-4o-mini", 1_000_000, 1_000_000, None, None, 0.75,
     (1_000_000 * 0.15 + 1_000_000 * 0.60) / 1e6),
    # OTel-style: 10,000 input tokens of which 8,000 cache reads and 1,000 cache writes
    ("anthropic", "claude-3-5-sonnet-20241022", 10_000, 2_000, 8_000, 1_000, 0.03915,
     (1_000 * 3.00 + 8_000 * 0.30 + 1_000 * 3.75 + 2_000 * 15.00) / 1e6),
    # Anthropic-style: input_tokens (100) excludes the 50,000 cache reads
    ("anthropic", "claude-sonnet-4-20250514", 100, 1_000, 50_000, 0, 0.0303,
     (100 * 3.00 + 50_000 * 0.30 + 1_000 * 15.00) / 1e6),
    # output already holds the reasoning tokens
    ("openai", "gpt-5", 2_000, 5_000, 1_000, None, 0.051375,
     (1_000 * 1.25 + 1_000 * 0.125 + 5_000 * 10.00) / 1e6),
    # no cached_input price: cache reads bill at the input price
    ("mistral", "mistral-large-latest", 10_000, 1_000, 4_000, None, 0.026,
     (6_000 * 2.00 + 4_000 * 2.00 + 1_000 * 6.00) / 1e6),
    ("anthropic", "claude-opus-4-1", 200_000, 20_000, None, None, 4.5,
     (200_000 * 15.00 + 20_000 * 75.00) / 1e6),
    ("openai", "text-embedding-3-small", 1_000_000, 0, None, None, 0.02, 1_000_000 * 0.02 / 1e6),
    ("gcp.gemini", "gemini-2.5-flash", 40_000, 3_000, 30_000, None, 0.0114,
     (10_000 * 0.30 + 30_000 * 0.03 + 3_000 * 2.50) / 1e6),
]


@pytest.mark.parametrize(("provider", "model", "inp", "out", "read", "write", "usd", "formula"),
                         COSTS, ids=[f"{c[1]}-{c[2]}" for c in COSTS])
def test_costs_to_the_cent(
    catalog: PricingCatalog, provider: str, model: str, inp: int, out: int,
    read: int | None, write: int | None, usd: float, formula: float,
) -> None:
    price = catalog.lookup(provider, model)
    assert price is not None
    cost = cost_usd(price, inp, out, read, write)
    assert cost == pytest.approx(usd, abs=0.005)
    assert math.isclose(cost, usd, rel_tol=1e-9)
    assert math.isclose(cost, formula, rel_tol=1e-12)
    costs, statuses = price_spans(catalog, [provider], [model], [inp], [out], [read], [write])
    assert costs == [cost] and statuses == [STATUS_CATALOG]


def test_cost_counts_none_as_zero_and_rejects_negative(catalog: PricingCatalog) -> None:
    price = catalog.lookup("openai", "gpt-4o")
    assert price is not None
    assert cost_usd(price, None, None) == 0.0
    assert cost_usd(price, None, 1_000_000) == 10.0
    with pytest.raises(InvalidInput, match="must be >= 0"):
        cost_usd(price, -1, 10)


def test_price_spans_statuses(catalog: PricingCatalog) -> None:
    rows = [  # provider, model, input, output, cache_read, cache_creation
        ("openai", "gpt-4o", 1_000, 500, None, None),
        ("openai", "gpt-4o-2024-08-06", 1_000, 500, 0, 0),
        ("acme", "acme-llm-9", 10, 10, None, None),
        ("openai", None, 10, 10, None, None),
        (None, "gpt-4o", None, None, None, None),
        ("acme", "acme-llm-9", None, None, None, None),
        (None, "gpt-4o", 0, 0, None, None),
        ("openai", "gpt-4o", -5, 10, None, None),
    ]
    columns: list[list[Any]] = [list(col) for col in zip(*rows, strict=True)]
    costs, statuses = price_spans(catalog, *columns)
    assert costs[0] == costs[1] == pytest.approx(0.0075, abs=1e-12)
    assert costs[2:] == [None, None, None, None, 0.0, None]
    assert statuses == [STATUS_CATALOG, STATUS_CATALOG, STATUS_UNKNOWN_MODEL, None, None, None,
                        STATUS_CATALOG, None]


def test_price_spans_repeats_and_empty(catalog: PricingCatalog) -> None:
    n = 1_000
    costs, statuses = price_spans(catalog, ["anthropic"] * n, ["claude-3-5-haiku-20241022"] * n,
                                  [2_000] * n, [100] * n, [1_000] * n, [None] * n)
    assert set(costs) == {(1_000 * 0.80 + 1_000 * 0.08 + 100 * 4.00) / 1e6}
    assert set(statuses) == {STATUS_CATALOG}
    assert price_spans(catalog, [], [], [], [], [], []) == ([], [])


def test_price_spans_rejects_ragged_columns(catalog: PricingCatalog) -> None:
    with pytest.raises(InvalidInput, match="output_tokens has 1 rows, model 2"):
        price_spans(catalog, [None, None], ["gpt-4o", "gpt-4o"], [1, 2], [1], [None, None],
                    [None, None])


def test_overrides_replace_and_add(catalog: PricingCatalog) -> None:
    custom = catalog.with_overrides([
        {"provider": "openai", "model": "gpt-4o", "input": 2.0, "output": 8.0},
        {"provider": "acme", "model": "acme-llm-9", "input": 0.5, "output": 1.5,
         "aliases": ["acme-9"], "source": "https://acme.example/pricing", "as_of": "2026-10-01"},
        {"provider": "gcp.gemini", "model": "gemini-2.5-pro", "input": 1.0, "output": 9.0},
    ])
    assert custom.version == "2026-11-01+overrides"
    assert len(custom.entries) == len(catalog.entries) + 1
    gpt = custom.lookup("openai", "gpt-4o-2024-08-06")
    assert gpt is not None and (gpt.input, gpt.output, gpt.cached_input) == (2.0, 8.0, None)
    assert gpt.source == "override at pricing.models[0]" and gpt.as_of == ""
    assert custom.lookup("openai", "gpt-4o-2024-05-13").input == 5.0  # type: ignore[union-attr]
    acme = custom.lookup(None, "ACME-9")
    assert acme is not None and (acme.model, acme.as_of) == ("acme-llm-9", "2026-10-01")
    gemini = custom.lookup("gcp.gemini", "gemini-2.5-pro")
    assert gemini is not None and (gemini.provider, gemini.output) == ("google", 9.0)
    assert len([p for p in custom.entries if p.model == "gemini-2.5-pro"]) == 1
    # the original is untouched, and overriding again marks the version once
    assert catalog.lookup("openai", "gpt-4o").input == 2.5  # type: ignore[union-attr]
    assert catalog.lookup(None, "acme-llm-9") is None
    again = custom.with_overrides([Price("acme", "acme-llm-9", 0.4, 1.2)])
    assert again.version == "2026-11-01+overrides"
    assert again.lookup("acme", "acme-9").input == 0.4  # type: ignore[union-attr]
    assert catalog.with_overrides([]) is catalog


def test_override_of_an_aliased_entry_keeps_its_aliases(catalog: PricingCatalog) -> None:
    custom = catalog.with_overrides([
        {"provider": "anthropic", "model": "claude-3-5-sonnet", "input": 1.0, "output": 2.0}])
    price = custom.lookup("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022")
    assert price is not None and price.input == 1.0
    assert "claude-3.5-sonnet" in price.aliases


def test_duplicate_entries_are_rejected(catalog: PricingCatalog) -> None:
    entry = {"provider": "openai", "model": "gpt-4o", "input": 1.0, "output": 2.0}
    with pytest.raises(InvalidInput, match=r"pricing\.models\[1\] \(openai/gpt-4o\): listed twice"):
        catalog.with_overrides([entry, entry])
    with pytest.raises(InvalidInput, match="listed twice"):
        PricingCatalog.from_entries("t", [entry, {**entry, "model": "GPT-4o"}])
    with pytest.raises(InvalidInput, match="listed twice"):
        PricingCatalog.from_entries("t", [entry, {**entry, "model": "x", "aliases": ["gpt-4o"]}])


GOOD = {"provider": "openai", "model": "gpt-4o", "input": 2.5, "output": 10.0}


@pytest.mark.parametrize(("entry", "field", "says"), [
    ({k: v for k, v in GOOD.items() if k != "output"}, "output", "missing price"),
    ({k: v for k, v in GOOD.items() if k != "input"}, "input", "missing price"),
    ({**GOOD, "input": -1.0}, "input", "negative"),
    ({**GOOD, "cached_input": -0.5}, "cached_input", "negative"),
    ({**GOOD, "output": float("nan")}, "output", "not finite"),
    ({**GOOD, "output": "$10"}, "output", "expected a number"),
    ({**GOOD, "input": True}, "input", "expected a number"),
    ({**GOOD, "ouput": 3.0}, "ouput", "unknown field 'ouput' — did you mean 'output'?"),
    ({k: v for k, v in GOOD.items() if k != "model"}, "model", "missing"),
    ({**GOOD, "provider": ""}, "provider", "expected a non-empty string"),
    ({**GOOD, "aliases": "gpt-4o-latest"}, "aliases", "expected a list"),
    ({**GOOD, "as_of": "last week"}, "as_of", "not a date"),
    ({**GOOD, "source": 42}, "source", "expected the URL"),
])
def test_bad_overrides_name_entry_and_field(
    catalog: PricingCatalog, entry: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        catalog.with_overrides([GOOD | {"model": "gpt-4.1"}, GOOD | {"model": "o3"}, entry])
    err = caught.value
    assert err.message.startswith(f"pricing.models[2].{field} (")
    assert says in err.message
    assert err.hint  # how to fix it
    if "model" in entry and entry.get("provider"):
        assert "(openai/gpt-4o)" in err.message


def test_validate_override_messages_and_defaults() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_override({"provider": "openai", "model": "gpt-4o", "input": 2.5},
                          "pricing.models[0]")
    assert str(caught.value) == (
        "pricing.models[0].output (openai/gpt-4o): missing price (give the USD price per 1M "
        "output tokens as a plain number, e.g. output: 2.5)")
    with pytest.raises(InvalidInput, match=r"^x\[3\]: a pricing entry must be a mapping"):
        validate_override(["gpt-4o"], "x[3]")  # type: ignore[arg-type]
    price = validate_override(
        {"provider": "Vertex_AI", "model": " gemini-x ", "input": 1, "output": 0,
         "as_of": dt.date(2026, 1, 2), "aliases": ["gx"]}, "pricing.models[4]")
    assert price == Price("google", "gemini-x", 1.0, 0.0, None, None,
                          "override at pricing.models[4]", "2026-01-02", ("gx",))
    assert isinstance(price.input, float)
