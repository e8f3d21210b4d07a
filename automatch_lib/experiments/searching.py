"""The search step: the BCM supernet searched by bilevel optimisation, its genotype and its summary."""
from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..io import write_json
from ..model.genotype import Genotype, search_space
from ..search.bilevel import run_search
from .training import make_model, pair_dataset


def search(p: Params, data_root: str | Path, out_json: str | Path, genotype_json: str | Path,
           checkpoint: str | Path) -> dict:
    """Run the BCM bilevel search (weights on train pairs, manipulators on val pairs) for both branches.

    Writes the full result (potentials, history, wall time) to `out_json` and the retained operators to
    `genotype_json`, the small file retraining depends on: a rerun that retains the same operators rewrites it
    byte for byte, so DVC does not retrain.
    """
    ops = search_space(p)
    kind = "bcm" if p.search.granularity == "channel" else "bcm_operator"
    model = make_model(p, ops, ops, matching=kind, seed=p.search.seed)
    train_set = pair_dataset(p, data_root, "train", p.search.pairs_per_epoch, p.search.seed)
    val_set = pair_dataset(p, data_root, "val", p.search.pairs_per_epoch, p.search.seed + 1)
    result = run_search(model, train_set, val_set, p.crop.search_size, p.search, p.train, p.resources, out_json,
                        checkpoint)
    Genotype(tuple(result["retained"]["cls"]), tuple(result["retained"]["reg"])).save(genotype_json)
    return result


def search_summary(result: dict, out_json: str | Path) -> dict:
    """Final potentials, retained operators and wall time of a search, as a DVC metrics file."""
    summary = {"seconds": float(result["seconds"]), "steps": int(result["steps"]),
               "retained_cls": "+".join(result["retained"]["cls"]),
               "retained_reg": "+".join(result["retained"]["reg"]),
               "potentials": result["potentials"]}
    write_json(out_json, summary)
    return summary
