"""Where the two sides of a report come from: files, uploaded baselines, and store windows of a
model's predictions or a service's LLM spans (fixed past windows or rolling ones).

Window specs: ``SINCE..UNTIL`` with RFC 3339 times, ``now`` or look-backs (``14d..7d``,
``1h..now``); for the reference also ``rolling:7d`` (the current window moved back 7 days, e.g.
the same hours last week) and ``baseline:ID``. All SQL is aggregate-free column reads with
``?`` parameters (attribute and feature keys included, never spliced into the SQL).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from truecourse.config.drift import DriftConfig
from truecourse.drift.frame import (
    DriftFrame,
    column_from_arrow,
    frame_from_arrow,
    numeric_from_strings,
    read_path,
)
from truecourse.drift.report import DriftReport, compare_frames, overlapping_checks
from truecourse.errors import InvalidInput
from truecourse.store.base import Store

_RELATIVE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WINDOW_HINT = "a window is SINCE..UNTIL, e.g. 14d..7d, 1h..now or 2026-11-01T00:00Z..now"


@dataclass(frozen=True)
class TimeWindow:
    since: datetime
    until: datetime

    def label(self) -> str:
        return f"{self.since.isoformat()}..{self.until.isoformat()}"


def parse_instant(text: str, now: datetime) -> datetime:
    """RFC 3339, ``now``, or a look-back like ``15m``/``2h``/``7d`` before ``now``."""
    text = text.strip()
    if text == "now":
        return now
    m = _RELATIVE.match(text)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not a time", hint=_WINDOW_HINT) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def parse_window(spec: str, now: datetime | None = None) -> TimeWindow:
    """``SINCE..UNTIL`` as a window; ``InvalidInput`` when malformed or empty."""
    now = now or datetime.now(UTC)
    since_s, sep, until_s = spec.partition("..")
    if not sep:
        raise InvalidInput(f"{spec!r} is not a window", hint=_WINDOW_HINT)
    w = TimeWindow(parse_instant(since_s, now), parse_instant(until_s or "now", now))
    if w.until <= w.since:
        raise InvalidInput(f"window {spec!r} ends before it starts", hint=_WINDOW_HINT)
    return w


def rolling(current: TimeWindow, spec: str) -> TimeWindow:
    """The current window moved back by ``spec`` (``rolling:7d``: the same hours last week)."""
    m = _RELATIVE.match(spec.removeprefix("rolling:"))
    if not m:
        raise InvalidInput(f"{spec!r} is not a rolling reference", hint="e.g. rolling:7d")
    shift = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    return TimeWindow(current.since - shift, current.until - shift)


# -- predictions -------------------------------------------------------------------------------

def _json_key_path(dialect: str, key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"' if dialect == "duckdb" else key


def _json_text(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"({column}::json ->> ?)"
    return f"json_extract_string({column}, ?)"


def prediction_window(store: Store, model: str, window: TimeWindow, cfg: DriftConfig,
                      ) -> DriftFrame:
    """The features, prediction and score of ``model``'s predictions in ``window``, in time
    order. Windows over ``exact_max_rows`` are read as a repeatable random sample of that size
    (recorded in the frame's source)."""
    where = "model = ? AND time >= ? AND time < ?"
    params: list[object] = [model, window.since, window.until]
    if store.dialect == "postgresql":
        keys_sql = (f"SELECT DISTINCT json_object_keys(features::json) AS k FROM "
                    f"(SELECT features FROM predictions WHERE {where} LIMIT 2000) s")
    else:
        keys_sql = (f"SELECT DISTINCT unnest(json_keys(features)) AS k FROM "
                    f"(SELECT features FROM predictions WHERE {where} LIMIT 2000) s")
    keys = sorted(str(k) for k in store.select(keys_sql, params).column("k").to_pylist())
    total = int(store.select(f"SELECT count(*) AS n FROM predictions WHERE {where}",
                             params).column("n")[0].as_py())
    select = ", ".join(["time", "prediction", "prediction_value", "score",
                        *[f"{_json_text(store.dialect, 'features')} AS f{i}"
                          for i in range(len(keys))]])
    key_params = [_json_key_path(store.dialect, k) for k in keys]
    source = f"predictions of {model} {window.label()}"
    sql = f"SELECT {select} FROM predictions WHERE {where}"
    if total > cfg.exact_max_rows:
        sql += (f" ORDER BY md5(id) LIMIT {int(cfg.exact_max_rows)}" if store.dialect ==
                "postgresql" else f" ORDER BY hash(id) LIMIT {int(cfg.exact_max_rows)}")
        source += f" (sample of {cfg.exact_max_rows} of {total} rows)"
    table = store.select(sql, [*key_params, *params])
    table = table.sort_by("time")
    frame = DriftFrame(rows=table.num_rows, source=source)
    for i, key in enumerate(keys):
        raw = table.column(f"f{i}").combine_chunks()
        numbers = numeric_from_strings(raw)
        if numbers is not None:
            col = column_from_arrow(key, pa.array(numbers), "numeric")
        else:
            col = column_from_arrow(key, raw, "categorical")
        if col is not None:
            frame.columns[key] = col
    predicted = table.column("prediction").combine_chunks()
    distinct = len(pc.unique(predicted))
    values = table.column("prediction_value")
    as_number = values.null_count == 0 and distinct > 20
    pred_col = (column_from_arrow("prediction", values, "numeric") if as_number
                else column_from_arrow("prediction", predicted, "categorical"))
    if pred_col is not None and table.num_rows:
        frame.columns["prediction"] = pred_col
    if table.column("score").null_count < table.num_rows:
        score_col = column_from_arrow("score", table.column("score"), "numeric")
        if score_col is not None:
            frame.columns["score"] = score_col
    return frame


# -- LLM spans ---------------------------------------------------------------------------------

def llm_window(store: Store, service: str, window: TimeWindow, cfg: DriftConfig) -> DriftFrame:
    """LLM features of ``service`` in ``window``, derived from its spans (no extra
    instrumentation): per chat/completion span prompt and completion length, token counts,
    model, refusal and finish reason and the input text; per retrieval span the document count
    and top score; per tool span the tool name and outcome; and the configured span attributes.
    Each group of columns has its own row count (the spans it applies to)."""
    d = store.dialect
    base = "service = ? AND start_time >= ? AND start_time < ?"
    params: list[object] = [service, window.since, window.until]
    length = "length"
    frame = DriftFrame(source=f"spans of {service} {window.label()}")
    chat = store.select(
        f"SELECT {length}(input_text) AS prompt_chars, {length}(output_text) AS "
        f"completion_chars, input_tokens, output_tokens, model, "
        f"CAST(refused AS VARCHAR) AS refused, finish_reasons, input_text FROM spans "
        f"WHERE {base} AND operation IN ('chat', 'completion') ORDER BY start_time", params)
    score_expr = ("(attributes::json -> 'gen_ai.retrieval.scores' ->> 0)" if d == "postgresql"
                  else "json_extract_string(attributes, '$.\"gen_ai.retrieval.scores\"[0]')")
    retrieval = store.select(
        f"SELECT retrieval_documents, {score_expr} AS retrieval_top_score FROM spans "
        f"WHERE {base} AND operation = 'retrieval' ORDER BY start_time", params)
    tools = store.select(
        f"SELECT tool_name, CAST(tool_ok AS VARCHAR) AS tool_ok FROM spans "
        f"WHERE {base} AND (operation = 'tool' OR tool_name IS NOT NULL) ORDER BY start_time",
        params)
    for table in (chat, retrieval, tools):
        frame.rows = max(frame.rows, table.num_rows)
        for name in table.column_names:
            arr = table.column(name)
            if pa.types.is_string(arr.type) and name == "retrieval_top_score":
                numbers = numeric_from_strings(arr.combine_chunks())
                col = column_from_arrow(name, pa.array(numbers) if numbers is not None
                                        else arr)
            else:
                col = column_from_arrow(name, arr)
            if col is not None and table.num_rows:
                frame.columns[name] = col
    for attr in cfg.span_attributes:
        expr = _json_text(d, "attributes")
        table = store.select(f"SELECT {expr} AS v FROM spans WHERE {base} AND {expr} IS NOT "
                             f"NULL ORDER BY start_time",
                             [_json_key_path(d, attr.name), *params,
                              _json_key_path(d, attr.name)])
        raw = table.column("v").combine_chunks()
        if attr.kind == "numeric":
            numbers = numeric_from_strings(raw)
            if numbers is None:
                frame.unsupported[f"attr:{attr.name}"] = "configured numeric but has text values"
                continue
            col = column_from_arrow(f"attr:{attr.name}", pa.array(numbers), "numeric")
        else:
            col = column_from_arrow(f"attr:{attr.name}", raw, "categorical")
        if col is not None and table.num_rows:
            frame.columns[f"attr:{attr.name}"] = col
    return frame


# -- one report from specs ---------------------------------------------------------------------

def _is_file(spec: str) -> bool:
    return ".." not in spec and not spec.startswith(("baseline:", "rolling:"))


def load_side(spec: str, store: Store | None, cfg: DriftConfig, *, model: str | None,
              service: str | None, current: TimeWindow | None = None) -> DriftFrame:
    """One side of a report from its spec (file, ``baseline:ID``, window or ``rolling:``)."""
    if _is_file(spec):
        return frame_from_arrow(read_path(spec), source=spec)
    if not spec.startswith("baseline:") and not (model or service):
        raise InvalidInput(f"window {spec!r} needs a model (predictions) or a service (LLM "
                           "spans)", hint="CLI: --model NAME or --service NAME, with --db")
    if store is None:
        raise InvalidInput(f"{spec!r} names a window or baseline, which needs a store",
                           hint="pass --db (CLI) or ask the server (API)")
    if spec.startswith("baseline:"):
        from truecourse.drift.baselines import load_baseline

        return load_baseline(store, spec.removeprefix("baseline:"))[1]
    if spec.startswith("rolling:"):
        if current is None:
            raise InvalidInput("a rolling reference needs a current window",
                               hint="e.g. --current 1d..now --reference rolling:7d")
        window = rolling(current, spec)
    else:
        window = parse_window(spec)
    if model:
        return prediction_window(store, model, window, cfg)
    return llm_window(store, str(service), window, cfg)


def build_report(store: Store | None, reference: str, current: str, cfg: DriftConfig, *,
                 model: str | None = None, service: str | None = None,
                 score_columns: Sequence[str] = (), text_columns: Sequence[str] = (),
                 ignore: Sequence[str] = (), every: str | None = None) -> DriftReport:
    """The report of ``current`` against ``reference`` (specs as in :func:`load_side`).

    ``every`` (e.g. ``5m``) says the check repeats on overlapping current windows at that
    interval: alpha is shared among the checks that see the same rows."""
    cur_window = None if _is_file(current) or current.startswith("baseline:") \
        else parse_window(current)
    cur = load_side(current, store, cfg, model=model, service=service)
    if reference.startswith("sketches:"):
        if not model or store is None:
            raise InvalidInput("a sketched reference needs a model and a store",
                               hint="e.g. --model fraud --db FILE --reference sketches:30d..1d")
        from truecourse.drift.sketches import compare_with_sketches, load_windows

        ref_window = parse_window(reference.removeprefix("sketches:"))
        sketched = compare_with_sketches(
            load_windows(store, model, ref_window.since, ref_window.until), cur, cfg,
            model=model, source=f"sketches of {model} {ref_window.label()}")
        if cur_window is not None:
            from truecourse.drift.performance import window_performance

            sketched.performance = window_performance(store, model, cur_window.since,
                                                      cur_window.until)
        return sketched
    ref = load_side(reference, store, cfg, model=model, service=service, current=cur_window)
    scores = list(score_columns) or (["score"] if model else [])
    texts = list(text_columns) or (["input_text"] if service else [])
    overlap = 1
    if every is not None:
        if cur_window is None:
            raise InvalidInput("--every applies to a current window, not a file")
        m = _RELATIVE.match(every)
        if not m:
            raise InvalidInput(f"every={every!r} is not an interval", hint="e.g. 5m, 1h")
        step = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}).total_seconds()
        overlap = overlapping_checks((cur_window.until - cur_window.since).total_seconds(),
                                     step)
    report = compare_frames(ref, cur, cfg, model=model or service, score_columns=scores,
                            text_columns=texts, ignore=ignore, overlapping_checks=overlap)
    if model and store is not None and cur_window is not None:
        from truecourse.drift.performance import window_performance

        report.performance = window_performance(store, model, cur_window.since,
                                                cur_window.until)
    return report


def run_report(reference: str, current: str, cfg: DriftConfig, *, db: str | None = None,
               model: str | None = None, service: str | None = None,
               score_columns: Sequence[str] = (), text_columns: Sequence[str] = (),
               ignore: Sequence[str] = (), keep: bool = False,
               every: str | None = None) -> DriftReport:
    """:func:`build_report` opening ``db`` when given (the CLI's path); ``keep`` stores it."""
    if db is None:
        if keep:
            raise InvalidInput("--store needs --db")
        return build_report(None, reference, current, cfg, model=model, service=service,
                            score_columns=score_columns, text_columns=text_columns,
                            ignore=ignore, every=every)
    from truecourse.store import open_store

    store = open_store(db)
    try:
        store.migrate()
        report = build_report(store, reference, current, cfg, model=model, service=service,
                              score_columns=score_columns, text_columns=text_columns,
                              ignore=ignore, every=every)
        if keep:
            from truecourse.drift.reports import save_report

            save_report(store, report)
        return report
    finally:
        store.close()
