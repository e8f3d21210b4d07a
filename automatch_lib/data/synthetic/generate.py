"""``generate_benchmark``: the generated benchmark written in OTB layout, with a manifest.

Val/test sequences are regenerated with the next attempt seed until the flags they carry are exactly the ones
measured (`verify.verify_arrays`) and clear of the SV/FM/LR thresholds (`verify.clear_margins`); train sequences
carry the flags measured on them.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ...errors import ConfigError, DataError
from ...io import write_bytes, write_json, write_text
from ..sequence import OTB_ATTRIBUTES
from ..sources.collect import collect_sources
from ..sources.records import SourceSplit
from ..sources.split import SPLITS
from ..sources.videos import VIDEOS
from ..video_labels import video_sequences
from .config import SyntheticConfig
from .plan import plan_sequence
from .render import render_sequence, render_still
from .state import GENERATOR, GENERATOR_VERSION, SPLIT_ID, Context, Retry
from .verify import clear_margins, verify_arrays

PREFIX = {"train": "Tr", "val": "Va", "test": "Te"}   # sequence names: Te001_<target>
MAX_ATTEMPTS = 24         # after half of them, a val/test sequence drops its random extra attributes
ASSIGN_TAG = 1_000_003    # third word of the SeedSequence dealing a val/test split's attributes
TRAIN_ASSIGN_TAG = 2_000_003
MAX_TRAIN_ATTRIBUTES = 4


def _assign_attributes(cfg: SyntheticConfig, split: str, n: int) -> tuple[list[str], list[frozenset]]:
    """Round-robin primary attribute (every attribute once per len(attributes) sequences) + random extras."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLIT_ID[split], ASSIGN_TAG]))
    attrs = list(cfg.attributes)
    order = [attrs[i] for i in rng.permutation(len(attrs))]
    lo, hi = cfg.attrs_per_sequence
    out, primaries = [], []
    for i in range(n):
        primary = order[i % len(order)]
        primaries.append(primary)
        k = int(rng.integers(lo, hi + 1))
        others = [a for a in attrs if a != primary]
        extra = []
        if k > 1:
            extra = [others[j] for j in rng.choice(len(others), size=min(k - 1, len(others)), replace=False)]
        out.append(frozenset([primary, *extra]))
    return primaries, out


