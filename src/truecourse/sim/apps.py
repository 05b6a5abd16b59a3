"""The simulated apps: what one request of each service does, as spans, logs and events.

Each app is a function ``(step, start_ns) -> None`` that emits one entry request starting at
``start_ns`` through :class:`Step`, which holds the step's random stream, its :class:`Effects`
and the tracers and loggers of the deployed versions. Latencies compose the way real calls do:
a span ends when its own work and its children are done, so a slow dependency slows its callers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context

from truecourse.sim.effects import Effects
from truecourse.sim.traffic import answer, injection, pii, question

__all__ = ["APPS", "Step"]

MS = 1_000_000  # nanoseconds per millisecond
MINUTE = 60_000 * MS

SERVER, CLIENT, INTERNAL = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL
_SEVERITY = {"DEBUG": SeverityNumber.DEBUG, "INFO": SeverityNumber.INFO,
             "WARN": SeverityNumber.WARN, "ERROR": SeverityNumber.ERROR}
#: failures of a healthy service, so that error-rate baselines are not zero
_BASE_ERROR_RATE = 0.002
_REFUSAL = "I'm sorry, but I can't help with that request."


class Step:
    """What one step of simulated time emits through: random stream, knobs, tracers, loggers.

    ``events`` collects the events of the step (JSON-ready dicts); ``labels`` is the fleet's
    queue of future label events as ``(time_ns, event)``, shared across steps.
    """

    def __init__(self, rng: np.random.Generator, effects: Effects, *,
                 tracer: Callable[[str], Tracer], logger: Callable[[str], Logger],
                 version: Callable[[str], str], env: str, prompt_versions: dict[str, str],
                 index_version: str, labels: list[tuple[int, dict[str, Any]]]) -> None:
        self.rng = rng
        self.effects = effects
        self.tracer = tracer
        self.logger = logger
        self.version = version
        self.env = env
        self.prompt_versions = prompt_versions
        self.index_version = index_version
        self.events: list[dict[str, Any]] = []
        self.labels = labels

    # -- primitives ---------------------------------------------------------------------------

    def start(self, service: str, name: str, kind: SpanKind, at: int, parent: Span | None,
              attrs: dict[str, Any] | None = None) -> Span:
        """A span of ``service`` started at ``at`` ns, child of ``parent`` (a new trace when
        None)."""
        context = set_span_in_context(parent) if parent is not None else None
        return self.tracer(service).start_span(name, context=context, kind=kind,
                                               attributes=attrs, start_time=at)

    @staticmethod
    def finish(span: Span, at: int, error: str | None = None, message: str | None = None) -> int:
        """End ``span`` at ``at`` ns, failed with ``error`` (its ``error.type``) when given."""
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, message or error))
        span.end(end_time=at)
        return at

    def log(self, service: str, span: Span, at: int, severity: str, body: str,
            attrs: dict[str, Any] | None = None) -> None:
        """A log record of ``service`` at ``at`` ns, correlated with ``span``."""
        self.logger(service).emit(
            timestamp=at, observed_timestamp=at, context=set_span_in_context(span),
            severity_number=_SEVERITY[severity], severity_text=severity, body=body,
            attributes=attrs)

    def own(self, service: str, median_ms: float, sigma: float = 0.4) -> int:
        """Nanoseconds of ``service``'s own work: lognormal, times its ``latency_mult``."""
        mult = self.effects.service(service).latency_mult
        return int(self.rng.lognormal(math.log(median_ms), sigma) * mult * MS)

    def fails(self, service: str) -> bool:
        """Whether a request of ``service`` fails from its ``error_rate`` knob."""
        rate = _BASE_ERROR_RATE + self.effects.service(service).error_rate
        return bool(self.rng.random() < rate)

    def serve(self, dependency: str, name: str, client: Span, at: int, median_ms: float,
              attrs: dict[str, Any] | None = None, sigma: float = 0.45) -> tuple[int, str | None]:
        """``dependency`` serving the call ``client`` makes at ``at``: its server span.

        Returns when the answer is back at the caller and the error type (None: success). A
        down dependency answers fast with a refused connection or a 503, without a span.
        """
        rng = self.rng
        if self.effects.service(dependency).down:
            refused = "ConnectionRefused" if rng.random() < 0.5 else "503"
            return at + int(rng.uniform(0.3, 4.0) * MS), refused
        net = int(rng.uniform(0.3, 1.2) * MS)
        span = self.start(dependency, name, SERVER, at + net, client, attrs)
        end = at + net + self.own(dependency, median_ms, sigma)
        error = None
        if self.fails(dependency):
            error = "500"
            span.set_attribute("http.response.status_code", 500)
            self.log(dependency, span, end, "ERROR",
                     f"{name} failed: internal error after {(end - at - net) / MS:.0f} ms")
        self.finish(span, end, error)
        return end + net, error

    def chat(self, caller: str, parent: Span, at: int, *, provider: str, model: str,
             response_model: str, input_tokens: int, output_tokens: int, prompt: str,
             system: str, output: str, finish_reason: str, refused: bool,
             conversation: str, evaluation: tuple[str, float, str] | None = None
             ) -> tuple[int, str | None]:
        """An LLM call of ``caller`` through llm-gateway; returns (end ns, error type)."""
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.request.model": model, "gen_ai.conversation.id": conversation,
            "gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 1024,
            "server.address": "llm-gateway",
            "gen_ai.input.messages": json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": system}]},
                {"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
        }
        version = self.prompt_versions.get(caller)
        if version:
            attrs["gen_ai.prompt.version"] = version
        span = self.start(caller, f"chat {model}", CLIENT, at, parent, attrs)
        generation_ms = 250 + output_tokens * 12 + input_tokens * 0.05
        end, error = self.serve("llm-gateway", "POST /v1/chat/completions", span, at,
                                generation_ms, {"http.route": "/v1/chat/completions",
                                                "upstream.provider": provider}, sigma=0.3)
        if error is None:
            span.set_attributes({
                "gen_ai.response.model": response_model,
                "gen_ai.response.id": f"resp_{self.rng.bytes(6).hex()}",
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "gen_ai.response.finish_reasons": [finish_reason],
                "truecourse.refused": refused,
                "gen_ai.output.messages": json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": output}],
                     "finish_reason": finish_reason}]),
            })
            if evaluation is not None:
                name, score, label = evaluation
                span.add_event("gen_ai.evaluation.result", {
                    "gen_ai.evaluation.name": name, "gen_ai.evaluation.score.value": score,
                    "gen_ai.evaluation.score.label": label}, timestamp=end)
        self.finish(span, end, error, None if error is None
                    else f"llm-gateway answered {error}")
        return end, error

    def tool(self, caller: str, parent: Span, at: int, name: str, order: int,
             attempt: int = 1) -> tuple[int, str | None]:
        """A tool call; order tools go to orders-api. Returns (end ns, error type)."""
        rng = self.rng
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function", "gen_ai.tool.call.id": f"call_{rng.bytes(6).hex()}",
            "gen_ai.tool.call.arguments": json.dumps(
                {"query": f"order {order} status"} if name in ("web_search", "search_kb")
                else {"order_id": order}),
        }
        if attempt > 1:
            attrs["retry.attempt"] = attempt
        span = self.start(caller, f"execute_tool {name}", CLIENT, at, parent, attrs)
        if name == "web_search":
            end, error = at + self.own(caller, 420, 0.6), None
        elif name == "search_kb":
            end, error = self.serve("vector-store", "query kb-articles", span, at, 18, {
                "db.system.name": "qdrant", "db.operation.name": "query",
                "db.collection.name": "kb-articles"})
        else:
            route = "/orders/{id}" if name == "order_lookup" else "/orders/{id}/refunds"
            method = "GET" if name == "order_lookup" else "POST"
            end, error = self.serve("orders-api", f"{method} {route}", span, at,
                                    45 if name == "order_lookup" else 120,
                                    {"http.request.method": method, "http.route": route})
        if error is None and rng.random() < self.effects.tool_fail.get(name, 0.0):
            if rng.random() < 0.5:
                error, end = "TimeoutError", at + int(rng.uniform(2000, 5000) * MS)
            else:
                error = "ToolResultInvalid"
        took = (end - at) / MS
        if error is None:
            span.set_attribute("gen_ai.tool.call.result", json.dumps(
                {"order_id": order, "status": "shipped", "carrier": "UPS"}
                if name not in ("web_search", "search_kb") else {"results": 5}))
            self.finish(span, end)
        else:
            backend = "vector-store" if name == "search_kb" else "orders-api"
            if error in ("500", "503"):
                reason = f"upstream {backend} returned {error}"
            elif error == "ConnectionRefused":
                reason = f"upstream {backend} refused the connection"
            elif error == "TimeoutError":
                reason = "timed out"
            else:
                reason = "its result did not match the tool schema"
            message = f"tool {name} failed for order {order}: {reason} after {took:.0f} ms"
            self.finish(span, end, error, message)
            self.log(caller, span, end, "ERROR", message,
                     {"gen_ai.tool.name": name, "error.type": error, "attempt": attempt})
        return end, error

    def label(self, at: int, event: dict[str, Any]) -> None:
        """Queue a label event that the ground truth reveals at ``at`` ns."""
        self.labels.append((at, event))


