"""The `automatch` command: generate data, train, search, evaluate, benchmark speed, track a video, merge a profile.

Settings come from a params file (`--params`, default params.yaml) through `automatch_lib.config`, the path the
notebooks and DVC use too. `evaluate`, `bench` and `track` need only a checkpoint (it carries its network, crop
geometry and tracking settings), so they run from any folder; a params file there only supplies `resources`.
Every command pins its torch threads first (`--threads`, else `resources.threads`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch.distributed as dist
import yaml

from .config import Params, load_params, merged_profile, parse_params
from .data.benchmarks import load_benchmark
from .data.synthetic.generate import generate_benchmark
from .errors import AutoMatchError, ConfigError
from .evaluation.ope import evaluate_tracker, pooled_summary
from .evaluation.speed import load_clips, speed_benchmark
from .experiments.crop_sweep import crop_sweep, parse_sizes, sweep_table
from .experiments.searching import search
from .experiments.throughput import data_benchmark
from .experiments.training import plan_runs, train_tracker
from .io import write_json, write_text
from .threads import configure_threads
from .trackers import TRACKERS, make_tracker
from .train import init_distributed, is_main_process
from .video import track_video


def _params(args, required: bool = True) -> Params:
    """The params file; where it is optional and absent, the defaults (resources only matter then)."""
    if not required and not Path(args.params).is_file():
        p = parse_params({})
    else:
        p = load_params(args.params)
    if args.quiet:
        p.resources.progress = False
    configure_threads(args.threads or p.resources.threads)
    return p


def cmd_generate(args) -> None:
    p = _params(args)
    manifest = generate_benchmark(args.out, p.data, progress=p.resources.progress)
    print(f"wrote {args.out}: {manifest['counts']}")


def cmd_train(args) -> None:
    p = _params(args)
    distributed = init_distributed()
    for genotype, seed, checkpoint in plan_runs(p, args.arch, args.out):
        history = train_tracker(p, genotype, checkpoint, seed, data_root=args.data)
        last = history["epochs"][-1] if history["epochs"] else {}
        if is_main_process():
            print(f"trained {genotype.name} seed {seed}: cls={list(genotype.cls)} reg={list(genotype.reg)}, final loss "
                  f"{last.get('loss/total', float('nan')):.4f} -> {checkpoint}")
    if distributed:
        dist.destroy_process_group()


def cmd_search(args) -> None:
    p = _params(args)
    result = search(p, args.features, args.backbone, args.out_json, args.genotype, args.checkpoint)
    print(f"retained: cls={result['retained']['cls']} reg={result['retained']['reg']}, agreement "
          f"{result['agreement']} over {len(result['seeds'])} seeds ({result['seconds']:.0f} CPU s) -> {args.genotype}")


def _roots(args) -> list[tuple[str, str]]:
    """(benchmark, folder) pairs from `--root PATH` (with --benchmark) or repeated `--root BENCHMARK=PATH`."""
    pairs = []
    for item in args.root:
        bench, sep, path = item.partition("=")
        pairs.append((bench, path) if sep else (args.benchmark, item))
    return pairs


def cmd_evaluate(args) -> None:
    p = _params(args, required=False)
    kind = args.tracker or ("siamese" if args.checkpoint else None)
    if kind is None:
        raise ConfigError("give --checkpoint FILE (our trackers) or --tracker NAME "
                          f"(one of {', '.join(TRACKERS)})")
    name = args.name or (Path(args.checkpoint).stem if kind == "siamese" else kind)
    tracker = make_tracker(kind, args.checkpoint, device=p.resources.device, name=name)
    results = {}
    for bench, root in _roots(args):
        sequences = load_benchmark(bench, root, split=args.split)
        if args.max_sequences:
            sequences = sequences[:args.max_sequences]
        out_dir = Path(args.results) / bench / name
        m = results[bench] = evaluate_tracker(tracker, sequences, out_dir, p.resources.progress, bench, args.batch)
        print(f"{name} on {bench} ({len(sequences)} sequences, {m['protocol']} protocol): success AUC "
              f"{m['success_auc']:.4f}, precision@20 {m['precision_20']:.4f}, {m['fps']:.1f} FPS -> {out_dir}")
    if len(results) > 1:
        pooled = pooled_summary(results, next(iter(results)))
        out = Path(args.results) / "pooled" / name / "metrics.json"
        write_json(out, pooled)
        n = sum(b["sequences"] for b in pooled["benchmarks"].values())
        print(f"{name} pooled over {n} sequences of {', '.join(results)}: success AUC {pooled['success_auc']:.4f}, "
              f"precision@20 {pooled['precision_20']:.4f}, {pooled['fps']:.1f} FPS -> {out}")


def cmd_bench(args) -> None:
    p = _params(args, required=False)
    trackers = {Path(c).stem: make_tracker("siamese", c, device=p.resources.device, name=Path(c).stem)
                for c in args.checkpoints}
    trackers.update({kind: make_tracker(kind) for kind in args.peers})
    speed_benchmark(trackers, load_clips(args.root, args.frames), threads=tuple(args.thread_counts),
                    repeats=args.repeats, references=(next(iter(trackers)), "csrt"), busy=args.busy)


def cmd_bench_data(args) -> None:
    p = _params(args)
    settings = [tuple(int(v) for v in s.split(",")) for s in args.settings]
    data_benchmark(p, args.data, batches=args.batches, settings=settings)


def cmd_sweep_crops(args) -> None:
    p = _params(args)
    if args.processes:
        p.pretrain.processes = args.processes
    seeds = [int(v) for v in args.seeds.split(",")]
    result = crop_sweep(p, args.data, parse_sizes(args.sizes), args.out, seeds)
    for row in sweep_table(result):
        print("  ".join(f"{k} {v}" for k, v in row.items()))
    for c in result["comparisons"]:
        low, high = c["ci95"]
        print(f"{c['a']} - {c['b']}: val AUC {c['diff']:+.3f} [{low:+.3f}, {high:+.3f}] {c['verdict']}")
    print(f"-> {Path(args.out) / 'crop_sweep.json'}")


def cmd_track(args) -> None:
    p = _params(args, required=False)
    try:
        box = np.array([float(v) for v in args.box.split(",")])
    except ValueError:
        box = np.array([])
    if box.size != 4:
        raise ConfigError(f"--box needs four numbers x,y,w,h, got {args.box!r}")
    tracker = make_tracker(args.tracker, args.checkpoint, device=p.resources.device)
    boxes = track_video(tracker, args.video, box, args.out, boxes_txt=args.boxes, progress=p.resources.progress)
    txt = args.boxes or Path(args.out).with_suffix(".txt")
    print(f"tracked {len(boxes)} frames -> {args.out}, boxes -> {txt}")


def cmd_profile(args) -> None:
    profile = Path(args.name) if args.name.endswith((".yaml", ".yml")) else Path("profiles") / f"{args.name}.yaml"
    merged = merged_profile(args.params, profile)
    text = yaml.safe_dump(merged, sort_keys=False)
    if not args.out:
        sys.stdout.write(text)
        return
    write_text(args.out, text)
    print(f"wrote {args.out} = {args.params} merged with {profile}"
          + (" (in place: `git checkout params.yaml` restores the default profile)"
             if Path(args.out).resolve() == Path(args.params).resolve() else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automatch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="params file (default params.yaml)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: resources.threads, 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate the embedded benchmark")
    g.add_argument("--out", default="data/synthetic")
    g.set_defaults(func=cmd_generate)

    t = sub.add_parser("train", help="train a fixed-operator tracker once per train.seeds entry, end to end on "
                                      "image pairs (torchrun-compatible)")
    t.add_argument("--data", default="data/synthetic")
    t.add_argument("--arch", default="baseline",
                   help="baseline | genotype:FILE.json | ops:CLS,OPS/REG,OPS | random (default baseline)")
    t.add_argument("--out", required=True, help="checkpoint folder: one OUT/seed_<s>.pt per train.seeds entry")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("search", help="BCM bilevel search of both branches, one per search.seeds entry, on the "
                                       "frozen backbone's cached features")
    s.add_argument("--features", default="data/features", help="folder with train.pt and val.pt")
    s.add_argument("--backbone", default="models/backbone.pt", help="the backbone the features came from")
    s.add_argument("--out-json", default="metrics/search.json")
    s.add_argument("--genotype", default="models/genotype.json", help="where the retained operators go")
    s.add_argument("--checkpoint", default="models/search", help="folder: one supernet per seed")
    s.set_defaults(func=cmd_search)

    e = sub.add_parser("evaluate", help="one-pass evaluation of one tracker on a benchmark folder")
    e.add_argument("--benchmark", default="otb", help="benchmark (and protocol) of a plain --root PATH")
    e.add_argument("--root", required=True, action="append",
                   help="benchmark folder; repeat as --root BENCHMARK=PATH to evaluate and pool several")
    e.add_argument("--split", default=None)
    e.add_argument("--checkpoint", default=None, help="a checkpoint of ours (implies --tracker siamese)")
    e.add_argument("--tracker", default=None, choices=sorted(TRACKERS), help="tracker kind")
    e.add_argument("--name", default=None, help="result folder name (default: checkpoint stem or tracker kind)")
    e.add_argument("--results", default="results")
    e.add_argument("--max-sequences", type=int, default=0)
    e.add_argument("--batch", type=int, default=1, help="track this many sequences in lockstep (ours; faster, fps "
                   "then from one sequence; default 1: every sequence one frame after another)")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="tracking speed of our checkpoints and OpenCV's trackers on the same frames")
    b.add_argument("checkpoints", nargs="*", help="our checkpoints; the first is the reference of the ratios")
    b.add_argument("--peers", nargs="*", default=["csrt", "kcf", "mil"], help="OpenCV trackers timed beside ours")
    b.add_argument("--root", default="data/synthetic/test", help="an OTB-layout folder of sequences")
    b.add_argument("--frames", type=int, default=200)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2], help="torch threads to measure at")
    b.add_argument("--busy", action="store_true", help="measure again while a second process keeps a core busy")
    b.set_defaults(func=cmd_bench)

    bd = sub.add_parser("bench-data", help="pair-pipeline throughput vs training-step consumption")
    bd.add_argument("--data", default="data/synthetic")
    bd.add_argument("--batches", type=int, default=10)
    bd.add_argument("--settings", nargs="+", default=["1,0", "1,1", "2,0", "2,1"],
                    help="torch threads,loader workers pairs to measure")
    bd.set_defaults(func=cmd_bench_data)

    cs = sub.add_parser("sweep-crops", help="val accuracy against CPU minutes for several crop sizes (pretrain, "
                        "features, baseline per seed, val tracking at each)")
    cs.add_argument("--sizes", default="32x64,48x96,64x128", help="EXEMPLARxSEARCH sizes; must include params' own")
    cs.add_argument("--seeds", default="0,1", help="training seeds of the baseline at each size")
    cs.add_argument("--data", default="data/synthetic")
    cs.add_argument("--out", default="results/crop_sweep")
    cs.add_argument("--processes", type=int, default=0, help="pretraining ranks (default pretrain.processes)")
    cs.set_defaults(func=cmd_sweep_crops)

    v = sub.add_parser("track", help="track an object in a video file or frame folder; write an annotated video")
    v.add_argument("video", help="a video file or a folder of frames")
    v.add_argument("--box", required=True, help="x,y,w,h of the object in the first frame (0-based pixels)")
    v.add_argument("--checkpoint", default=None)
    v.add_argument("--tracker", default="siamese", choices=sorted(TRACKERS))
    v.add_argument("--out", default="annotated.mp4")
    v.add_argument("--boxes", default=None, help="result file (default: --out with the suffix .txt)")
    v.set_defaults(func=cmd_track)

    pr = sub.add_parser("profile", help="params.yaml merged with profiles/NAME.yaml (printed, or written to --out)")
    pr.add_argument("name", help="profile name (profiles/NAME.yaml) or a YAML file")
    pr.add_argument("--out", default=None, help="write here instead of printing (may be params.yaml itself)")
    pr.set_defaults(func=cmd_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (AutoMatchError, FileNotFoundError) as exc:
        print(f"automatch: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
