"""Paired comparison of two tracker configurations: mean difference with a two-way bootstrap confidence interval.

Every comparison of two configurations in this project (metrics/eval.json's ``comparisons``) is reported as the
mean per-sequence score difference ``a - b`` with a 95% confidence interval, and the verdict is read from that
interval: "better" only if the whole interval is above 0, "worse" only if it is below 0, otherwise "no detectable
difference". A single run's difference is not a result: it mixes the real effect with the luck of one training
seed and of one particular set of test sequences.

The scores come as two matrices of shape (n_seeds, n_sequences): row i of ``a`` and row i of ``b`` were trained
with the same seed, column j is the same test sequence, so the comparison is paired on both axes. The interval
comes from a two-way paired bootstrap: the seed indices and the sequence indices are resampled independently, with
replacement, and the statistic is the mean of D = a - b over the resampled rows and columns. Resampling the
sequences accounts for the variation between test sequences (some are easy for one configuration, hard for the
other); resampling the seeds accounts for the variation between training runs (a configuration that won with one
seed may lose with another). With a single seed the seed axis cannot be resampled, so only the sequences are,
and the interval then says nothing about training-seed variation.

The resampling is done by ``scipy.stats.bootstrap`` (percentile method, seeded generator, hence deterministic):
the two "samples" given to it are the index vectors ``arange(n_seeds)`` and ``arange(n_sequences)`` with
``paired=False``, so each is resampled on its own, and the statistic indexes D with the resampled indices.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["paired_difference", "verdict", "compare", "mean_interval"]


def verdict(low: float, high: float) -> str:
    """Read the verdict from a confidence interval [low, high] of mean(a - b).

    'better' if low > 0 (a is better than b), 'worse' if high < 0, else 'no detectable difference'.
    """
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no detectable difference"


def _differences(a, b) -> np.ndarray:
    """Validate a, b (both (n_seeds, n_sequences), finite, >= 1 seed, >= 2 sequences); return D = a - b."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (n_seeds, n_sequences), got {a.shape} and {b.shape}")
    if a.ndim != 2:
        raise ValueError(f"a and b must be 2-D of shape (n_seeds, n_sequences), got shape {a.shape} "
                         f"({a.ndim}-D); wrap a single seed's scores as [scores]")
    n_seeds, n_sequences = a.shape
    if n_seeds < 1:
        raise ValueError(f"need at least 1 seed (row), got shape {a.shape}")
    if n_sequences < 2:
        raise ValueError(f"need at least 2 sequences (columns) to bootstrap, got shape {a.shape}")
    for name, x in (("a", a), ("b", b)):
        if not np.all(np.isfinite(x)):
            bad = int(np.count_nonzero(~np.isfinite(x)))
            raise ValueError(f"{name} (shape {x.shape}) contains {bad} non-finite value(s) (NaN or inf)")
    return a - b


def _two_way_mean(D: np.ndarray):
    """Statistic for scipy.stats.bootstrap: mean of D over resampled seed indices and sequence indices.

    Called as ``stat(rows, cols, axis=-1)`` with integer index arrays of shape (..., n_seeds) and
    (..., n_sequences) (same leading batch shape); returns the means, shape (...). Rather than materialising
    D[rows][:, cols] for every resample (batch x n_seeds x n_sequences), it counts how often each seed is drawn,
    averages D's rows with those weights (batch x n_sequences) and averages that over the drawn columns.
    """
    n_seeds, n_sequences = D.shape

    def statistic(rows, cols, axis=-1):
        rows = np.moveaxis(np.asarray(rows), axis, -1).astype(np.intp)
        cols = np.moveaxis(np.asarray(cols), axis, -1).astype(np.intp)
        batch = rows.shape[:-1]
        rows = rows.reshape(-1, rows.shape[-1])                          # (B, n_seeds)
        cols = cols.reshape(-1, cols.shape[-1])                          # (B, n_sequences)
        B = rows.shape[0]
        offsets = (np.arange(B) * n_seeds)[:, None]
        counts = np.bincount((rows + offsets).ravel(), minlength=B * n_seeds).reshape(B, n_seeds)
        row_mean = counts @ D / rows.shape[-1]                           # (B, n_sequences): mean over drawn rows
        out = np.take_along_axis(row_mean, cols, axis=-1).mean(axis=-1)  # (B,): then over drawn columns
        return out.reshape(batch)

    return statistic