def iso(ns: int) -> str:
    """RFC 3339 UTC text of ``ns`` since the epoch, microsecond precision."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(
        microsecond=rest // 1000).isoformat().replace("+00:00", "Z")


def _ids(span: Span) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _http(method: str, route: str) -> dict[str, Any]:
    return {"http.request.method": method, "http.route": route, "url.path": route,
            "url.scheme": "https", "network.protocol.version": "1.1"}


def _end_root(step: Step, service: str, root: Span, at: int, error: str | None,
              status: int) -> None:
    if error is None and step.fails(service):
        error, status = "500", 500
        cause = "KeyError: 'order_id'" if step.rng.random() < 0.5 else "ValueError: bad payload"
        step.log(service, root, at, "ERROR", f"unhandled error in request handler: {cause}")
    root.set_attribute("http.response.status_code", status)
    step.finish(root, at, error)


def _down(step: Step, service: str, root: Span, at: int) -> bool:
    if not step.effects.service(service).down:
        return False
    root.set_attribute("http.response.status_code", 503)
    step.finish(root, at + int(step.rng.uniform(0.2, 2.0) * MS), "503", "service unavailable")
    return True


# -- support-assistant: RAG over the knowledge base, order tools, feedback -----------------------

_SUPPORT_SYSTEM = ("You are the support assistant of an online store. Answer from the provided "
                   "knowledge base articles; never reveal customer data.")


def support_assistant(step: Step, t: int) -> None:
    """``POST /v1/chat``: retrieval, maybe an order tool, one LLM answer, sometimes feedback."""
    svc = "support-assistant"
    rng, fx = step.rng, step.effects
    conversation = f"c-{int(rng.integers(1000, 99999))}"
    user = f"u-{int(rng.integers(1000, 9999))}"
    order = int(rng.integers(10000, 99999))
    prompt = question(rng, order, fx.input_shift)
    injected = bool(rng.random() < fx.injection_rate)
    if injected:
        prompt = f"{prompt} {injection(rng, order)}"
    root = step.start(svc, "POST /v1/chat", SERVER, t,
                      None, {**_http("POST", "/v1/chat"), "session.id": conversation,
                             "enduser.id": user})
    if _down(step, svc, root, t):
        return
    cursor = t + step.own(svc, 2.0)

    # retrieval from the vector store
    degrade = fx.retrieval_degrade
    retrieval = step.start(svc, "retrieval kb-articles", CLIENT, cursor, root, {
        "gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "kb-articles",
        "gen_ai.retrieval.query.text": prompt[:1000], "gen_ai.request.top_k": 5,
        "truecourse.index_version": step.index_version})
    began = cursor
    cursor, error = step.serve("vector-store", "query kb-articles", retrieval, cursor, 18, {
        "db.system.name": "qdrant", "db.operation.name": "query",
        "db.collection.name": "kb-articles"})
    took = (cursor - began) / MS
    documents = 0
    if error is None:
        if rng.random() >= 0.03 + 0.45 * degrade:
            documents = 5 - int(rng.binomial(4, 0.15 + 0.6 * degrade))
        scores = np.sort(rng.beta(8 * (1 - 0.6 * degrade) + 1, 2 + 6 * degrade, documents))[::-1]
        retrieval.set_attributes({
            "gen_ai.retrieval.documents": json.dumps(
                [{"id": f"kb-{int(rng.integers(100, 999))}", "score": round(float(s), 3)}
                 for s in scores]),
            "gen_ai.retrieval.scores": [round(float(s), 3) for s in scores]})
        step.finish(retrieval, cursor)
        if documents:
            step.log(svc, retrieval, cursor, "INFO", f"retrieved {documents} documents for "
                     f"conversation {conversation} in {took:.0f} ms",
                     {"index_version": step.index_version})
        else:
            step.log(svc, retrieval, cursor, "WARN", f"retrieval returned no documents for "
                     f"conversation {conversation} (index {step.index_version})")
    else:
        step.finish(retrieval, cursor, error, f"vector-store answered {error}")
        step.log(svc, retrieval, cursor, "ERROR", f"vector-store query failed for conversation "
                 f"{conversation}: {error} after {took:.0f} ms; answering without context")

    # an order tool when the question is about an order
    if str(order) in prompt and rng.random() < 0.45:
        name = "issue_refund" if "refund" in prompt and rng.random() < 0.6 else "order_lookup"
        cursor, error = step.tool(svc, root, cursor, name, order)
        if error is not None and rng.random() < 0.5:
            _end_root(step, svc, root, cursor + step.own(svc, 1.5), "ToolError", 502)
            return

    # the answer
    refused = bool(rng.random() < 0.02 + fx.refusal_add + (0.3 if injected else 0.0))
    output = _REFUSAL if refused else answer(rng, order)
    if not refused and rng.random() < fx.pii_leak_rate:
        output = f"{output} {pii(rng)}"
    shift = 1 + 1.5 * fx.input_shift
    input_tokens = int(rng.lognormal(math.log(700 + 260 * documents), 0.35)
                       * fx.context_growth * shift)
    output_tokens = 12 if refused else int(rng.lognormal(math.log(160), 0.5)) + 5
    grounded = float(rng.beta(9, 1.5)) * (1 - 0.5 * degrade) * (1 - 0.5 * fx.quality_drop)
    if documents == 0:
        grounded *= 0.5
    grounded = round(grounded, 3)
    large = bool(rng.random() < 0.15)
    cursor, error = step.chat(
        svc, root, cursor + step.own(svc, 1.0), provider="openai",
        model="gpt-4o" if large else "gpt-4o-mini",
        response_model="gpt-4o-2024-08-06" if large else "gpt-4o-mini-2024-07-18",
        input_tokens=input_tokens, output_tokens=output_tokens, prompt=prompt,
        system=_SUPPORT_SYSTEM, output=output,
        finish_reason="content_filter" if refused else "stop", refused=refused,
        conversation=conversation,
        evaluation=("groundedness", grounded, "grounded" if grounded >= 0.7 else "ungrounded"))
    if error is not None:
        step.log(svc, root, cursor, "ERROR", f"llm call failed for conversation {conversation}: "
                 f"llm-gateway returned {error}")
        _end_root(step, svc, root, cursor + step.own(svc, 1.0), "UpstreamError", 502)
        return
    if refused:
        step.log(svc, root, cursor, "WARN", f"model refused to answer conversation "
                 f"{conversation} (finish_reason=content_filter)")
    end = cursor + step.own(svc, 3.0)
    _end_root(step, svc, root, end, None, 200)
    if rng.random() < 0.15:
        _feedback(step, root, end, conversation, grounded, refused)


def _feedback(step: Step, root: Span, end: int, conversation: str, grounded: float,
              refused: bool) -> None:
    rng, fx = step.rng, step.effects
    trace_id, span_id = _ids(root)
    p_down = min(0.95, 0.08 + 0.55 * fx.quality_drop + (0.5 if refused else 0.0)
                 + 0.3 * max(0.0, 0.7 - grounded))
    down = bool(rng.random() < p_down)
    event: dict[str, Any] = {
        "kind": "feedback", "id": f"fb-{trace_id}", "service": "support-assistant",
        "env": step.env, "version": step.version("support-assistant"),
        "time": iso(end + int(rng.lognormal(math.log(40_000), 0.8) * MS)),
        "trace_id": trace_id, "span_id": span_id, "thumbs": "down" if down else "up",
        "score": float(rng.choice([0.0, 0.25])) if down else float(rng.choice([0.75, 1.0])),
        "actor": f"user:{conversation}", "attributes": {"conversation_id": conversation},
    }
    if down and rng.random() < 0.3 + 0.4 * fx.quality_drop:
        event["correction"] = ("The order was delivered to the neighbour; the answer should "
                               "have offered a reshipment.")
        event["comment"] = "wrong answer"
    step.events.append(event)


# -- fraud-scorer: a classic classifier with delayed ground truth --------------------------------

_MERCHANTS = ("grocery", "electronics", "travel", "gaming", "fashion", "gift_cards")
_COUNTRIES = ("US", "GB", "DE", "FR", "CA", "BR", "NG", "IN", "VN")
_HOME = np.array([0.45, 0.15, 0.12, 0.1, 0.12, 0.02, 0.01, 0.02, 0.01])
_AWAY = np.array([0.1, 0.05, 0.05, 0.05, 0.05, 0.2, 0.2, 0.15, 0.15])
_CHANNELS = ("web", "app", "pos")


def fraud_scorer(step: Step, t: int) -> None:
    """``POST /v1/score``: features from feature-store, a score, and a label later on."""
    svc = "fraud-scorer"
    rng, shift = step.rng, step.effects.input_shift
    account = f"a-{int(rng.integers(10000, 99999))}"
    amount = round(float(rng.lognormal(3.5 + 1.2 * shift, 1.1)), 2)
    age = int(rng.exponential(400 * (1 - 0.7 * shift))) + 1
    per_hour = int(rng.poisson(1.5 + 4 * shift))
    distance = round(float(rng.lognormal(2.0 + 2 * shift, 1.2)), 1)
    countries = (1 - shift) * _HOME + shift * _AWAY
    country = _COUNTRIES[int(rng.choice(len(_COUNTRIES), p=countries / countries.sum()))]
    merchant = _MERCHANTS[int(rng.integers(len(_MERCHANTS)))]
    channel = _CHANNELS[int(rng.integers(3))]
    prediction_id = f"p-{rng.bytes(8).hex()}"
    root = step.start(svc, "POST /v1/score", SERVER, t, None, {
        **_http("POST", "/v1/score"), "ml.model.name": "fraud-gbm",
        "ml.model.version": "gbm-2026.10.3", "ml.prediction.id": prediction_id,
        "fraud.feature.amount": amount, "fraud.feature.account_age_days": age,
        "fraud.feature.txn_per_hour": per_hour, "fraud.feature.distance_km": distance,
        "fraud.feature.merchant_category": merchant, "fraud.feature.country": country,
        "fraud.feature.channel": channel})
    if _down(step, svc, root, t):
        return
    cursor = t + step.own(svc, 1.0)
    client = step.start(svc, "GET /features/{account}", CLIENT, cursor, root,
                        {"http.request.method": "GET", "server.address": "feature-store"})
    began = cursor
    cursor, error = step.serve("feature-store", "GET /features/{account}", client, cursor, 5,
                               {"http.route": "/features/{account}"})
    step.finish(client, cursor, error)
    if error is not None:
        step.log(svc, root, cursor, "ERROR", f"feature-store lookup failed for account "
                 f"{account}: {error} after {(cursor - began) / MS:.0f} ms")
        _end_root(step, svc, root, cursor + step.own(svc, 0.5), "FeatureStoreUnavailable", 503)
        return
    risk = (0.9 * math.log1p(amount) + 0.35 * per_hour + 0.4 * math.log1p(distance)
            - 0.5 * math.log1p(age) + (1.5 if merchant == "gift_cards" else 0.0)
            + (1.0 if country in ("NG", "VN") else 0.0) - 3.0)
    truth = 1 / (1 + math.exp(-risk))
    # under a population shift the model is miscalibrated: its scores drift off the truth
    noise = float(rng.normal(0, 0.6 + 1.2 * shift))
    score = round(1 / (1 + math.exp(-(risk * (1 - 0.4 * shift) + noise + 0.8 * shift))), 4)
    predicted = "fraud" if score >= 0.7 else "legit"
    root.set_attributes({"fraud.score": score, "fraud.prediction": predicted})
    end = cursor + step.own(svc, 7.0)
    if rng.random() < 0.3:
        step.log(svc, root, end, "INFO", f"scored transaction {prediction_id} amount="
                 f"{amount:.2f} USD country={country} score={score:.3f} -> {predicted}")
    _end_root(step, svc, root, end, None, 200)
    if rng.random() < 0.3:
        trace_id, span_id = _ids(root)
        at = end + int(rng.uniform(30, 60) * MINUTE)
        step.label(at, {
            "kind": "label", "id": f"label-{prediction_id}", "time": iso(at), "service": svc,
            "env": step.env, "trace_id": trace_id, "span_id": span_id,
            "prediction_id": prediction_id, "actor": "chargeback-feed",
            "label": "fraud" if rng.random() < truth else "legit"})


# -- recommender: high volume, latency sensitive -------------------------------------------------

def recommender(step: Step, t: int) -> None:
    """``GET /v1/recommendations``: features, ranking; popular items when features fail."""
    svc = "recommender"
    rng = step.rng
    user = f"u-{int(rng.integers(1000, 99999))}"
    root = step.start(svc, "GET /v1/recommendations", SERVER, t, None, {
        **_http("GET", "/v1/recommendations"), "enduser.id": user,
        "reco.model": "two-tower-v3"})
    if _down(step, svc, root, t):
        return
    cursor = t + step.own(svc, 12, 0.5)
    client = step.start(svc, "GET /features/{user}", CLIENT, cursor, root,
                        {"http.request.method": "GET", "server.address": "feature-store"})
    cursor, error = step.serve("feature-store", "GET /features/{user}", client, cursor, 5,
                               {"http.route": "/features/{user}"})
    step.finish(client, cursor, error)
    items = int(rng.integers(8, 25))
    end = cursor + step.own(svc, 20, 0.7)
    root.set_attributes({"reco.items_returned": items, "reco.fallback": error is not None})
    if error is not None:
        step.log(svc, root, end, "WARN", f"feature-store unavailable ({error}); serving popular "
                 f"items to user {user}")
    elif rng.random() < 0.05:
        step.log(svc, root, end, "DEBUG", f"cache miss for user {user}")
    elif rng.random() < 0.05:
        step.log(svc, root, end, "INFO", f"served {items} recommendations for user {user} in "
                 f"{(end - t) / MS:.0f} ms")
    _end_root(step, svc, root, end, None, 200)


# -- order-agent: a multi-step agent with tools and retries --------------------------------------

_AGENT_SYSTEM = ("You are an operations agent. Resolve the customer's order task with the tools "
                 "order_lookup, issue_refund, web_search and search_kb; stop when the task is "
                 "done.")
_AGENT_TOOLS = ("order_lookup", "issue_refund", "web_search", "search_kb")


def order_agent(step: Step, t: int) -> None:
    """``POST /v1/tasks``: an agent loop of 2-5 LLM steps with tool calls and one retry each."""
    svc = "order-agent"
    rng, fx = step.rng, step.effects
    task = f"t-{int(rng.integers(10000, 99999))}"
    order = int(rng.integers(10000, 99999))
    prompt = question(rng, order, fx.input_shift)
    if rng.random() < fx.injection_rate:
        prompt = f"{prompt} {injection(rng, order)}"
    root = step.start(svc, "POST /v1/tasks", SERVER, t, None,
                      {**_http("POST", "/v1/tasks"), "session.id": task})
    if _down(step, svc, root, t):
        return
    cursor = t + step.own(svc, 3.0)
    agent = step.start(svc, "invoke_agent order-agent", INTERNAL, cursor, root, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "order-agent",
        "gen_ai.agent.id": "order-agent", "gen_ai.conversation.id": task})
    steps = int(rng.integers(2, 6))
    failure: str | None = None
    for i in range(steps):
        last = i == steps - 1
        tool = _AGENT_TOOLS[int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))]
        input_tokens = int(rng.lognormal(math.log(1400 + 700 * i), 0.3) * fx.context_growth
                           * (1 + 1.5 * fx.input_shift))
        output = (f"Task {task} done: " + answer(rng, order)) if last else \
            f"Calling {tool} for order {order}."
        if last and rng.random() < fx.pii_leak_rate:
            output = f"{output} {pii(rng)}"
        cursor, failure = step.chat(
            svc, agent, cursor + step.own(svc, 1.0), provider="anthropic",
            model="claude-3-5-sonnet", response_model="claude-3-5-sonnet-20241022",
            input_tokens=input_tokens, output_tokens=int(rng.lognormal(math.log(90), 0.5)) + 5,
            prompt=prompt, system=_AGENT_SYSTEM, output=output,
            finish_reason="end_turn" if last else "tool_use", refused=False, conversation=task)
        if failure is not None or last:
            break
        cursor, failure = step.tool(svc, agent, cursor + step.own(svc, 1.0), tool, order)
        if failure is not None:
            cursor, failure = step.tool(svc, agent, cursor + int(rng.uniform(200, 800) * MS),
                                        tool, order, attempt=2)
            if failure is not None:
                break
        step.log(svc, agent, cursor, "INFO", f"agent step {i + 1}/{steps} of task {task}: "
                 f"{tool} done for order {order}")
    cursor += step.own(svc, 2.0)
    if failure is None:
        step.finish(agent, cursor)
        step.log(svc, root, cursor, "INFO",
                 f"task {task} completed in {steps} steps ({(cursor - t) / MS:.0f} ms)")
        _end_root(step, svc, root, cursor + step.own(svc, 1.0), None, 200)
    else:
        step.finish(agent, cursor, "TaskFailed", f"gave up after {failure}")
        step.log(svc, root, cursor, "ERROR", f"task {task} failed: gave up on order {order} "
                 f"after {failure}")
        _end_root(step, svc, root, cursor + step.own(svc, 1.0), "TaskFailed", 500)


#: the entry services and what one of their requests does
APPS: dict[str, Callable[[Step, int], None]] = {
    "support-assistant": support_assistant,
    "fraud-scorer": fraud_scorer,
    "recommender": recommender,
    "order-agent": order_agent,
}
