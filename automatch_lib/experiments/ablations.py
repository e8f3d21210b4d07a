"""07_ablations: the search rerun with one of its settings changed (paper Sec. 5.3 and the supplementary), each
outcome trained and tracked exactly like the analysis variants, so it compares with the main search's genotype
trained the same way (the `retained@<search.retain>` variant).

The arms are `analysis.ablations` (name -> the `search` settings it changes); by default:
- `operator`: one manipulator per operator instead of one per channel (BCM's granularity, paper Table 4);
- `cell`: the supplementary's DARTS-like matching cell (Fig. 1b) searched instead of BCM, its derived discrete cell
  (`model.matching.DerivedCell`) retrained;
- `first_order_sgd`, `second_order_sgd`: the first- and the second-order (DARTS' unrolled) bilevel step. The unrolled
  step differentiates through one SGD step of the weights, so both arms use SGD weights: compare them with each
  other, not with the main search (AdamW weights);
- `pg_corr`: PG-Net's pixel-to-global correlation added to the seven candidates of both branches, so it is searched
  at both of the levels AutoMatch matches (classification on 'conv3', regression on 'conv4'); `ranking` says where
  the search put it and whether it was kept.

Every arm searches with `analysis.search_seeds` (one seed by default: the searches dominate the stage's time), and
all searches of all arms run in one pool, then all trainings, then all trackings, so neither core idles between
arms.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..config import Params
from ..search.bcm import top_k
from .searching import BRANCHES, search_many
from .variants import train_and_track


def ablation_params(p: Params, changed: dict) -> Params:
    """`p` with the `search` settings of one arm changed and the search seeds set to `analysis.search_seeds`."""
    return dataclasses.replace(p, search=dataclasses.replace(p.search, **changed,
                                                             seeds=list(p.analysis.search_seeds)))


def run_ablations(p: Params, features: str | Path, backbone: str | Path, test_root: str | Path,
                  models_root: str | Path, results_dir: str | Path) -> dict[str, dict]:
    """Search, train and track every arm of `analysis.ablations`.

    Per arm `<models_root>/<name>/`: `search.json` (the search result), `genotype.json`, `search/seed_<s>.pt` (the
    supernets) and `seed_<s>.pt` (the retrained trackers); results in `<results_dir>/<name>/seed_<s>/`. Returns
    {name: variant summary (`variants.variant_summary`) + 'changed' (the settings),
    'search': {'retained', 'agreement', 'stable_last_quarter', 'ranking' (per branch: every candidate by mean
    potential, best first), 'seconds_per_seed', 'steps'}}.
    """
    root = Path(models_root)
    ps = {name: ablation_params(p, changed) for name, changed in p.analysis.ablations.items()}
    outputs = {name: dict(out_json=root / name / "search.json", genotype_json=root / name / "genotype.json",
                          checkpoint_dir=root / name / "search") for name in ps}
    searches = search_many(ps, features, backbone, outputs)
    trained = train_and_track(p, {name: f"genotype:{outputs[name]['genotype_json']}" for name in ps}, root,
                              results_dir, features, backbone, test_root)
    summary = {}
    for name, result in searches.items():
        runs = result["seeds"]
        summary[name] = {**trained[name], "changed": p.analysis.ablations[name], "search": {
            "retained": {b: "+".join(result["retained"][b]) for b in BRANCHES},
            "agreement": result["agreement"],
            "stable_last_quarter": {b: float(np.mean([r["settling"][b]["stable_last_quarter"] for r in runs]))
                                    for b in BRANCHES},
            "ranking": {b: top_k(result["potentials"][b], len(result["potentials"][b])) for b in BRANCHES},
            "seconds_per_seed": result["seconds"] / len(runs), "steps": result["steps"]}}
    return summary
