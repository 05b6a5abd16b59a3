"""The LLM pricing catalog and what a span's tokens cost.

:meth:`PricingCatalog.load_default` reads the dated catalog shipped as ``pricing_catalog.yaml``:
vendor list prices in USD per 1M tokens, each entry naming the page it comes from and the date
it was checked. :meth:`PricingCatalog.with_overrides` lays the ``pricing.models`` entries of
``truecourse.yaml`` over it. :meth:`PricingCatalog.lookup` resolves the provider and model a span
reports (dated snapshots, gateway prefixes, Bedrock and Vertex AI ids) to one entry;
:func:`cost_usd` prices one call and :func:`price_spans` a batch's columns.

A model the catalog does not know has no price: it is reported as ``"unknown_model"``, never
costed as zero. Malformed entries and overrides raise :class:`~truecourse.errors.InvalidInput`
naming the entry, the field and the fix.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final

import yaml

from truecourse.errors import InvalidInput

__all__ = ["STATUS_CATALOG", "STATUS_UNKNOWN_MODEL", "Price", "PricingCatalog", "cost_usd",
           "price_spans", "validate_override"]

#: ``price_spans`` status of a row priced from the catalog.
STATUS_CATALOG: Final = "catalog"
#: ``price_spans`` status of a row whose model, with tokens, is not in the catalog.
STATUS_UNKNOWN_MODEL: Final = "unknown_model"

CATALOG_FILE: Final = "pricing_catalog.yaml"
_OVERRIDES_MARK: Final = "+overrides"
_LOOKUP_CACHE_SIZE: Final = 4096

_FIELDS: Final = ("provider", "model", "aliases", "input", "output", "cached_input",
                  "cache_write", "source", "as_of")
_PRICE_WORDS: Final = {"input": "input tokens", "output": "output tokens",
                       "cached_input": "cached (prompt-cache read) input tokens",
                       "cache_write": "cache-creation input tokens"}

# The names conventions and SDKs report for a provider (OTel GenAI ``gen_ai.provider.name`` and
# legacy ``gen_ai.system``, OpenInference ``llm.provider`` / ``llm.system``, LiteLLM) mapped to the
# catalog's provider. Azure OpenAI lists the OpenAI prices for the same models.
_PROVIDERS: Final[Mapping[str, str]] = {alias: provider for provider, aliases in {
    "openai": "azure azure.ai.openai az.ai.openai azure_openai",
    "google": "gcp.gemini gcp.vertex_ai gcp.gen_ai gemini vertex_ai vertexai google_genai",
    "bedrock": "aws.bedrock aws_bedrock amazon_bedrock aws",
    "mistral": "mistral_ai mistralai",
    "together": "together_ai togetherai together.ai",
    "xai": "x_ai x.ai",
}.items() for alias in aliases.split()}
# Bedrock cross-region inference profiles (``us.anthropic...``) and model vendors
# (``anthropic.claude-...``).
_BEDROCK_REGION: Final = re.compile(r"^(?:us|us-gov|eu|apac|ap|ca|jp|au|global)\.")
_BEDROCK_VENDOR: Final = re.compile(
    r"^(?:anthropic|meta|cohere|mistral|amazon|ai21|deepseek|openai|qwen|writer)\.")
# One snapshot or version suffix, stripped one at a time from the end of a model id.
_SUFFIX: Final = re.compile(
    r"(?:@[\w.-]+"                # Vertex AI version: @20241022, @001, @latest
    r"|-v\d+(?::\d+)?"            # Bedrock / Vertex AI revision: -v2:0, -v2
    r"|-\d{4}-\d{2}-\d{2}"        # OpenAI snapshot: -2024-08-06
    r"|-\d{8}"                    # Anthropic snapshot: -20241022
    r"|-\d{2}-\d{4}"              # Cohere / Gemini: -08-2024, -preview-09-2025
    r"|-preview-\d{2}-\d{2}"      # Gemini preview: -preview-05-20
    r"|-\d{3,4}"                  # Gemini -002, Mistral -2411, OpenAI -0125
    r"|-latest|-preview)$")


@dataclass(frozen=True, slots=True)
class Price:
    """One model's list price, in USD per 1M tokens.

    ``cached_input`` (prompt-cache read) and ``cache_write`` (cache creation) are None where the
    vendor bills those tokens at the ``input`` price or has no prompt cache. ``source`` is the
    vendor page the price comes from (for an override, where it was configured); ``as_of`` the
    ISO date it was recorded, "" when not stated. ``aliases`` are other ids of the same model.
    """

    provider: str
    model: str
    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    source: str = ""
    as_of: str = ""
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The price as JSON-ready fields (aliases left out), as the API and CLI list it."""
        return {"provider": self.provider, "model": self.model, "input": self.input,
                "output": self.output, "cached_input": self.cached_input,
                "cache_write": self.cache_write, "source": self.source, "as_of": self.as_of}


