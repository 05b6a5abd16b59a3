"""Model performance per window: realized once labels arrive, estimated before they do.

Realized (labels joined to predictions by ``prediction_id``): accuracy, precision, recall for
classifiers (binary: the positive class is ``1``/``true``; more classes: macro averages), MAE for
regressors, each with its standard error, and the label delay (median and p90 seconds from
prediction to label) and label coverage.

Estimated (confidence-based performance estimation, CBPE as in NannyML): scores are first
calibrated on labeled reference data (isotonic regression, scipy), then the expected confusion
matrix of the unlabeled predictions follows from the calibrated probabilities:
E[TP] = sum over predicted positives of p, E[FP] = sum of (1 - p), and so on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.optimize import isotonic_regression

from truecourse.store.base import Store

_POSITIVE = {"1", "true", "yes", "1.0"}


def _se(p: float, n: int) -> float | None:
    return float(np.sqrt(p * (1 - p) / n)) if n > 0 else None


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, precision, recall (binary on positive 1, else macro) with standard errors."""
    n = len(y_true)
    acc = float(np.mean(y_true == y_pred)) if n else float("nan")
    classes = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(classes) <= 2 and set(classes.tolist()) <= {0, 1}
    out: dict[str, Any] = {"n": n, "accuracy": acc, "accuracy_se": _se(acc, n)}
    if binary:
        tp = int(np.sum((y_pred == 1) & (y_true == 1)))
        pp, ap = int(np.sum(y_pred == 1)), int(np.sum(y_true == 1))
        prec = tp / pp if pp else float("nan")
        rec = tp / ap if ap else float("nan")
        out.update(precision=prec, precision_se=_se(prec, pp) if pp else None,
                   recall=rec, recall_se=_se(rec, ap) if ap else None)
    else:
        precs, recs = [], []
        for c in classes:
            pp, ap = np.sum(y_pred == c), np.sum(y_true == c)
            tp = np.sum((y_pred == c) & (y_true == c))
            if pp:
                precs.append(tp / pp)
            if ap:
                recs.append(tp / ap)
        out.update(precision=float(np.mean(precs)) if precs else None,
                   recall=float(np.mean(recs)) if recs else None, averaging="macro")
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    err = np.abs(y_true - y_pred)
    n = len(err)
    return {"n": n, "mae": float(err.mean()) if n else None,
            "mae_se": float(err.std(ddof=1) / np.sqrt(n)) if n > 1 else None}


