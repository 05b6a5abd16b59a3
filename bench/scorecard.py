"""Scorecard benchmark: the 24-hour scorecard by service x model over a store of 10 M spans.

    python bench/scorecard.py --spans 10000000 --repeat 5

Fills a fresh DuckDB file (or reuses ``--db``) with N spans over 7 days: traces of three spans
(an entry span, a chat call, a tool or retrieval call) from 12 services and 8 models, heavy-tailed
latency and token counts, cost from the tokens, ~2 % errors and refusals, daily seasonality, in
time order as ingest appends them. Then it times ``truecourse.measure.scorecard`` for the last
24 hours grouped by service x model with requests, latency_p95, error_rate, input_tokens,
output_tokens and cost_usd (warm once, median of ``--repeat``).

In the same run it times the reference, the floor: the same columns of the same spans read once
from DuckDB and aggregated in numpy (group codes, bincount, one sort for the p95), checks that
both give the same answers, and prints the ratio. Extra lines: the 7-day scorecard (t-digest
quantiles) and the 24-hour scorecard with every metric (adds the per-trace task query).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# measure the checkout this file is in, whatever the installed truecourse points at
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from truecourse.config.measure import MeasureConfig
from truecourse.measure.query import MeasureQuery, Window
from truecourse.measure.scorecard import scorecard
from truecourse.model.columns import SPAN_COLUMNS
from truecourse.store.duckdb import DuckDBStore

try:
    import psutil
except ImportError:  # optional: ru_maxrss is always there
    psutil = None

#: The data ends here; the 24-hour window is the last day of it.
END = datetime(2026, 11, 22, tzinfo=UTC)
DAYS = 7
METRICS = "requests,latency_p95,error_rate,input_tokens,output_tokens,cost_usd"

SERVICES = (
    "support-bot", "search-assistant", "claims-agent", "checkout-helper", "onboarding-guide",
    "code-review", "sales-copilot", "email-triage", "doc-qa", "fraud-screen", "travel-planner",
    "hr-assistant",
)
#: (model, provider, USD per 1M input tokens, per 1M output tokens, ms per output token)
MODELS = (
    ("gpt-4o", "openai", 2.50, 10.00, 12.0),
    ("gpt-4o-mini", "openai", 0.15, 0.60, 8.0),
    ("claude-sonnet-4", "anthropic", 3.00, 15.00, 15.0),
    ("claude-3-5-haiku", "anthropic", 0.80, 4.00, 7.0),
    ("gemini-2.5-flash", "gcp.gemini", 0.30, 2.50, 5.0),
    ("llama-3.3-70b", "together", 0.88, 0.88, 10.0),
    ("mistral-large", "mistral_ai", 2.00, 6.00, 14.0),
    ("command-r", "cohere", 0.15, 0.60, 9.0),
)
TOOLS = ("search_orders", "get_customer", "create_ticket", "refund_payment", "lookup_policy",
         "send_email", "web_search", "calculator")


def _sql_list(values: tuple[Any, ...]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def fill_sql(n_spans: int) -> str:
    """One ``INSERT INTO spans SELECT ... FROM range(n)``: every value is a hash of the span's
    trace number (and a salt), so the data is the same on every run and needs no Python loop.

    Span ``i`` is role ``i % 3`` of trace ``i // 3``: 0 the entry span (root, kind server),
    1 the chat call, 2 a tool call (55 %) or a retrieval (45 %). Trace start times rise with the
    trace number through the inverse CDF of a daily cycle (peak 15:00 UTC, trough a quarter of
    the peak), so the table is in time order like an ingested one. Each service calls three
    models (60/30/10 %) and moves through prompt versions v1..v9 over the week, with 20 % of
    its calls on the next version (a canary).
    """
    n_traces = (n_spans + 2) // 3
    day = 86400.0
    amp, peak = 0.6, 15 * 3600.0
    c = amp * day / (2 * math.pi)
    w = DAYS * day
    t0_ns = int((END - timedelta(days=DAYS)).timestamp()) * 1_000_000_000
    ph = f"2 * pi() * (x - {peak}) / {day}"
    newton = (f"x - (x + {c} * (sin({ph}) + sin(2 * pi() * {peak} / {day})) - s) "
              f"/ (1 + {amp} * cos({ph}))")
    names = _sql_list(tuple(m[0] for m in MODELS))
    provs = _sql_list(tuple(m[1] for m in MODELS))
    p_in = _sql_list(tuple(m[2] for m in MODELS))
    p_out = _sql_list(tuple(m[3] for m in MODELS))
    ms_tok = _sql_list(tuple(m[4] for m in MODELS))
    cols = ", ".join(col.name for col in SPAN_COLUMNS)
    return f"""
    INSERT INTO spans ({cols})
    WITH s0 AS (
        SELECT i, i // 3 AS t, i % 3 AS r,
               (i // 3 + u(i // 3, 1)) / {n_traces} * {w} AS s
        FROM range({n_spans}) AS g(i)
    ), s1 AS (SELECT *, s AS x FROM s0),
    s2 AS (SELECT * REPLACE ({newton} AS x) FROM s1),
    s3 AS (SELECT * REPLACE ({newton} AS x) FROM s2),
    s4 AS (SELECT * REPLACE ({newton} AS x) FROM s3),
    tr AS (
        SELECT i, t, r, least(greatest(x, 0), {w} - 1) AS x,
               CAST(least(11, floor(12 * pow(u(t, 2), 1.6))) AS INTEGER) AS svc,
               CAST(floor(least(greatest(x, 0), {w} - 1) / {day}) AS INTEGER) AS d,
               CAST(floor(least(greatest(x, 0), {w} - 1) * 9 / {w}) AS INTEGER) AS pv,
               CASE WHEN u(t, 4) < 0.6 THEN 0 WHEN u(t, 4) < 0.9 THEN 1 ELSE 2 END AS mk,
               u(t, 5) < 0.55 AS is_tool,
               u(t, 7) < 0.015 AS chat_err,
               u(t, 9) < 0.02 AS refused,
               u(t, 8) AS child_u,
               u(t, 11) AS root_u
        FROM s4
    ), tm AS (
        SELECT *, (svc * 3 + mk) % 8 + 1 AS m,
               CASE WHEN is_tool THEN child_u < 0.03 ELSE child_u < 0.01 END AS child_err
        FROM tr
    ), tok AS (
        SELECT *,
               CAST(least(200000, floor(exp(ln(900) + 1.0 * z(t, 10)))) + 50 AS BIGINT) AS tin,
               CAST(CASE WHEN refused THEN 10 + floor(30 * u(t, 13))
                         ELSE least(16000, floor(exp(ln(220) + 0.9 * z(t, 12)))) + 1
                    END AS BIGINT) AS tout
        FROM tm
    ), dur AS (
        SELECT *,
               exp(ln(350) + 0.5 * z(t, 14)) + tout * {ms_tok}[m] AS chat_ms,
               CASE WHEN is_tool THEN exp(ln(120) + 1.1 * z(t, 16))
                    ELSE exp(ln(45) + 0.7 * z(t, 16)) END AS child_ms,
               exp(ln(25) + 0.6 * z(t, 18)) AS overhead_ms,
               {t0_ns} + CAST(x * 1e9 AS BIGINT) AS root_ns
        FROM tok
    ), span AS (
        SELECT *,
               CASE r WHEN 0 THEN root_ns
                      WHEN 1 THEN root_ns + CAST(overhead_ms * 5e5 AS BIGINT)
                      ELSE root_ns + CAST((overhead_ms * 0.5 + chat_ms) * 1e6 AS BIGINT)
               END AS ns,
               CASE r WHEN 0 THEN chat_ms + child_ms + overhead_ms
                      WHEN 1 THEN chat_ms ELSE child_ms END AS ms,
               CASE r WHEN 0 THEN chat_err OR (child_err AND root_u < 0.5)
                      WHEN 1 THEN chat_err ELSE child_err END AS err,
               CASE r WHEN 0 THEN NULL WHEN 1 THEN 'chat'
                      ELSE CASE WHEN is_tool THEN 'tool' ELSE 'retrieval' END END AS op,
               {_sql_list(SERVICES)}[svc + 1] AS service_name,
               {_sql_list(TOOLS)}[CAST(floor(8 * u(t, 17)) AS INTEGER) + 1] AS tool
        FROM dur
    )
    SELECT
        printf('%016x%016x', hash(t * 4096 + 101), hash(t * 4096 + 102)),
        printf('%016x', hash(i * 4096 + 103)),
        CASE WHEN r = 0 THEN NULL ELSE printf('%016x', hash(t * 3 * 4096 + 103)) END,
        CASE r WHEN 0 THEN 'POST /v1/' || service_name
               WHEN 1 THEN 'chat ' || {names}[m]
               ELSE CASE WHEN is_tool THEN 'execute_tool ' || tool ELSE 'retrieve' END END,
        CASE r WHEN 0 THEN 'server' WHEN 1 THEN 'client'
               ELSE CASE WHEN is_tool THEN 'internal' ELSE 'client' END END,
        make_timestamp(ns // 1000)::TIMESTAMPTZ,
        ns,
        ms,
        CASE WHEN err THEN 'error' ELSE 'unset' END,
        CASE WHEN err THEN 'upstream failure' END,
        service_name,
        CASE WHEN u(t, 3) < 0.9 THEN 'prod' ELSE 'staging' END,
        '2.' || (svc % 5) || '.' || (d // 2),
        'team-' || (svc % 4),
        NULL,
        'truecourse.bench',
        op,
        CASE WHEN r = 1 THEN {provs}[m] END,
        CASE WHEN r = 1 THEN {names}[m] END,
        CASE WHEN r = 1 THEN tin END,
        CASE WHEN r = 1 THEN tout END,
        CASE WHEN r = 1 THEN tin + tout END,
        CASE WHEN r = 1 THEN 0 END,
        CASE WHEN r = 1 THEN 0 END,
        NULL,
        CASE WHEN r = 1 THEN tin * {p_in}[m] / 1e6 + tout * {p_out}[m] / 1e6 END,
        CASE WHEN r = 1
             THEN 'v' || ((svc + pv + CASE WHEN u(t, 6) < 0.2 THEN 1 ELSE 0 END) % 9 + 1) END,
        CASE WHEN r = 2 AND NOT is_tool THEN 'idx-' || (d // 3 + 1) END,
        CASE WHEN r = 2 AND is_tool THEN tool END,
        CASE WHEN r = 2 AND is_tool THEN NOT err END,
        CASE WHEN r = 1 THEN refused END,
        CASE WHEN r = 1 THEN CASE WHEN refused THEN 'content_filter'
                                  WHEN u(t, 19) < 0.03 THEN 'length' ELSE 'stop' END END,
        'conv-' || (hash(t * 4096 + 20) % 200000),
        NULL, NULL, NULL, NULL,
        '{{}}',
        '{{"service.name":"' || service_name || '"}}',
        NULL, NULL,
        CASE WHEN r = 2 AND NOT is_tool
             THEN CASE WHEN u(t, 21) < 0.05 THEN 0 ELSE 1 + floor(10 * u(t, 21)) END END,
        CASE WHEN r = 2 AND NOT is_tool THEN 'pgvector' END,
        CASE WHEN r = 1 THEN 'catalog' END
    FROM span
    """


def fill(path: str, n_spans: int) -> None:
    """Create the schema in ``path`` and insert ``n_spans`` spans (run in a child process, so
    the parent's peak RSS is the queries' alone)."""
    store = DuckDBStore(path)
    store.migrate()
    store.close()
    con = duckdb.connect(path)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    # u(x, k): a uniform in (0, 1) per (x, salt k). One-argument hash on x * 4096 + k: DuckDB's
    # hash(x, k) combines its arguments so weakly that hash(t, 5) and hash(t, 8) come out with
    # correlation -0.998 (measured), which made whole combinations of choices never occur.
    con.execute("CREATE TEMP MACRO u(x, k) AS "
                "((hash(x * 4096 + k) >> 11)::DOUBLE + 0.5) / 9007199254740992.0")
    con.execute("CREATE TEMP MACRO z(x, k) AS "
                "sqrt(-2 * ln(u(x, k))) * cos(2 * pi() * u(x, k + 1000))")
    con.execute(fill_sql(n_spans))
    con.execute("CHECKPOINT")
    con.close()


def rss_mib() -> str:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = f", now {psutil.Process().memory_info().rss / 2**20:,.0f} MiB" if psutil else ""
    return f"peak {peak:,.0f} MiB{now}"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    """Run ``fn`` once to warm, then ``repeat`` times; its last result and the run times."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times


def codes(arr: pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes of a string column (NULL a code of its own) and the values."""
    enc = pc.dictionary_encode(arr.combine_chunks(), null_encoding="encode")
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()


FLOOR_SQL = ("SELECT service, model, operation, duration_ms, status_code, input_tokens, "
             "output_tokens, cost_usd FROM spans "
             "WHERE start_time >= ? AND start_time < ? AND operation IS NOT NULL")


def floor(store: DuckDBStore, since: datetime, until: datetime) -> dict[tuple[Any, Any], dict]:
    """The 24-hour scorecard's numbers the plain way: read the columns once, aggregate in numpy.

    Same semantics as the scorecard's SQL: AI calls in ``[since, until)``; tokens and cost
    summed over model calls; p95 is the linear interpolation ``quantile_cont`` uses. Group
    numbers come from the dictionary codes of service and model (a lookup over the small code
    space: ``np.unique`` over the rows' combined codes costs 60 ms more at 1 M rows); the p95
    from one sort by (group, duration): duration first, then a stable sort of the group numbers
    (``np.lexsort`` on both is 4x slower).
    """
    tbl = store.select(FLOOR_SQL, [since, until])
    svc, svc_names = codes(tbl.column("service"))
    mdl, mdl_names = codes(tbl.column("model"))
    op, op_names = codes(tbl.column("operation"))
    st, st_names = codes(tbl.column("status_code"))
    dur = tbl.column("duration_ms").to_numpy()
    llm_codes = [k for k, v in enumerate(op_names) if v in ("chat", "completion", "embeddings")]
    llm = np.isin(op, llm_codes)
    err = st == st_names.index("error") if "error" in st_names else np.zeros(len(st), bool)

    def llm_values(name: str) -> np.ndarray:
        col = pc.fill_null(tbl.column(name), 0).to_numpy()
        return np.where(llm, col, 0)

    combined = svc.astype(np.int64) * len(mdl_names) + mdl
    present = np.bincount(combined, minlength=len(svc_names) * len(mdl_names)) > 0
    keys = np.flatnonzero(present)
    group = (np.cumsum(present) - 1)[combined].astype(np.int16)
    n = len(keys)
    count = np.bincount(group, minlength=n)
    errors = np.bincount(group, weights=err, minlength=n)
    tin = np.bincount(group, weights=llm_values("input_tokens"), minlength=n)
    tout = np.bincount(group, weights=llm_values("output_tokens"), minlength=n)
    cost = np.bincount(group, weights=llm_values("cost_usd"), minlength=n)
    by_dur = np.argsort(dur)
    ranked = dur[by_dur[np.argsort(group[by_dur], kind="stable")]]
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    pos = (count - 1) * 0.95
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, count - 1)
    p95 = ranked[starts + lo] + (pos - lo) * (ranked[starts + hi] - ranked[starts + lo])
    out = {}
    for g, key in enumerate(keys):
        s_name, m_name = svc_names[key // len(mdl_names)], mdl_names[key % len(mdl_names)]
        out[(s_name, m_name)] = {
            "requests": int(count[g]), "errors": int(errors[g]), "latency_p95": float(p95[g]),
            "input_tokens": int(tin[g]), "output_tokens": int(tout[g]), "cost_usd": cost[g],
        }
    return out


def check(card: dict[str, Any], ref: dict[tuple[Any, Any], dict]) -> str:
    """Compare the scorecard with the floor: counts and token sums exact, cost and p95 to
    1e-9 relative (summation order and interpolation arithmetic differ)."""
    got = {(g["group"]["service"], g["group"]["model"]): g["metrics"] for g in card["groups"]}
    if set(got) != set(ref):
        return f"MISMATCH: groups differ ({len(got)} vs {len(ref)})"
    bad = []
    for key, want in ref.items():
        m = got[key]
        rate = want["errors"] / want["requests"]
        cost = m["cost_usd"] if m["cost_usd"] is not None else 0.0
        ok = (m["requests"] == want["requests"] and m["error_rate"] == rate
              and (m["input_tokens"] or 0) == want["input_tokens"]
              and (m["output_tokens"] or 0) == want["output_tokens"]
              and math.isclose(cost, want["cost_usd"], rel_tol=1e-9, abs_tol=1e-12)
              and math.isclose(m["latency_p95"], want["latency_p95"], rel_tol=1e-9))
        if not ok:
            bad.append(f"{key}: scorecard {m} vs floor {want}")
    if bad:
        return f"MISMATCH in {len(bad)} groups; first: {bad[0]}"
    return (f"same answers in all {len(ref)} groups (requests, error_rate, tokens exact; "
            "cost and p95 within 1e-9 relative)")


def runs(times: list[float]) -> str:
    listed = ", ".join(f"{t:.3f}" for t in times)
    return f"median of {len(times)}: {statistics.median(times):.3f} s (runs: {listed})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--spans", type=int, default=10_000_000, help="spans to fill (7 days)")
    ap.add_argument("--db", help="DuckDB file to use; filled first when it has no spans, "
                    "reused as it is when it has (never deleted)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each query after one "
                    "warm-up run (median reported)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary DuckDB file")
    args = ap.parse_args()

    tmp = None
    if args.db:
        path = args.db
    else:
        tmp = tempfile.mkdtemp(prefix="tc-bench-scorecard-")
        path = os.path.join(tmp, "scorecard.duckdb")
    try:
        run(path, args.spans, args.repeat)
    finally:
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"kept {path}")


def run(path: str, n_spans: int, repeat: int) -> None:
    have = 0
    if os.path.exists(path):
        with duckdb.connect(path, read_only=True) as con:
            tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()")
                      .fetchall()}
            if "spans" in tables:
                row = con.execute("SELECT count(*) FROM spans").fetchone()
                have = row[0] if row else 0
    if have:
        print(f"reusing {path}: {have:,} spans (--spans ignored)")
    else:
        t0 = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=fill, args=(path, n_spans))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"fill failed (exit code {child.exitcode})")
        fill_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"filled {path} with {n_spans:,} spans over {DAYS} days in "
              f"{time.perf_counter() - t0:.1f} s (fill process peak RSS {fill_peak:,.0f} MiB, "
              f"file {os.path.getsize(path) / 2**30:.2f} GiB)")

    store = DuckDBStore(path)
    store.migrate()
    # "now" is the end of the hour of the last request (entry span); child spans run past it
    stats = store.select("SELECT count(*) AS n, max(start_time) FILTER "
                         "(WHERE parent_span_id IS NULL) AS last FROM spans").to_pylist()[0]
    total, last = stats["n"], stats["last"]
    until = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(hours=24)
    day_rows = store.select(
        "SELECT count(*) AS spans, count(*) FILTER (WHERE operation IS NOT NULL) AS ai "
        "FROM spans WHERE start_time >= ? AND start_time < ?", [since, until]).to_pylist()[0]
    settings = MeasureConfig()
    q24 = MeasureQuery.build(Window.of(since, until), group_by="service,model")
    print(f"spans: {total:,}; 24 h window [{since:%Y-%m-%d %H:%M}, {until:%Y-%m-%d %H:%M}) UTC: "
          f"{day_rows['spans']:,} spans, {day_rows['ai']:,} AI calls; "
          f"DuckDB {duckdb.__version__}, {os.cpu_count()} cores")

    card, t_card = timed(lambda: scorecard(store, q24, METRICS, settings), repeat)
    print(f"[scorecard 24 h, service x model, {METRICS}] {len(card['groups'])} groups, "
          f"subject {card['subject']}, quantiles {card['quantiles']}; {runs(t_card)}")
    print(f"  RSS after the 24 h scorecard: {rss_mib()}")

    ref, t_floor = timed(lambda: floor(store, since, until), repeat)
    _, t_read = timed(lambda: store.select(FLOOR_SQL, [since, until]), repeat)
    print(f"[floor: same columns read once into numpy, aggregated there] {len(ref)} groups; "
          f"{runs(t_floor)}; the read alone: median {statistics.median(t_read):.3f} s")
    print(f"  RSS after the floor: {rss_mib()}")
    print(f"check: {check(card, ref)}")
    med_card, med_floor = statistics.median(t_card), statistics.median(t_floor)
    ratio = med_card / med_floor
    print(f"ratio scorecard / floor: {ratio:.2f} (scorecard / the read alone: "
          f"{med_card / statistics.median(t_read):.2f})")

    q7 = MeasureQuery.build(Window.of(until - timedelta(days=DAYS), until),
                            group_by="service,model")
    card7, t7 = timed(lambda: scorecard(store, q7, METRICS, settings), repeat)
    print(f"[extra: scorecard 7 days, same metrics] {len(card7['groups'])} groups, quantiles "
          f"{card7['quantiles']}; {runs(t7)}")
    card_all, t_all = timed(lambda: scorecard(store, q24, None, settings), repeat)
    print(f"[extra: scorecard 24 h, all {len(card_all['metrics'])} metrics incl. the per-trace "
          f"task query] {len(card_all['groups'])} groups; {runs(t_all)}")
    print(f"  RSS at the end: {rss_mib()}")
    store.close()
    print(f"target (under 1 s and within 3x of the floor): scorecard {med_card:.3f} s "
          f"{'<' if med_card < 1 else '>='} 1 s, {ratio:.2f}x the floor -> "
          f"{'met' if med_card < 1 and ratio <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