def cost_usd(
    price: Price,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None = None,
    cache_creation_tokens: int | None = None,
) -> float:
    """What one call costs in USD at ``price``: a float, not rounded. None counts as 0.

    Token counts follow OTel GenAI: ``input_tokens`` includes the cache-read and cache-creation
    tokens, so the uncached part is ``input - cache_read - cache_creation``. When that is
    negative the counts were reported Anthropic-style (input excluding cache tokens) and all of
    ``input_tokens`` is taken as uncached. Cache reads bill at ``cached_input`` and cache writes
    at ``cache_write``, each falling back to ``input``. ``output_tokens`` already includes
    reasoning tokens. Raises InvalidInput for a negative count.
    """
    counts = (input_tokens or 0, output_tokens or 0, cache_read_tokens or 0,
              cache_creation_tokens or 0)
    if min(counts) < 0:
        raise InvalidInput(f"token counts must be >= 0, got {counts} "
                           "(input, output, cache_read, cache_creation)")
    return _cost(price, *counts)


def _cost(price: Price, inp: int, out: int, read: int, write: int) -> float:
    uncached = inp - read - write
    if uncached < 0:
        uncached = inp
    read_price = price.input if price.cached_input is None else price.cached_input
    write_price = price.input if price.cache_write is None else price.cache_write
    return (uncached * price.input + read * read_price + write * write_price
            + out * price.output) / 1_000_000


def price_spans(
    catalog: PricingCatalog,
    provider: Sequence[str | None],
    model: Sequence[str | None],
    input_tokens: Sequence[int | None],
    output_tokens: Sequence[int | None],
    cache_read_tokens: Sequence[int | None],
    cache_creation_tokens: Sequence[int | None],
) -> tuple[list[float | None], list[str | None]]:
    """Price a batch given as columns of equal length: ``(cost_usd, status)`` per row.

    A row is priced with :func:`cost_usd` (status ``"catalog"``) when it has a model, reports at
    least one of the four token counts (a missing one counts as 0) and the model resolves in
    ``catalog``. A model with tokens that does not resolve gets cost None and status
    ``"unknown_model"``. Rows with no model, no token counts or a negative count get None, None.
    Each distinct (provider, model) is looked up once per call, so repeated models cost about a
    microsecond a row. Raises InvalidInput when the columns differ in length.
    """
    columns = {"provider": provider, "input_tokens": input_tokens,
               "output_tokens": output_tokens, "cache_read_tokens": cache_read_tokens,
               "cache_creation_tokens": cache_creation_tokens}
    rows = len(model)
    for name, column in columns.items():
        if len(column) != rows:
            raise InvalidInput(f"price_spans: column {name} has {len(column)} rows, model {rows}")
    costs: list[float | None] = [None] * rows
    statuses: list[str | None] = [None] * rows
    memo: dict[tuple[str | None, str], Price | None] = {}
    lookup = catalog.lookup
    for row, (prov, name, inp, out, read, write) in enumerate(zip(
            provider, model, input_tokens, output_tokens, cache_read_tokens,
            cache_creation_tokens, strict=True)):
        if not name or (inp is None and out is None and read is None and write is None):
            continue
        key = (prov, name)
        try:
            price = memo[key]
        except KeyError:
            price = memo[key] = lookup(prov, name)
        if price is None:
            statuses[row] = STATUS_UNKNOWN_MODEL
            continue
        inp, out, read, write = inp or 0, out or 0, read or 0, write or 0
        if inp < 0 or out < 0 or read < 0 or write < 0:
            continue
        costs[row] = _cost(price, inp, out, read, write)
        statuses[row] = STATUS_CATALOG
    return costs, statuses


