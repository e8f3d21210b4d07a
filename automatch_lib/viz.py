"""Figures for the notebooks: success/precision plots, potentials over the search, loss curves, example frames."""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np

from .data.benchmarks import load_benchmark
from .data.sequence import OTB_ATTRIBUTES
from .io import atomic_write


def plot_ope(results: dict[str, dict], title: str = ""):
    """Success and precision plots of several trackers (legend shows AUC and P@20, as the OTB toolkit)."""
    fig, (ax_s, ax_p) = plt.subplots(1, 2, figsize=(11, 4))
    for name, m in sorted(results.items(), key=lambda kv: -kv[1]["success_auc"]):
        ax_s.plot(m["success_thresholds"], m["success_curve"], label=f"{name} [{m['success_auc']:.3f}]")
        ax_p.plot(m["precision_thresholds"], m["precision_curve"], label=f"{name} [{m['precision_20']:.3f}]")
    ax_s.set(xlabel="overlap threshold", ylabel="success rate", title=f"Success plot {title}", ylim=(0, 1))
    ax_p.set(xlabel="location error threshold (px)", ylabel="precision", title=f"Precision plot {title}", ylim=(0, 1))
    for ax in (ax_s, ax_p):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_search(history: list[dict], retained: dict[str, list[str]] | None = None):
    """One search over its steps: the potential of each operator (Eq. 12, top) and the fraction of its channels
    gated off (w <= 0, bottom), per branch; retained operators drawn thick."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    steps = [h["step"] for h in history]
    for col, branch in enumerate(("cls", "reg")):
        for row, (key, label) in enumerate((("potential", "potential  sum_j sigmoid(w_ij)"),
                                            ("gated_off", "fraction of channels with w <= 0"))):
            ax = axes[row, col]
            for op in history[0][key][branch]:
                keep = retained is not None and op in retained[branch]
                ax.plot(steps, [h[key][branch][op] for h in history], label=op, lw=2.5 if keep else 1.0,
                        ls="-" if keep else "--")
            ax.set(ylabel=label, xlabel="search step" if row else None)
            ax.grid(alpha=0.3)
        axes[0, col].set_title(f"{'classification' if branch == 'cls' else 'regression'} branch")
    axes[0, 1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_comparisons(entries: list[dict], label: str = "success AUC difference"):
    """Forest plot of paired comparisons: each difference a - b with its 95% interval; the verdict in the label."""
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(entries) + 1.2))
    for i, e in enumerate(entries):
        low, high = e["ci95"]
        ax.errorbar(e["diff"], i, xerr=[[e["diff"] - low], [high - e["diff"]]], fmt="o", capsize=4)
    ax.set_yticks(range(len(entries)), [f"{e['a']} - {e['b']}: {e['verdict']}" for e in entries])
    ax.axvline(0.0, color="k", lw=1)
    ax.set(xlabel=f"{label} (mean, 95% paired bootstrap interval)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def plot_losses(histories: dict[str, dict], key: str = "loss/total"):
    """Per-epoch training loss of several runs."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, h in histories.items():
        ax.plot([e["epoch"] for e in h["epochs"]], [e[key] for e in h["epochs"]], marker="o", label=name)
    ax.set(xlabel="epoch", ylabel=key, title="training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_box(image: np.ndarray, box, color=(0, 255, 0), origin: int = 0) -> np.ndarray:
    """Copy of a BGR image with an x, y, w, h box drawn."""
    out = image.copy()
    x, y, w, h = (np.asarray(box, dtype=float) - np.array([origin, origin, 0, 0])).round().astype(int)
    cv2.rectangle(out, (x, y), (x + w, y + h), color, 2)
    return out


def show_frames(items: list[tuple[str, np.ndarray]], cols: int = 4, size: float = 3.0):
    """Grid of (title, BGR image) pairs."""
    rows = max(1, int(np.ceil(len(items) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 0.8))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, (title, img) in zip(np.atleast_1d(axes).ravel(), items):
        ax.imshow(img[:, :, ::-1])
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def save(fig, path: str | Path) -> None:
    """Save a figure (creating folders) and keep it displayed in the notebook."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format=Path(path).suffix[1:]))


def attribute_examples(root: str | Path, table, split: str = "test", frames: tuple[float, ...] = (0.0, 0.5, 1.0)):
    """For every attribute column of `table` (attribute_table), frames of the first `split` sequence carrying it,
    with the ground-truth box drawn: [(title, image)], ready for show_frames."""
    items = []
    for code in OTB_ATTRIBUTES:
        rows = table[(table["split"] == split) & table[code]]
        if rows.empty:
            continue
        seq = load_benchmark("otb", Path(root) / split, sequences=[rows.iloc[0]["name"]])[0]
        items += _boxed_frames(seq, frames, f"{code}: ")
    return items


def _boxed_frames(seq, frames: tuple[float, ...], prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """Frames of `seq` at the given fractions of its length, ground truth drawn, titled '<prefix><name> #<frame>'."""
    items = []
    for f in frames:
        i = int(round(f * (len(seq) - 1)))
        items.append((f"{prefix}{seq.name} #{i + 1}", draw_box(seq.image(i), seq.boxes[i], origin=seq.origin)))
    return items


def sequence_examples(root: str | Path, count: int = 8, frames: tuple[float, ...] = (0.0, 0.5, 1.0)):
    """Frames (first, middle, last by default) of `count` sequences spread evenly over the OTB-layout folder
    `root` (e.g. the pseudo-labelled train_video/), ground truth drawn: [(title, image)] for show_frames."""
    seqs = load_benchmark("otb", root)
    picked = np.linspace(0, len(seqs) - 1, min(count, len(seqs))).round().astype(int) if seqs else []
    return [item for k in picked for item in _boxed_frames(seqs[k], frames)]


def plot_box_stats(stats):
    """Histograms (shared bins, one colour per split) of box area / LR threshold, centre motion / FM threshold and
    aspect ratio, from synthetic.box_stats; dashed lines mark OTB's LR and FM thresholds."""
    cols = [("area_over_lr", "box area / LR threshold", 1.0, True), ("motion_over_fm", "centre motion / FM threshold",
                                                                       1.0, True), ("aspect", "aspect ratio w / h",
                                                                                    None, False)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for ax, (col, label, line, log) in zip(axes, cols):
        values = stats[col].replace([np.inf, -np.inf], np.nan).dropna()
        edges = np.histogram_bin_edges(values.clip(upper=values.quantile(0.995)), bins=40)
        for split, part in stats.groupby("split"):
            ax.hist(part[col].dropna().clip(upper=edges[-1]), bins=edges, alpha=0.5, label=split, log=log)
        if line is not None:
            ax.axvline(line, ls="--", c="k")
        ax.set(xlabel=label, ylabel="frames")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_response_maps(maps: dict[str, list[dict]], size: float = 1.8):
    """Rows = trackers, columns = frames: each search crop with the tracker's score map laid over it (the paper's
    Fig. 4); `maps` as `experiments.variants.response_maps` returns them."""
    names = list(maps)
    cols = len(maps[names[0]])
    fig, axes = plt.subplots(len(names), cols, figsize=(cols * size, len(names) * size), squeeze=False)
    for r, name in enumerate(names):
        for c, view in enumerate(maps[name]):
            ax = axes[r, c]
            patch = view["patch"]
            heat = cv2.resize(view["score"].astype(np.float32), patch.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            ax.imshow(patch[:, :, ::-1])
            ax.imshow(heat, cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0:
                ax.set_title(f"frame {view['frame']}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_heatmap(frame: dict[str, dict[str, float]], title: str = "", fmt: str = ".2f"):
    """Seaborn heatmap of {row: {column: value}} (e.g. AUC per tracker and attribute), each column's colours
    scaled on its own so the ranking within an attribute stands out."""
    import pandas as pd
    import seaborn as sns

    df = pd.DataFrame(frame).T
    norm = (df - df.min()) / (df.max() - df.min()).replace(0, 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * df.shape[1], 0.9 + 0.42 * df.shape[0]))
    sns.heatmap(norm, annot=df, fmt=fmt, cmap="viridis", cbar=False, ax=ax, annot_kws={"fontsize": 7})
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
