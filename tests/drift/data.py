"""Synthetic predictions and LLM spans with planted shifts, built columnar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa

from truecourse.model import ArrowBatch
from truecourse.model.columns import ARROW_SCHEMAS

DAY1 = datetime(2026, 1, 5, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def predictions(model: str, start: datetime, n: int, seed: int, shift: float = 0.0,
                prefix: str = "p") -> tuple[ArrowBatch, list[dict[str, object]]]:
    """``n`` predictions over one hour from ``start``: features amount (normal, mean moved by
    ``shift`` sd), country, channel; a calibrated score and its 0/1 prediction. Also returns
    one ground-truth label per prediction (drawn from the score) for the events API."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + 15 * shift, 15, n)
    country = rng.choice(["de", "fr", "us"], n)
    channel = rng.choice(["web", "app"], n)
    score = rng.beta(2, 5, n)
    truth = (rng.random(n) < score).astype(int)
    ids = [f"{prefix}{seed}-{i}" for i in range(n)]
    times = [start + timedelta(seconds=3600 * i / n) for i in range(n)]
    features = [orjson.dumps({"amount": float(a), "country": str(c), "channel": str(ch)})
                .decode() for a, c, ch in zip(amount, country, channel, strict=True)]
    pred = (score >= 0.5).astype(int)
    schema = ARROW_SCHEMAS["predictions"]
    table = pa.table({
        "id": ids, "time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "model": [model] * n, "version": ["1"] * n, "env": ["prod"] * n,
        "features": features, "prediction": [str(p) for p in pred],
        "prediction_value": pred.astype(float), "score": score,
        "project": ["default"] * n}, schema=schema)
    labels = [{"kind": "label", "prediction_id": ids[i], "label": int(truth[i]),
               "time": (times[i] + timedelta(minutes=30)).isoformat()} for i in range(n)]
    return ArrowBatch("predictions", table), labels


def llm_spans(service: str, start: datetime, n: int, seed: int, longer: bool = False,
              ) -> ArrowBatch:
    """``n`` chat spans, ``n`` retrieval spans and ``n // 4`` tool spans; ``longer`` makes
    prompts about three times longer and in another language."""
    rng = np.random.default_rng(seed)
    schema = ARROW_SCHEMAS["spans"]
    words = ["order", "refund", "shipping", "invoice", "account", "password"]
    other = ["Kündigung", "Vertrag", "Rechnung", "Lieferung", "Konto", "Passwort"]
    rows: dict[str, list[object]] = {f.name: [] for f in schema}
    t0 = int(start.timestamp() * 1e6)
    k = 0

    def add(op: str, **cols: object) -> None:
        nonlocal k
        k += 1
        base = {"trace_id": f"{seed:08x}{k:024x}", "span_id": f"{k:016x}", "name": op,
                "kind": "client", "start_time": t0 + k * 1000, "start_unix_nano":
                (t0 + k * 1000) * 1000, "duration_ms": 10.0, "status_code": "ok",
                "service": service, "env": "prod", "operation": op,
                "attributes": "{}", "resource": "{}"}
        base.update(cols)
        for name in rows:
            rows[name].append(base.get(name))

    for _ in range(n):
        vocab = other if longer else words
        reps = int(rng.integers(6, 12)) * (3 if longer else 1)
        prompt = " ".join(rng.choice(vocab, reps))
        add("chat", input_text=prompt, output_text="ok " * int(rng.integers(3, 9)),
            input_tokens=reps * 2, output_tokens=int(rng.integers(3, 9)), model="gpt-4o-mini",
            refused=bool(rng.random() < 0.02))
        score = float(rng.beta(8, 2))
        add("retrieval", retrieval_documents=int(rng.integers(3, 6)),
            attributes=orjson.dumps({"gen_ai.retrieval.scores": [round(score, 3)],
                                     "app.tier": str(rng.choice(["free", "pro"]))}).decode())
    for _ in range(n // 4):
        add("tool", tool_name=str(rng.choice(["lookup_order", "refund"])), tool_ok=True)
    arrays = []
    for f in schema:
        vals = rows[f.name]
        if f.name == "start_time":
            arrays.append(pa.array(vals, pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(vals, f.type))
    return ArrowBatch("spans", pa.Table.from_arrays(arrays, schema=schema))