def validate_override(entry: Mapping[str, Any], where: str) -> Price:
    """A :class:`Price` from one pricing entry, as written in ``truecourse.yaml`` or the catalog.

    ``entry`` needs ``provider``, ``model``, ``input`` and ``output``; ``cached_input``,
    ``cache_write``, ``aliases``, ``source`` (default: ``"override at <where>"``) and ``as_of``
    (an ISO date) are optional. Prices are plain numbers >= 0 in USD per 1M tokens. The provider
    is mapped to the catalog's name (``gcp.gemini`` -> ``google``). Raises InvalidInput whose
    message names ``where`` and the field (``pricing.models[2].output``) and whose hint says how
    to fix it.
    """
    if not isinstance(entry, Mapping):
        raise InvalidInput(
            f"{where}: a pricing entry must be a mapping, got {type(entry).__name__}",
            hint="write it as {provider: openai, model: gpt-4o, input: 2.5, output: 10.0}")
    label = _label(entry)
    for key in entry:
        if key not in _FIELDS:
            guess = difflib.get_close_matches(str(key), _FIELDS, n=1, cutoff=0.6)
            also = f" — did you mean {guess[0]!r}?" if guess else ""
            raise InvalidInput(f"{where}.{key} ({label}): unknown field {key!r}{also}",
                               hint=f"valid fields: {', '.join(_FIELDS)}")
    provider = _provider_key(_text(entry, "provider", where, label))
    model = _text(entry, "model", where, label)
    prices = {name: _amount(entry, name, where, label) for name in _PRICE_WORDS}
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip()
                                                for a in aliases):
        raise InvalidInput(f"{where}.aliases ({label}): expected a list of model ids, "
                           f"got {aliases!r}", hint="e.g. aliases: [claude-3.5-sonnet]")
    source = entry.get("source", f"override at {where}")
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput(f"{where}.source ({label}): expected the URL of the price page, "
                           f"got {source!r}", hint="e.g. source: https://acme.example/pricing")
    return Price(
        provider=provider, model=model,
        input=prices["input"] or 0.0, output=prices["output"] or 0.0,
        cached_input=prices["cached_input"], cache_write=prices["cache_write"],
        source=source.strip(), as_of=_as_of(entry, where, label),
        aliases=tuple(a.strip() for a in aliases))


def _label(entry: Mapping[str, Any]) -> str:
    provider, model = entry.get("provider"), entry.get("model")
    if isinstance(provider, str) and isinstance(model, str):
        return f"{provider}/{model}"
    return model if isinstance(model, str) else "entry"


def _text(entry: Mapping[str, Any], name: str, where: str, label: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        state = "missing" if value is None else f"expected a non-empty string, got {value!r}"
        raise InvalidInput(f"{where}.{name} ({label}): {state}",
                           hint=f"every pricing entry names its {name}, e.g. "
                           f"{'provider: openai' if name == 'provider' else 'model: gpt-4o'}")
    return value.strip()


def _amount(entry: Mapping[str, Any], name: str, where: str, label: str) -> float | None:
    value = entry.get(name)
    how = f"give the USD price per 1M {_PRICE_WORDS[name]} as a plain number, e.g. {name}: 2.5"
    if value is None:
        if name in ("input", "output"):
            raise InvalidInput(f"{where}.{name} ({label}): missing price", hint=how)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where}.{name} ({label}): expected a number, got {value!r}",
                           hint=how)
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{where}.{name} ({label}): price {value!r} is negative or not finite",
                           hint=f"prices must be >= 0; {how}")
    return float(value)


