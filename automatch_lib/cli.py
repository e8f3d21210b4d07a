"""The `automatch` command: generate data, train, search, evaluate, benchmark speed, track a video, apply a profile.

Every sub-command reads its settings from a params file (`--params`, default params.yaml) through
automatch_lib.config, so the CLI, the notebooks and DVC share one configuration path.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .errors import AutoMatchError


def _params(path: str):
    from .config import load_params

    return load_params(path)


def cmd_generate(args) -> None:
    from .data.synthetic import generate_benchmark

    p = _params(args.params)
    manifest = generate_benchmark(args.out, p.data)
    print(json.dumps({k: v for k, v in manifest.items() if k in ("counts", "sources_used")}, indent=1))


def _ops_from(args, p) -> tuple[list[str], list[str]]:
    if args.search_json:
        retained = json.loads(Path(args.search_json).read_text())["retained"]
        return retained["cls"], retained["reg"]
    cls_ops = args.cls_ops.split(",") if args.cls_ops else list(p.baseline.cls_ops)
    reg_ops = args.reg_ops.split(",") if args.reg_ops else list(p.baseline.reg_ops)
    return cls_ops, reg_ops


def cmd_train(args) -> None:
    from .experiments import train_tracker
    from .train import init_distributed

    p = _params(args.params)
    distributed = init_distributed()
    cls_ops, reg_ops = _ops_from(args, p)
    history = train_tracker(p, cls_ops, reg_ops, args.data, args.out, progress=not args.quiet)
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    last = history["epochs"][-1] if history["epochs"] else {}
    print(f"trained cls={cls_ops} reg={reg_ops}: final loss {last.get('loss/total', float('nan')):.4f} -> {args.out}")


def cmd_search(args) -> None:
    from .experiments import search

    p = _params(args.params)
    result = search(p, args.data, args.out_json, args.checkpoint, progress=not args.quiet)
    print(f"retained: cls={result['retained']['cls']} reg={result['retained']['reg']} "
          f"({result['seconds']:.0f}s)")


def cmd_evaluate(args) -> None:
    from .data.benchmarks import load_benchmark
    from .evaluation.ope import evaluate_tracker
    from .experiments import make_tracker

    p = _params(args.params)
    if args.tracker != "static" and not args.checkpoint:
        raise SystemExit("--checkpoint is required for every tracker except 'static'")
    sequences = load_benchmark(args.benchmark, args.root, split=args.split)
    if args.max_sequences:
        sequences = sequences[:args.max_sequences]
    tracker = make_tracker(p, None if args.tracker == "static" else args.checkpoint)
    out_dir = Path(args.results) / args.benchmark / args.tracker
    metrics = evaluate_tracker(tracker, sequences, out_dir, progress=not args.quiet)
    print(f"{args.tracker} on {args.benchmark} ({len(sequences)} sequences): success AUC "
          f"{metrics['success_auc']:.4f}, precision@20 {metrics['precision_20']:.4f}, {metrics['fps']:.1f} FPS "
          f"-> {out_dir}")


def cmd_bench(args) -> None:
    from .bench import speed_benchmark

    p = _params(args.params)
    speed_benchmark(p, args.checkpoints, args.root, frames=args.frames, threads=args.threads, repeats=args.repeats)


def cmd_bench_data(args) -> None:
    from .bench import data_benchmark

    p = _params(args.params)
    settings = [tuple(int(v) for v in s.split(",")) for s in args.settings]
    data_benchmark(p, args.data, batches=args.batches, settings=settings)


def cmd_track(args) -> None:
    from .video import track_video

    p = _params(args.params)
    box = np.array([float(v) for v in args.box.split(",")])
    if box.size != 4:
        raise SystemExit(f"--box needs x,y,w,h, got {args.box!r}")
    n = track_video(p, args.checkpoint, args.video, box, args.out, boxes_txt=args.boxes)
    print(f"tracked {n} frames -> {args.out}")


def cmd_profile(args) -> None:
    from .config import apply_profile

    apply_profile(args.params, Path("profiles") / f"{args.name}.yaml" if "/" not in args.name else args.name)
    print(f"applied profile {args.name} to {args.params}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automatch", description=__doc__)
    parser.add_argument("--params", default="params.yaml", help="params file (default params.yaml)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate the embedded benchmark")
    g.add_argument("--out", default="data/synthetic")
    g.set_defaults(func=cmd_generate)

    t = sub.add_parser("train", help="train a fixed-operator tracker (torchrun-compatible)")
    t.add_argument("--data", default="data/synthetic")
    t.add_argument("--cls-ops", default="", help="comma-separated operators (default: params baseline)")
    t.add_argument("--reg-ops", default="")
    t.add_argument("--search-json", default="", help="use the operators retained by a search result")
    t.add_argument("--out", required=True, help="checkpoint path")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("search", help="BCM bilevel search of both branches")
    s.add_argument("--data", default="data/synthetic")
    s.add_argument("--out-json", default="metrics/search.json")
    s.add_argument("--checkpoint", default="models/search.pt")
    s.set_defaults(func=cmd_search)

    e = sub.add_parser("evaluate", help="OPE of one tracker on a benchmark folder")
    e.add_argument("--benchmark", default="otb")
    e.add_argument("--root", required=True)
    e.add_argument("--split", default=None)
    e.add_argument("--tracker", required=True, help="result folder name; 'static' keeps the initial box")
    e.add_argument("--checkpoint", default=None)
    e.add_argument("--results", default="results")
    e.add_argument("--max-sequences", type=int, default=0)
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="tracking speed of several checkpoints on the same frames, with ratios")
    b.add_argument("checkpoints", nargs="+")
    b.add_argument("--root", default="data/synthetic/test")
    b.add_argument("--frames", type=int, default=200)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=cmd_bench)

    bd = sub.add_parser("bench-data", help="pair-pipeline throughput vs training-step consumption")
    bd.add_argument("--data", default="data/synthetic")
    bd.add_argument("--batches", type=int, default=10)
    bd.add_argument("--settings", nargs="+", default=["1,0", "1,1", "2,0", "2,1"],
                    help="torch threads,loader workers pairs to measure")
    bd.set_defaults(func=cmd_bench_data)

    v = sub.add_parser("track", help="track an object in a video file and write an annotated video")
    v.add_argument("video")
    v.add_argument("--box", required=True, help="x,y,w,h of the object in the first frame")
    v.add_argument("--checkpoint", required=True)
    v.add_argument("--out", default="annotated.mp4")
    v.add_argument("--boxes", default=None, help="also write the boxes as text")
    v.set_defaults(func=cmd_track)

    pr = sub.add_parser("profile", help="deep-merge profiles/NAME.yaml into the params file")
    pr.add_argument("name")
    pr.set_defaults(func=cmd_profile)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AutoMatchError as exc:
        print(f"automatch: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