def calibrate(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An isotonic calibration map (sorted scores, calibrated probabilities) from labeled
    data; apply it with :func:`apply_calibration`."""
    order = np.argsort(scores, kind="stable")
    fitted = isotonic_regression(labels[order].astype(float), increasing=True).x
    return scores[order], np.asarray(fitted)


def apply_calibration(mapping: tuple[np.ndarray, np.ndarray], scores: np.ndarray) -> np.ndarray:
    xs, ys = mapping
    return np.clip(np.interp(scores, xs, ys), 0.0, 1.0)


def estimate_binary(calibrated: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Expected accuracy, precision and recall of binary predictions ``y_pred`` (0/1) whose
    calibrated probability of class 1 is ``calibrated`` (no labels needed)."""
    p = calibrated
    pos = y_pred == 1
    e_tp = float(p[pos].sum())
    e_fp = float((1 - p[pos]).sum())
    e_tn = float((1 - p[~pos]).sum())
    e_fn = float(p[~pos].sum())
    n = len(p)
    acc = (e_tp + e_tn) / n if n else float("nan")
    prec = e_tp / (e_tp + e_fp) if (e_tp + e_fp) else float("nan")
    rec = e_tp / (e_tp + e_fn) if (e_tp + e_fn) else float("nan")
    # sampling error of the realized metric around its expectation (Bernoulli per row)
    acc_var = float(np.sum(np.where(pos, p * (1 - p), p * (1 - p)))) / n**2 if n else 0.0
    return {"n": n, "accuracy": acc, "accuracy_se": float(np.sqrt(acc_var)),
            "precision": prec, "recall": rec, "method": "cbpe"}


def cbpe(reference_scores: np.ndarray, reference_labels: np.ndarray, scores: np.ndarray,
         threshold: float = 0.5, y_pred: np.ndarray | None = None) -> dict[str, Any]:
    """Estimated performance of a binary classifier on unlabeled ``scores``, calibrated on a
    labeled reference. ``y_pred`` defaults to ``scores >= threshold``."""
    mapping = calibrate(reference_scores, reference_labels)
    pred = (scores >= threshold).astype(int) if y_pred is None else y_pred
    return estimate_binary(apply_calibration(mapping, scores), pred)


def _labels(table: pa.Table) -> tuple[np.ndarray, np.ndarray, bool]:
    """(y_true, y_pred, is_regression) from text predictions and labels."""
    truth = table.column("label").combine_chunks()
    pred = table.column("prediction").combine_chunks()
    try:
        t_num = pc.cast(truth, pa.float64()).to_numpy(zero_copy_only=False)
        p_num = pc.cast(pred, pa.float64()).to_numpy(zero_copy_only=False)
        distinct = len(np.unique(t_num))
        if distinct > 20 or not np.all(np.mod(t_num, 1) == 0):
            return t_num, p_num, True
        return t_num.astype(int), p_num.astype(int), False
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    lower_t = pc.utf8_lower(truth)
    lower_p = pc.utf8_lower(pred)
    binary = set(pc.unique(lower_t).to_pylist()) | set(pc.unique(lower_p).to_pylist())
    if binary <= {"true", "false", "yes", "no"}:
        return (pc.is_in(lower_t, pa.array(list(_POSITIVE))).to_numpy(zero_copy_only=False)
                .astype(int), pc.is_in(lower_p, pa.array(list(_POSITIVE)))
                .to_numpy(zero_copy_only=False).astype(int), False)
    enc = pc.dictionary_encode(pa.chunked_array([truth, pred]).combine_chunks())
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return codes[: len(truth)], codes[len(truth):], False


def window_performance(store: Store, model: str, since: datetime, until: datetime,
                       ) -> dict[str, Any]:
    """Realized metrics for the labeled predictions of ``model`` in the window, the label
    delay and coverage, and the CBPE estimate for the unlabeled ones when scores exist."""
    d = store.dialect
    jt = ("(e.payload::json ->> '{k}')" if d == "postgresql"
          else "json_extract_string(e.payload, '$.{k}')")
    where = "p.model = ? AND p.time >= ? AND p.time < ?"
    params = [model, since, until]
    epoch = ("extract(epoch FROM (e.time - p.time))" if d == "postgresql"
             else "epoch(e.time) - epoch(p.time)")
    joined = store.select(
        f"SELECT p.prediction, p.score, {jt.format(k='label')} AS label, "
        f"{epoch} AS delay_s FROM predictions p JOIN events e ON e.kind = 'label' "
        f"AND {jt.format(k='prediction_id')} = p.id WHERE {where}", params)
    counts = store.select(f"SELECT count(*) AS n FROM predictions p WHERE {where}", params)
    total = int(counts.column("n")[0].as_py())
    out: dict[str, Any] = {"predictions": total, "labeled": joined.num_rows,
                           "label_coverage": joined.num_rows / total if total else None}
    if joined.num_rows:
        delay = joined.column("delay_s").to_numpy(zero_copy_only=False).astype(float)
        out["label_delay_s"] = {"median": float(np.median(delay)),
                                "p90": float(np.quantile(delay, 0.9))}
        labeled = joined.filter(pc.is_valid(joined.column("prediction")))
        y_true, y_pred, regression = _labels(labeled)
        out["realized"] = (regression_metrics(y_true, y_pred) if regression
                           else classification_metrics(y_true, y_pred))
        scores = labeled.column("score").to_numpy(zero_copy_only=False).astype(float)
        if not regression and np.isfinite(scores).all() and set(np.unique(y_true)) <= {0, 1} \
                and total > joined.num_rows:
            unl = store.select(
                f"SELECT p.prediction, p.score FROM predictions p WHERE {where} AND p.score IS "
                f"NOT NULL AND p.id NOT IN (SELECT {jt.format(k='prediction_id')} FROM events e "
                f"WHERE e.kind = 'label' AND {jt.format(k='prediction_id')} IS NOT NULL)",
                params)
            if unl.num_rows:
                s = unl.column("score").to_numpy(zero_copy_only=False).astype(float)
                pred_text = pc.utf8_lower(unl.column("prediction").combine_chunks().fill_null(""))
                y_hat = pc.is_in(pred_text, pa.array(list(_POSITIVE))).to_numpy(
                    zero_copy_only=False).astype(int)
                out["estimated"] = cbpe(scores, y_true, s, y_pred=y_hat)
                out["estimated"]["calibrated_on"] = len(scores)
    return out