def _as_of(entry: Mapping[str, Any], where: str, label: str) -> str:
    value = entry.get("as_of")
    if value is None:
        return ""
    if isinstance(value, dt.date):  # YAML reads an unquoted 2026-11-01 as a date
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"{where}.as_of ({label}): {value!r} is not a date",
                           hint="write the date the price was checked as YYYY-MM-DD") from None


def _provider_key(provider: str) -> str:
    name = provider.strip().lower()
    return _PROVIDERS.get(name, name)


def _candidates(model: str) -> list[str]:
    """The names ``model`` may be listed under, most specific first: the id as given, then
    without leading path segments (``openai/``, ``models/``), without a Bedrock region and
    vendor prefix, and without each snapshot or version suffix in turn."""
    found: list[str] = []
    parts = model.strip().lower().split("/")
    for start in range(len(parts)):
        path = "/".join(parts[start:])
        regional = _BEDROCK_REGION.sub("", path, count=1)
        for form in (path, regional, _BEDROCK_VENDOR.sub("", regional, count=1)):
            while form and form not in found:
                found.append(form)
                form = _SUFFIX.sub("", form, count=1)
    return found


class PricingCatalog:
    """A dated, immutable set of :class:`Price` entries with name resolution.

    ``version`` is the catalog date, with ``+overrides`` appended once overrides are applied;
    ``entries`` are unique by (provider, model id), compared case-insensitively.
    """

    def __init__(self, version: str, entries: Iterable[Price]) -> None:
        """Index ``entries``; raises InvalidInput when a (provider, model) or a name within one
        provider is listed twice. Prefer :meth:`from_entries` or :meth:`load_default`."""
        self.version = version
        self.entries: tuple[Price, ...] = tuple(entries)
        self._by_name: dict[str, list[tuple[str, Price]]] = {}
        owners: dict[tuple[str, str], Price] = {}
        for price in self.entries:
            provider = _provider_key(price.provider)
            for name in dict.fromkeys(n.lower() for n in (price.model, *price.aliases)):
                other = owners.setdefault((provider, name), price)
                if other is not price:
                    raise InvalidInput(
                        f"pricing: {provider}/{name} is listed twice "
                        f"({other.provider}/{other.model} and {price.provider}/{price.model})",
                        hint="keep one entry per provider and model id or alias")
                self._by_name.setdefault(name, []).append((provider, price))
        self._lookup = lru_cache(maxsize=_LOOKUP_CACHE_SIZE)(self._resolve)

    def __repr__(self) -> str:
        return f"PricingCatalog(version={self.version!r}, entries={len(self.entries)})"

    @classmethod
    def load_default(cls) -> PricingCatalog:
        """The catalog shipped with TrueCourse, read once per process and shared."""
        return _default_catalog()

    @classmethod
    def from_entries(
        cls, version: str, entries: Iterable[Price | Mapping[str, Any]]
    ) -> PricingCatalog:
        """A catalog of ``entries``; mappings are checked by :func:`validate_override`."""
        prices: list[Price] = []
        for i, entry in enumerate(entries):
            prices.append(entry if isinstance(entry, Price)
                          else validate_override(entry, f"entries[{i}]"))
        return cls(version, prices)

    def with_overrides(
        self,
        overrides: Sequence[Mapping[str, Any]] | Sequence[Price],
        *,
        where: str = "pricing.models",
    ) -> PricingCatalog:
        """A new catalog where each override replaces the entry with its (provider, model) or is
        added. A replacing override without aliases keeps the replaced entry's aliases. The
        version gains ``+overrides`` (once); no overrides returns ``self``. Mappings are checked
        by :func:`validate_override` at ``<where>[i]``; raises InvalidInput, also when two
        overrides name the same (provider, model)."""
        if not overrides:
            return self
        items: Sequence[Price | Mapping[str, Any]] = overrides
        pending: dict[tuple[str, str], Price] = {}
        for i, item in enumerate(items):
            price = item if isinstance(item, Price) else validate_override(item, f"{where}[{i}]")
            key = (_provider_key(price.provider), price.model.lower())
            if key in pending:
                raise InvalidInput(f"{where}[{i}] ({price.provider}/{price.model}): listed twice",
                                   hint="keep one override per provider and model")
            pending[key] = price
        merged: list[Price] = []
        for price in self.entries:
            new = pending.pop((_provider_key(price.provider), price.model.lower()), None)
            if new is None:
                merged.append(price)
            else:
                merged.append(new if new.aliases else replace(new, aliases=price.aliases))
        merged.extend(pending.values())
        version = self.version
        if not version.endswith(_OVERRIDES_MARK):
            version += _OVERRIDES_MARK
        return PricingCatalog(version, merged)

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        """The entry for ``model`` as a span reports it, or None when there is none.

        Names match case-insensitively, through aliases, and after stripping what wraps a
        vendor's id: path prefixes (``openai/``, ``models/``, ``accounts/fireworks/models/``),
        Bedrock region and vendor prefixes (``us.anthropic.``) and snapshot suffixes
        (``-2024-08-06``, ``-20241022``, ``@20241022``, ``-latest``, ``-v2:0``); the least
        stripped name that matches wins, so a dated snapshot priced on its own keeps its price.
        A ``provider`` (any convention's spelling) picks among entries of that name; when it has
        none (a gateway, a cloud reselling a vendor's model), the model alone decides if exactly
        one entry matches. Memoized per (provider, model).
        """
        if not model:
            return None
        return self._lookup(provider, model)

    def _resolve(self, provider: str | None, model: str) -> Price | None:
        names = _candidates(model)
        if provider:
            wanted = _provider_key(provider)
            for name in names:
                for owner, price in self._by_name.get(name, ()):
                    if owner == wanted:
                        return price
        for name in names:
            found = self._by_name.get(name)
            if found:
                return found[0][1] if len(found) == 1 else None
        return None


