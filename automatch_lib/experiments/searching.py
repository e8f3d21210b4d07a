"""The search step: one BCM bilevel search per `search.seeds` entry on the frozen backbone's cached features, the
genotype they agree on, and its summary.

Each seed searches both branches (weights on cached training pairs, manipulators on cached validation pairs). The
genotype used downstream is the top-`retain` set of the potential averaged over seeds; `agreement` is the fraction of
seeds whose own retained set equals it. One search's ranking of small drifts is not a decision; a set that most
seeds retain, with gates that closed and a ranking that stopped moving, is.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Params
from ..data.features import FeatureSet
from ..io import write_json
from ..model.genotype import Genotype, search_space
from ..search.bcm import top_k
from ..search.bilevel import run_search
from ..search.darts_cell import derive_cell
from ..threads import run_jobs
from .training import make_model

BRANCHES = ("cls", "reg")


def search_one(p: Params, features: str | Path, backbone: str | Path, seed: int,
               checkpoint: str | Path | None = None) -> dict:
    """One search with seed `seed` (a job of `search`): supernet on the frozen backbone, cached pairs."""
    ops = search_space(p)
    kind = {"channel": "bcm", "operator": "bcm_operator", "cell": "darts_cell"}[p.search.granularity]
    model = make_model(p, ops, ops, matching=kind, seed=seed, backbone=backbone)
    length = p.search.pairs_per_epoch
    train_set = FeatureSet(Path(features) / "train.pt", length, seed)
    val_set = FeatureSet(Path(features) / "val.pt", length, seed + 10_000)
    return run_search(model, train_set, val_set, p.crop.search_size, p.search, p.train, p.resources,
                      checkpoint=checkpoint, seed=seed)


def combine(runs: list[dict], retain: int) -> dict:
    """The decision of several searches: mean potential and gated-off fraction per branch and operator, the top-k
    of the mean potential (`retained`), and `agreement`: the fraction of seeds that retained that very set.
    For the DARTS-like cell (`granularity: cell`), `retained` is instead the discrete cell derived from the edge
    weights averaged over seeds (edge specs 'op@i-j'), and `agreement` the fraction of seeds deriving that cell."""
    out: dict = {"potentials": {}, "gated_off": {}, "retained": {}, "agreement": {}}
    for b in BRANCHES:
        ops = list(runs[0]["potentials"][b])
        out["potentials"][b] = {o: float(np.mean([r["potentials"][b][o] for r in runs])) for o in ops}
        out["gated_off"][b] = {o: float(np.mean([r["gated_off"][b][o] for r in runs])) for o in ops}
        if "cell" in runs[0]:
            cell = runs[0]["cell"][b]
            weights = np.mean([r["cell"][b]["weights"] for r in runs], axis=0)
            out["retained"][b] = derive_cell(weights, [tuple(e) for e in cell["edges"]], ops)
            out["agreement"][b] = float(np.mean([r["cell"][b]["derived"] == out["retained"][b] for r in runs]))
        else:
            out["retained"][b] = top_k(out["potentials"][b], retain)
            chosen = set(out["retained"][b])
            out["agreement"][b] = float(np.mean([set(r["retained"][b]) == chosen for r in runs]))
    return out


def search(p: Params, features: str | Path, backbone: str | Path, out_json: str | Path,
           genotype_json: str | Path, checkpoint_dir: str | Path, ranking_json: str | Path | None = None) -> dict:
    """Run the `search.seeds` searches, `resources.jobs` at a time, and decide (`decide`).

    Writes `out_json` (per seed: potentials, gated-off fractions, retained sets, settling and history; combined:
    mean potentials and gated-off fractions, retained sets, agreement), each seed's supernet to
    `<checkpoint_dir>/seed_<s>.pt`, and the retained operators to `genotype_json`, the small file retraining
    depends on: a rerun that retains the same operators rewrites it byte for byte, so DVC does not retrain.
    `ranking_json` (when given) gets every operator of each branch ranked by mean potential, best first, what the
    retained-count ablation slices (`ranking:<file>:<k>` in `model.genotype.parse_arch`); also byte-stable.
    """
    out = dict(out_json=out_json, genotype_json=genotype_json, checkpoint_dir=checkpoint_dir, ranking_json=ranking_json)
    return search_many({"search": p}, features, backbone, {"search": out})["search"]


def search_many(ps: dict[str, Params], features: str | Path, backbone: str | Path,
                outputs: dict[str, tuple]) -> dict[str, dict]:
    """Several searches (name -> params, e.g. the ablations' changed `search` settings), every seed of every one
    in one pool of `resources.jobs` processes so no core idles between them; each decided like `search` and
    written to the files of `outputs[name]`: {'out_json', 'genotype_json', 'checkpoint_dir', 'ranking_json'
    (optional)}."""
    jobs = [(q, features, backbone, s, Path(outputs[name]["checkpoint_dir"]) / f"seed_{s}.pt")
            for name, q in ps.items() for s in q.search.seeds]
    first = next(iter(ps.values()))
    runs = iter(run_jobs(search_one, jobs, first.resources.jobs, first.resources.threads))
    results = {}
    for name, q in ps.items():
        mine = [next(runs) for _ in q.search.seeds]
        files = outputs[name]
        results[name] = decide(mine, q.search.retain, files["out_json"], files["genotype_json"],
                               files.get("ranking_json"))
    return results


def decide(runs: list[dict], retain: int, out_json: str | Path, genotype_json: str | Path,
           ranking_json: str | Path | None = None) -> dict:
    """Combine the seeds' searches (`combine`), write the result, the genotype and the ranking; return the result."""
    result = {**combine(runs, retain), "seeds": runs,
              "seconds": float(sum(r["seconds"] for r in runs)), "steps": runs[0]["steps"]}
    write_json(out_json, result)
    Genotype(tuple(result["retained"]["cls"]), tuple(result["retained"]["reg"])).save(genotype_json)
    if ranking_json is not None:
        write_json(ranking_json, {b: top_k(result["potentials"][b], len(result["potentials"][b])) for b in BRANCHES},
                   sort_keys=True)
    return result


def search_summary(result: dict, out_json: str | Path) -> dict:
    """Per branch: retained operators, agreement, stability over the last quarter and gated-off fractions, plus the
    search's CPU seconds, as a DVC metrics file."""
    runs = result["seeds"]
    summary = {"seconds": result["seconds"], "steps": result["steps"], "seeds": len(runs)}
    for b in BRANCHES:
        summary[b] = {"retained": "+".join(result["retained"][b]), "agreement": result["agreement"][b],
                      "stable_last_quarter": float(np.mean([r["settling"][b]["stable_last_quarter"] for r in runs])),
                      "gated_off": result["gated_off"][b], "potential": result["potentials"][b]}
    write_json(out_json, summary)
    return summary


def seed_table(result: dict) -> list[dict]:
    """Rows per seed and branch: retained set, settled step, the potentials and gated-off fractions, for display."""
    rows = []
    for r in result["seeds"]:
        for b in BRANCHES:
            rows.append({"seed": r["seed"], "branch": b, "retained": "+".join(r["retained"][b]),
                         "settled_step": r["settling"][b]["settled_step"],
                         "stable_last_quarter": r["settling"][b]["stable_last_quarter"],
                         **{f"p:{o}": round(v, 1) for o, v in r["potentials"][b].items()},
                         **{f"off:{o}": round(v, 2) for o, v in r["gated_off"][b].items()}})
    return rows
