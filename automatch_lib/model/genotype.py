"""A genotype: the matching operators of each branch, the whole architecture a search decides.

It is what the search writes (`models/genotype.json`), what retraining depends on, and what an architecture spec
on the command line or in dvc.yaml resolves to (`parse_arch`, the one parser of such specs):

- `baseline`                 the params file's `baseline` operators (Ocean: dw_xcorr in both branches)
- `genotype:<file.json>`     a genotype file written by the search
- `ops:<cls,ops>/<reg,ops>`  explicit lists, e.g. `ops:film,simple_transformer/film,pairwise_relation`
- `random`                   k random operators per branch, a new draw for every training seed
- `ranking:<file.json>:<k>`  the k best operators per branch of a search's ranking (the retained-count ablation)
- `pgnet`                    PG-Net's network (`model.pgnet`): `pg_corr` at three backbone levels, anchor heads

A branch lists either operators (a fixed matching network, 'fixed') or the edges of a derived DARTS-like cell as
'<operator>@<input>-<node>' specs (matching kind 'cell', `model.matching.DerivedCell`), the same kind in both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Params
from ..errors import ConfigError
from ..io import read_json, write_json
from ..operators import OPERATORS, SEARCH_SPACE
from .matching import cell_edge
from .network import NETWORKS


@dataclass(frozen=True)
class Genotype:
    """Retained operators per branch, in the order given (the search ranks them by potential); the order fixes the
    layout of the matching network. `name` labels the tracker it builds; `network` is its family
    (`model.network.NETWORKS`): 'siamese' (AutoMatch's, every searched or fixed genotype) or 'pgnet' (PG-Net, whose
    matching is pg_corr in both branches)."""

    cls: tuple[str, ...]
    reg: tuple[str, ...]
    name: str = "automatch"
    network: str = "siamese"

    def __post_init__(self) -> None:
        kinds = set()
        for branch in ("cls", "reg"):
            ops = tuple(getattr(self, branch))
            try:
                edges = [cell_edge(o) for o in ops]
            except ValueError as exc:
                raise ConfigError(f"genotype {self.name!r}: {branch}: {exc}") from None
            names = [e[0] if e else o for o, e in zip(ops, edges)]
            unknown = [o for o in names if o not in OPERATORS]
            if not ops or unknown:
                raise ConfigError(f"genotype {self.name!r}: {branch} operators {list(ops)} must be a non-empty "
                                  f"list of known operators ({', '.join(OPERATORS)})")
            kinds |= {e is not None for e in edges}
            object.__setattr__(self, branch, ops)
        if len(kinds) > 1:
            raise ConfigError(f"genotype {self.name!r}: mixes cell edges ('op@i-j') and plain operators "
                              f"(cls {list(self.cls)}, reg {list(self.reg)}); use one kind in both branches")
        if self.network not in NETWORKS:
            raise ConfigError(f"genotype {self.name!r}: unknown network family {self.network!r}; known: "
                              f"{', '.join(NETWORKS)}")
        if self.network == "pgnet" and (self.cls, self.reg) != (("pg_corr",), ("pg_corr",)):
            raise ConfigError(f"genotype {self.name!r}: PG-Net matches with pg_corr in both branches, not cls "
                              f"{list(self.cls)}, reg {list(self.reg)}")

    @property
    def matching(self) -> str:
        """The matching kind the genotype builds: 'cell' for derived-cell edges, else 'fixed'."""
        return "cell" if cell_edge(self.cls[0]) else "fixed"

    def to_dict(self) -> dict:
        """{'cls', 'reg'} (+ 'network' for a family other than 'siamese', so AutoMatch's files stay as they were)."""
        out = {"cls": list(self.cls), "reg": list(self.reg)}
        return out if self.network == "siamese" else {**out, "network": self.network}

    def save(self, path: str | Path) -> None:
        """Write the genotype as its own small JSON file (same operators -> byte-identical file)."""
        write_json(path, self.to_dict(), sort_keys=True)

    @classmethod
    def load(cls, path: str | Path, name: str | None = None) -> "Genotype":
        data = read_json(path)
        if not isinstance(data, dict) or not {"cls", "reg"} <= set(data) <= {"cls", "reg", "network"}:
            raise ConfigError(f"{path}: a genotype file holds the keys 'cls' and 'reg' (and optionally 'network'), "
                              f"got {data!r}")
        return cls(tuple(data["cls"]), tuple(data["reg"]), name or Path(path).stem, data.get("network", "siamese"))


def random_genotype(operators: list[str], k: int, seed: tuple[int, ...], name: str = "random") -> Genotype:
    """Random-search baseline: k operators drawn without replacement per branch, from a generator seeded `seed`."""
    if k > len(operators):
        raise ConfigError(f"random_search.k = {k} exceeds the {len(operators)} operators of the search space")
    rng = np.random.default_rng(seed)
    draw = lambda: tuple(operators[i] for i in sorted(rng.choice(len(operators), k, replace=False)))  # noqa: E731
    return Genotype(draw(), draw(), name)


def search_space(p: Params) -> list[str]:
    """The operators the search chooses from: `search.operators`, or the paper's space (`SEARCH_SPACE`) when empty."""
    return list(p.search.operators) or list(SEARCH_SPACE)


def parse_arch(spec: str, p: Params, name: str = "automatch", seed: int = 0) -> Genotype:
    """The genotype an architecture spec names (see the module docstring); `name` labels it, `seed` is the
    training seed ('random' draws with the generator seeded by (random_search.seed, seed))."""
    if spec == "baseline":
        return Genotype(tuple(p.baseline.cls_ops), tuple(p.baseline.reg_ops), name)
    if spec.startswith("genotype:"):
        return Genotype.load(spec.split(":", 1)[1], name)
    if spec.startswith("ops:") and spec.count("/") == 1:
        cls_part, reg_part = spec[4:].split("/")
        return Genotype(tuple(cls_part.split(",")), tuple(reg_part.split(",")), name)
    if spec == "random":
        return random_genotype(search_space(p), p.random_search.k, (p.random_search.seed, seed), name)
    if spec.startswith("ranking:") and spec.count(":") == 2:
        _, path, k = spec.split(":")
        return ranked_genotype(path, int(k), name)
    if spec == "pgnet":
        return Genotype(("pg_corr",), ("pg_corr",), name, network="pgnet")
    raise ConfigError(f"unknown architecture spec {spec!r}: use baseline, genotype:<file.json>, random, "
                      f"ops:<cls,ops>/<reg,ops>, ranking:<file.json>:<k> or pgnet")


def ranked_genotype(path: str | Path, k: int, name: str = "automatch") -> Genotype:
    """The top-`k` operators of each branch of a ranking file ({'cls': [ops best first], 'reg': [...]}, written by
    the search); k larger than a branch's ranking is an error, not a silent truncation."""
    ranking = read_json(path)
    if not isinstance(ranking, dict) or set(ranking) != {"cls", "reg"}:
        raise ConfigError(f"{path}: a ranking file holds exactly the keys 'cls' and 'reg', got {ranking!r}")
    short = [b for b in ("cls", "reg") if not 1 <= k <= len(ranking[b])]
    if short:
        raise ConfigError(f"{path}: k = {k} outside 1..{len(ranking[short[0]])} ranked {short[0]} operators")
    return Genotype(tuple(ranking["cls"][:k]), tuple(ranking["reg"][:k]), name)