@cache
def _default_catalog() -> PricingCatalog:
    text = resources.files("truecourse.measure").joinpath(CATALOG_FILE).read_text("utf-8")
    return _parse_catalog(text, CATALOG_FILE)


def _parse_catalog(text: str, where: str) -> PricingCatalog:
    """A catalog from the YAML of ``pricing_catalog.yaml``; every entry must name its source
    and as_of date. Raises InvalidInput naming ``where`` and the bad key."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a mapping with version, currency, unit, models")
    version = data.get("version")
    if isinstance(version, dt.date):
        version = version.isoformat()
    if not isinstance(version, str) or not version:
        raise InvalidInput(f"{where}: version: missing", hint="the catalog date, YYYY-MM-DD")
    if data.get("currency") != "USD" or data.get("unit") != "per 1M tokens":
        raise InvalidInput(f"{where}: currency must be USD and unit 'per 1M tokens'")
    models = data.get("models")
    if not isinstance(models, list):
        raise InvalidInput(f"{where}: models: expected a list of entries")
    entries = []
    for i, entry in enumerate(models):
        at = f"{where}:models[{i}]"
        price = validate_override(entry, at)
        for key in ("source", "as_of"):
            if key not in entry:
                raise InvalidInput(f"{at}.{key} ({price.provider}/{price.model}): missing",
                                   hint="every shipped price names its page and check date")
        entries.append(price)
    return PricingCatalog(version, entries)