def _one_way_mean(d: np.ndarray):
    """Statistic for a single seed: mean of the (n_sequences,) differences d over resampled sequence indices."""

    def statistic(cols, axis=-1):
        cols = np.moveaxis(np.asarray(cols), axis, -1).astype(np.intp)
        return d[cols].mean(axis=-1)

    return statistic


def paired_difference(a, b, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean paired difference mean(a - b) with a two-way (seeds x sequences) percentile bootstrap interval.

    a, b: array-likes of shape (n_seeds, n_sequences): per-sequence scores (e.g. success AUC) of two
    configurations; row i of a and row i of b were trained with the same seed, column j is the same test sequence.
    At least 1 seed and 2 sequences, same shapes, all finite; otherwise ValueError.

    The seed indices and the sequence indices are resampled independently with replacement
    (``scipy.stats.bootstrap``, ``paired=False``, ``method='percentile'``, ``rng=np.random.default_rng(seed)``,
    so the result is deterministic); each resample's statistic is the mean of D = a - b over the drawn rows and
    columns. With a single seed (n_seeds == 1) the seed axis cannot be resampled: the bootstrap is over sequences
    only, and the interval does not cover training-seed variation. If all differences are identical (degenerate)
    the interval is [c, c] at that value c.

    Returns {'diff': mean(a - b), 'ci95': [low, high], 'half_width': (high - low) / 2, 'verdict': ...} with plain,
    unrounded Python floats. 'ci95' holds the interval at the requested ``confidence`` (0.95 by default).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    D = _differences(a, b)
    n_seeds, n_sequences = D.shape

    if np.ptp(D) == 0:  # degenerate: every resample has the same mean; scipy would give a 0-width or NaN interval
        c = float(D.flat[0])
        low = high = diff = c
    else:
        diff = float(D.mean())
        if n_seeds == 1:
            data, statistic = (np.arange(n_sequences),), _one_way_mean(D[0])
        else:
            data, statistic = (np.arange(n_seeds), np.arange(n_sequences)), _two_way_mean(D)
        res = stats.bootstrap(data, statistic, n_resamples=int(n_resamples), vectorized=True, paired=False,
                              confidence_level=confidence, method="percentile",
                              rng=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (np.isfinite(low) and np.isfinite(high)):  # cannot happen for finite D; fall back to the extremes
            dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
            dist = dist[np.isfinite(dist)]
            low, high = (float(dist.min()), float(dist.max())) if dist.size else (diff, diff)
    return {"diff": diff, "ci95": [low, high], "half_width": (high - low) / 2, "verdict": verdict(low, high)}


def compare(name_a: str, name_b: str, a, b, **kw) -> dict:
    """One entry of metrics/eval.json's ``comparisons``: configuration name_a against name_b.

    a, b: (n_seeds, n_sequences) per-sequence scores as in ``paired_difference`` (kw are passed to it).
    Returns {'a': name_a, 'b': name_b, 'diff', 'ci95', 'half_width', 'verdict', 'a_seeds': [mean of each row of
    a], 'b_seeds': [mean of each row of b], 'n_seeds', 'n_sequences'} with plain Python floats/ints/lists
    (JSON-ready). Numbers are computed with full precision (the verdict too) and only rounded to 4 digits here.
    """
    res = paired_difference(a, b, **kw)  # validates a and b
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)

    def r(x) -> float:
        return round(float(x), 4)

    return {
        "a": str(name_a),
        "b": str(name_b),
        "diff": r(res["diff"]),
        "ci95": [r(v) for v in res["ci95"]],
        "half_width": r(res["half_width"]),
        "verdict": res["verdict"],
        "a_seeds": [r(v) for v in a.mean(axis=1)],
        "b_seeds": [r(v) for v in b.mean(axis=1)],
        "n_seeds": int(a.shape[0]),
        "n_sequences": int(a.shape[1]),
    }


def mean_interval(a, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of one configuration's (n_seeds, n_sequences) scores with the same two-way bootstrap interval (seeds
    and sequences resampled independently): {'mean', 'ci95': [low, high], 'half_width'}. It is the interval of
    mean(a - 0), so it shares every check and the resampling of ``paired_difference``."""
    a = np.asarray(a, dtype=np.float64)
    res = paired_difference(a, np.zeros_like(a), confidence, n_resamples, seed)
    return {"mean": res["diff"], "ci95": res["ci95"], "half_width": res["half_width"]}
