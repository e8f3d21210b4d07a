"""The one path from params.yaml to code: typed, validated sections, no global state.

`load_params(path)` reads params.yaml and returns a `Params` whose sections are the library's own dataclasses
(PairConfig, TrainConfig, SearchConfig, TrackConfig, SyntheticConfig, ...). Unknown keys and values of the wrong
type raise ConfigError naming the section, key and value. Profiles (`profiles/<name>.yaml`) are partial files
deep-merged over params.yaml by `apply_profile`.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data.pairs import PairConfig
from .errors import ConfigError
from .evaluation.tune import TuneConfig
from .search.bilevel import SearchConfig
from .tracker import TrackConfig
from .train import TrainConfig


@dataclass
class ModelConfig:
    """Network shape shared by every tracker of a run (the `model` section)."""

    backbone: str = "small"
    channels: int = 48
    head_layers: int = 2
    pretrained: str = ""      # local path to backbone weights (never downloaded)


@dataclass
class BaselineConfig:
    """Operators of the hand-designed baseline (Ocean: depthwise cross-correlation in both branches)."""

    cls_ops: list = field(default_factory=lambda: ["dw_xcorr"])
    reg_ops: list = field(default_factory=lambda: ["dw_xcorr"])


@dataclass
class RandomSearchConfig:
    """Random-search baseline: k random operators per branch, one retraining per seed."""

    k: int = 2
    seeds: list = field(default_factory=lambda: [1, 2])


@dataclass
class EvaluateConfig:
    """Settings of the evaluate stage beyond tracking itself (the speed benchmark)."""

    speed_frames: int = 150    # frames timed per tracker
    speed_repeats: int = 3     # interleaved repeats; the median is kept


def _check(value, hint, where: str):
    """Coerce/validate one value against a type hint; raise ConfigError naming `where`."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is list or origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return list(value)
    if hint is tuple or origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def build(cls, values: dict | None, section: str):
    """Instantiate dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"params section {section!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"params section {section!r}: unknown key(s) {unknown}; known: {sorted(names)}")
    kwargs = {k: _check(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"params section {section!r}: {exc}") from exc


def _synthetic_config_class():
    from .data.synthetic import SyntheticConfig

    return SyntheticConfig


SECTIONS = {
    "model": lambda: ModelConfig,
    "pairs": lambda: PairConfig,
    "train": lambda: TrainConfig,
    "baseline": lambda: BaselineConfig,
    "search": lambda: SearchConfig,
    "random_search": lambda: RandomSearchConfig,
    "track": lambda: TrackConfig,
    "tune": lambda: TuneConfig,
    "evaluate": lambda: EvaluateConfig,
    "data": _synthetic_config_class,
}


@dataclass
class Params:
    """All sections of params.yaml, typed."""

    model: ModelConfig
    pairs: PairConfig
    train: TrainConfig
    baseline: BaselineConfig
    search: SearchConfig
    random_search: RandomSearchConfig
    track: TrackConfig
    tune: TuneConfig
    evaluate: EvaluateConfig
    data: typing.Any
    raw: dict

    def track_config(self) -> TrackConfig:
        """Tracking parameters with crop sizes taken from the pair config (one source of truth)."""
        return dataclasses.replace(self.track, exemplar_size=self.pairs.exemplar_size,
                                   search_size=self.pairs.search_size, context=self.pairs.context)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    sections = {name: build(factory(), raw.get(name), name) for name, factory in SECTIONS.items()}
    return Params(**sections, raw=raw)


def deep_merge(base: dict, override: dict) -> dict:
    """Recursively merge `override` into a copy of `base` (mappings merge, everything else replaces)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_profile(params_path: str | Path, profile_path: str | Path, out_path: str | Path | None = None) -> dict:
    """Deep-merge a profile file over params.yaml and write the result (default: in place). Returns it."""
    base = yaml.safe_load(Path(params_path).read_text()) or {}
    override = yaml.safe_load(Path(profile_path).read_text()) or {}
    merged = deep_merge(base, override)
    Path(out_path or params_path).write_text(yaml.safe_dump(merged, sort_keys=False))
    load_params(out_path or params_path)  # validate
    return merged
