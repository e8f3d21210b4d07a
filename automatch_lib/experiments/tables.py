"""Tables of the analysis stages: every cell a mean over seeds with its 95% interval, winners marked only where the
interval separates them, and how complementary a set of trackers is.

The per-attribute table is laid out like the paper's Table 1 (overall AUC, then the eleven OTB attributes). Each
cell is the mean over seeds of the attribute's success AUC with a two-way bootstrap interval over the attribute's
test sequences and the seeds (`evaluation.compare.mean_interval`). A column's best row is marked only when the
paired difference to the runner-up (`evaluation.compare.compare`, same sequences and seeds) has its whole interval
above zero: with overlapping rows, "best" would be the luck of one draw.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from ..evaluation.compare import compare, mean_interval
from .evaluating import family_of, score_matrix
from .variants import attribute_matrix


def interval_rows(results: dict[str, dict], names: list[str]) -> dict[str, dict]:
    """{name: {'mean', 'ci95', 'half_width' (success AUC over test sequences and seeds), 'fps' (mean over seeds)}}."""
    out = {}
    for n in names:
        fps = [m["fps"] for k, m in results.items() if family_of(k) == n]
        out[n] = {**mean_interval(score_matrix(results, n)), "fps": float(np.mean(fps))}
    return out


def interval_table(results: dict[str, dict], names: list[str], sequences: list,
                   codes: tuple[str, ...]) -> dict[str, dict[str, dict]]:
    """{column: {name: {'mean', 'ci95', 'half_width', 'sequences'}}} for column 'overall' and each attribute code
    carried by at least two test sequences (fewer cannot be resampled), plus {column: {'best', 'separated',
    'runner_up', 'diff', 'ci95'}} under the key '_winner'."""
    table: dict[str, dict] = {}
    winners = {}
    for code in (None, *codes):
        col = code or "overall"
        mats = {n: attribute_matrix(results, n, sequences, code) for n in names}
        if next(iter(mats.values())).shape[1] < 2:
            continue
        table[col] = {n: {**mean_interval(m), "sequences": int(m.shape[1])} for n, m in mats.items()}
        ranked = sorted(names, key=lambda n: -table[col][n]["mean"])
        best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
        if second is None:
            winners[col] = {"best": best, "separated": False, "runner_up": None}
            continue
        c = compare(best, second, mats[best], mats[second])
        winners[col] = {"best": best, "runner_up": second, "diff": c["diff"], "ci95": c["ci95"],
                        "separated": c["verdict"] == "better"}
    table["_winner"] = winners
    return table


def display_rows(table: dict[str, dict], names: list[str]) -> list[dict]:
    """Rows per name: 'mean ±half' per column, with '*' after the column's winner where it is separated."""
    cols = [c for c in table if c != "_winner"]
    rows = []
    for n in names:
        row = {"tracker": n}
        for c in cols:
            cell = table[c][n]
            mark = "*" if table["_winner"][c]["best"] == n and table["_winner"][c]["separated"] else ""
            row[c] = f"{cell['mean']:.3f} ±{cell['half_width']:.3f}{mark}"
        rows.append(row)
    return rows


def mean_frame(table: dict[str, dict], names: list[str]) -> dict[str, dict[str, float]]:
    """{name: {column: mean}}: the numbers behind `display_rows`, for a heatmap."""
    return {n: {c: table[c][n]["mean"] for c in table if c != "_winner"} for n in names}


def complementarity(results: dict[str, dict], names: list[str]) -> dict:
    """How much the trackers complement each other on the test sequences (seed-averaged per-sequence AUC):
    {'best_single', 'best_single_auc', 'oracle_auc' (per sequence the best tracker's AUC, averaged: what a perfect
    per-sequence choice would reach), 'wins' ({name: sequences where it is best}), 'mean_rank_correlation'
    (Spearman correlation of per-sequence AUC between trackers, averaged over pairs: 1 = they fail on the same
    sequences, so combining them cannot help)}."""
    per_seq = np.stack([score_matrix(results, n).mean(axis=0) for n in names])   # (trackers, sequences)
    means = per_seq.mean(axis=1)
    best = int(np.argmax(means))
    winners = np.argmax(per_seq, axis=0)
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    corr = [float(spearmanr(per_seq[i], per_seq[j]).statistic) for i, j in pairs]
    return {"best_single": names[best], "best_single_auc": float(means[best]),
            "oracle_auc": float(per_seq.max(axis=0).mean()),
            "wins": {n: int((winners == i).sum()) for i, n in enumerate(names)},
            "mean_rank_correlation": float(np.nanmean(corr)) if corr else float("nan")}