def _train_attributes(cfg: SyntheticConfig, index: int) -> frozenset:
    """0 to 4 random attributes of a train sequence."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLIT_ID["train"], TRAIN_ASSIGN_TAG, index]))
    attrs = list(cfg.attributes)
    k = int(rng.integers(0, min(MAX_TRAIN_ATTRIBUTES, len(attrs)) + 1))
    return frozenset(attrs[j] for j in rng.choice(len(attrs), size=k, replace=False))


def _realise(ctx: Context, pool: SourceSplit, split: str, i: int, planned: frozenset, primary: str | None):
    """(frames, gt, log, flags, attempt) of the first attempt that realises ``planned`` (val/test) or any attempt
    that renders (train, labelled with the flags measured)."""
    train = split == "train"
    for attempt in range(MAX_ATTEMPTS):
        plan = planned
        if attempt >= MAX_ATTEMPTS // 2 and len(planned) > 1:
            # after many failures drop the random extras (val/test keep the round-robin primary attribute;
            # train sequences are labelled with what they measure anyway)
            plan = frozenset() if train else frozenset([primary])
        try:
            frames, gt, log = render_sequence(plan_sequence(ctx, pool, split, i, plan, train, attempt))
        except Retry:
            continue
        measured = verify_arrays(gt, log)
        if train:
            return frames, gt, log, frozenset(a for a, v in measured.items() if v), attempt
        if all(measured[a] == (a in plan) for a in OTB_ATTRIBUTES) and clear_margins(gt, plan, ctx.th):
            return frames, gt, log, plan, attempt
    W, H = ctx.W, ctx.H
    raise DataError(f"{split} sequence {i}: could not realise attributes {sorted(planned)} in {MAX_ATTEMPTS} "
                    f"attempts (frame size {W}x{H}, seq_len {ctx.cfg.seq_len}); use longer sequences or larger frames")


def _write_jpeg(path: Path, img: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DataError(f"JPEG encoding failed for {path}")
    write_bytes(path, buf.tobytes())


def _gt_text(boxes: np.ndarray) -> str:
    """1-based integer x,y,w,h lines as in OTB."""
    return "".join(f"{int(b[0]) + 1},{int(b[1]) + 1},{int(b[2])},{int(b[3])}\n" for b in boxes)


def _dump_log(log: dict) -> str:
    """Valid JSON, sorted keys, one line per frame (readable, diffable, byte-stable)."""
    items = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(log.items()) if k != "frames"]
    frames = ",\n".join("  " + json.dumps(f, sort_keys=True) for f in log["frames"])
    items.append(' "frames": [\n' + frames + "\n ]")
    return "{\n" + ",\n".join(items) + "\n}\n"


def _write_sequence(sdir: Path, frames: list[np.ndarray], gt: np.ndarray, log: dict, quality: int) -> None:
    for t, img in enumerate(frames):
        _write_jpeg(sdir / "img" / f"{t + 1:04d}.jpg", img, quality)
    write_text(sdir / "groundtruth_rect.txt", _gt_text(gt))
    write_text(sdir / "attrs.txt", ", ".join(log["attributes"]) + ("\n" if log["attributes"] else ""))
    write_text(sdir / "log.json", _dump_log(log))


def _prepare_out(out_dir: Path) -> None:
    """Remove a previous output of this generator; refuse to write over anything else."""
    parts = [out_dir / s for s in (*SPLITS, "stills", "train_video")]
    man = out_dir / "manifest.json"
    ours = False
    if man.is_file():
        try:
            ours = json.loads(man.read_text()).get("generator") == GENERATOR
        except ValueError:
            ours = False
    if ours:
        for p in parts:
            if p.exists():
                shutil.rmtree(p)
        man.unlink()
    else:
        busy = [str(p) for p in parts if p.exists() and any(p.iterdir())]
        if busy:
            raise DataError(f"refusing to overwrite non-empty folders not made by this generator: {busy}")
    out_dir.mkdir(parents=True, exist_ok=True)


def _generate_split(ctx: Context, pool: SourceSplit, split: str, out_dir: Path, notes: list[str], bar) -> list:
    """Render and write the sequences of one split; returns their manifest entries."""
    cfg = ctx.cfg
    n = cfg.n_sequences[split]
    train = split == "train"
    primaries, planned_all = _assign_attributes(cfg, split, n) if not train else ([], [])
    seqs = []
    for i in range(n):
        planned = _train_attributes(cfg, i) if train else planned_all[i]
        frames, gt, log, flags, attempt = _realise(ctx, pool, split, i, planned, None if train else primaries[i])
        if flags != planned and not train:
            notes.append(f"{split} sequence {i}: extras of {sorted(planned)} dropped, kept {sorted(flags)}")
        name = f"{PREFIX[split]}{i + 1:03d}_{log['target']['name'].removeprefix('tux_')}"
        log["name"] = name
        log["attributes"] = [a for a in OTB_ATTRIBUTES if a in flags]
        log["attempt"] = attempt
        _write_sequence(out_dir / split / name, frames, gt, log, cfg.jpeg_quality)
        seqs.append({"name": name, "attributes": log["attributes"], "frames": len(frames),
                     "target": log["target"]["name"], "target_group": log["target"]["group"],
                     "background": log["background"]["name"], "background_group": log["background"]["group"],
                     "attempt": attempt})
        bar.update(1)
    return seqs


def _generate_stills(ctx: Context, pool: SourceSplit, out_dir: Path, bar) -> list:
    stills = []
    for i in range(ctx.cfg.n_stills):
        img, box, target = render_still(ctx, pool, i)
        name = f"Still{i + 1:04d}_{target.name.removeprefix('tux_')}"
        sdir = out_dir / "stills" / name
        _write_jpeg(sdir / "img" / "0001.jpg", img, ctx.cfg.jpeg_quality)
        write_text(sdir / "groundtruth_rect.txt", _gt_text(np.array([box])))
        write_text(sdir / "attrs.txt", "")
        stills.append({"name": name, "target": target.name, "target_group": target.group})
        bar.update(1)
    return stills


def _video_sequences(cfg: SyntheticConfig, out_dir: Path, notes: list, progress: bool) -> dict:
    """The pseudo-labelled real-video training sequences (``out_dir/train_video``) of ``cfg.videos``; a video that
    cannot be fetched (or needs Debian when use_debian is off) is skipped with a note in the manifest."""
    names = [v for v in cfg.videos if cfg.use_debian or VIDEOS[v].origin != "debian"]
    notes += [f"video {v!r} skipped: it comes from Debian and use_debian is false" for v in cfg.videos
              if v not in names]
    try:
        return video_sequences(names, out_dir / "train_video", cfg.cache_dir, progress)["videos"] if names else {}
    except DataError as exc:
        notes.append(f"real-video training sequences skipped: {exc}")
        return {}


def _json_types(x):
    """Tuples as lists, so that the returned manifest equals the one read back from manifest.json."""
    if isinstance(x, dict):
        return {str(k): _json_types(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_types(v) for v in x]
    return x


def generate_benchmark(out_dir: str | Path, cfg: SyntheticConfig | None = None, progress: bool = True) -> dict:
    """Write the generated benchmark under ``out_dir`` and return its manifest.

    Layout (OTB): ``out_dir/{train,val,test}/<Seq>/img/0001.jpg ...``, ``groundtruth_rect.txt`` (1-based integer
    x,y,w,h), ``attrs.txt`` (``IV, SV, ...`` or empty) and ``log.json`` (per-frame generator log);
    ``out_dir/stills/<Still>/img/0001.jpg`` + ``groundtruth_rect.txt`` (one row); ``out_dir/train_video/<video>_<k>``
    (pseudo-labelled real video, ``cfg.videos``); ``out_dir/manifest.json``.
    Same config -> byte-identical annotation files (and JPEGs with the same OpenCV build).
    """
    cfg = cfg or SyntheticConfig()
    if not isinstance(cfg, SyntheticConfig):
        raise ConfigError(f"cfg must be a SyntheticConfig, got {type(cfg).__name__}")
    out_dir = Path(out_dir)
    ctx = Context.of(cfg)
    W, H = ctx.W, ctx.H
    pool = collect_sources(cfg.cache_dir, cfg.use_debian, cfg.seed,
                           background_max_side=max(1024, int(2.7 * max(W, H))),
                           object_max_side=max(384, int(0.6 * max(W, H))))
    _prepare_out(out_dir)
    total = sum(cfg.n_sequences.values()) + cfg.n_stills
    bar = tqdm(total=total, desc="synthetic benchmark", unit="seq", disable=not progress)
    notes = list(pool.warnings)
    splits_out, attr_counts = {}, {}
    for split in SPLITS:
        seqs = _generate_split(ctx, pool.splits[split], split, out_dir, notes, bar)
        splits_out[split] = {"source_photos": pool.splits[split].groups, "sequences": seqs}
        attr_counts[split] = {a: sum(a in s["attributes"] for s in seqs) for a in OTB_ATTRIBUTES}
    stills = _generate_stills(ctx, pool.splits["train"], out_dir, bar)
    bar.close()
    videos = _video_sequences(cfg, out_dir, notes, progress)
    n_frames = sum(q["frames"] for sp in splits_out.values() for q in sp["sequences"])
    manifest = {
        "generator": GENERATOR, "generator_version": GENERATOR_VERSION,
        "config": _json_types(asdict(cfg)), "seed": cfg.seed, "frame_size": [W, H], "thresholds": ctx.th,
        "sources": pool.describe(),
        "splits": splits_out,
        "stills": {"count": len(stills), "source_split": "train", "items": stills},
        "videos": videos,
        "counts": {**{s: len(splits_out[s]["sequences"]) for s in SPLITS}, "stills": len(stills),
                   "train_video": sum(len(v["tracks"]) for v in videos.values()), "frames": n_frames},
        "attribute_counts": attr_counts,
        "warnings": notes,
    }
    write_json(out_dir / "manifest.json", manifest, indent=1, sort_keys=True)
    return manifest
