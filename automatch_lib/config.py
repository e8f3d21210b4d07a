"""The one path from params.yaml to code: one typed, validated dataclass per params.yaml section, no global state.

`load_params(path)` reads params.yaml and returns a `Params` holding one object per section. Each section class
inherits `validation.Section`, so a value of the wrong type or outside its allowed range raises ConfigError naming
`section.key` and the value, whether it comes from a file or from code. Functions take the section they need as an
argument; nothing reads params.yaml behind the caller's back.

The classes live here, not in the modules that use them, so that reading the configuration imports nothing but
this file (DVC stages depend on exactly the code their notebooks import, and every stage reads the params).
`resources` (threads, loader workers, device, progress, logging) is listed by no stage: it changes how fast a result
comes, not the result. Profiles (`profiles/<name>.yaml`) are partial files deep-merged over params.yaml.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .data.synthetic.config import SyntheticConfig
from .errors import ConfigError
from .io import write_text
from .validation import Section, build

POSITIVE = dict(min=1)
NON_NEGATIVE = dict(min=0)


def _seed_list(value) -> str | None:
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value) \
            or len(set(value)) != len(value):
        return "expected a non-empty list of distinct non-negative integers"
    return None


def _range_pair(value) -> str | None:
    if len(value) != 2 or not all(isinstance(v, (int, float)) for v in value) or value[0] > value[1]:
        return "expected [low, high] numbers with low <= high"
    return None


def _options_mapping(value) -> str | None:
    if not all(isinstance(k, str) and isinstance(v, dict) and all(isinstance(a, str) for a in v)
               for k, v in value.items()):
        return "expected {operator: {argument: value}}"
    return None


@dataclass
class CropConfig(Section):
    """Crop geometry shared by training pairs and the tracker (SiamFC/Ocean convention, see `geometry.py`)."""

    SECTION: typing.ClassVar[str] = "crop"
    exemplar_size: int = field(default=48, metadata=dict(min=8))    # template crop side in pixels (paper 127)
    search_size: int = field(default=96, metadata=dict(min=8))      # search crop side in pixels (paper 255)
    context: float = field(default=0.5, metadata=NON_NEGATIVE)      # context margin p = context * (w + h)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.search_size <= self.exemplar_size:
            raise ConfigError(f"crop.search_size = {self.search_size} must exceed crop.exemplar_size = "
                              f"{self.exemplar_size}")


@dataclass
class PairConfig(Section):
    """Sampling and augmentation of training pairs (official recipe, facts 5)."""

    SECTION: typing.ClassVar[str] = "pairs"
    frame_range: int = field(default=30, metadata=NON_NEGATIVE)
    template_shift: float = field(default=2.0, metadata=NON_NEGATIVE)     # px in the template crop
    template_scale: float = field(default=0.05, metadata=NON_NEGATIVE)    # relative, per axis
    search_shift: float = field(default=24.0, metadata=NON_NEGATIVE)      # px in the search crop
    search_scale: float = field(default=0.18, metadata=NON_NEGATIVE)      # relative, per axis
    aspect_jitter: float = field(default=0.0, metadata=NON_NEGATIVE)      # log aspect stretch of a pair, +-
    video_weight: float = field(default=0.0, metadata=NON_NEGATIVE)       # real-video group vs generated (1.0)
    color_jitter: float = field(default=0.1, metadata=NON_NEGATIVE)       # brightness/contrast amplitude
    blur_prob: float = field(default=0.1, metadata=dict(min=0, max=1))
    gray_prob: float = field(default=0.05, metadata=dict(min=0, max=1))
    flip_prob: float = field(default=0.0, metadata=dict(min=0, max=1))
    negative_prob: float = field(default=0.2, metadata=dict(min=0, max=1))
    still_weight: float = field(default=0.2, metadata=dict(min=0, max=1))  # P(still-image sample) when stills exist
    # real training sets mixed in when present, e.g. {benchmark: got10k, root: data/benchmarks/GOT-10k,
    # split: train, weight: 2.0, frame_range: 100}; weight is relative to the embedded videos (weight 1)
    extra_sources: list = field(default_factory=list)


@dataclass
class ModelConfig(Section):
    """Network shape shared by every tracker of a run."""

    SECTION: typing.ClassVar[str] = "model"
    backbone: str = "small"
    channels: int = field(default=48, metadata=POSITIVE)
    head_layers: int = field(default=2, metadata=NON_NEGATIVE)
    pretrained: str = ""      # local path to backbone weights (never downloaded)
    color: str = field(default="bgr", metadata=dict(choices=("bgr", "rgb")))   # rgb for ImageNet weights
    # per-operator constructor arguments, e.g. {pg_corr: {template_cells: 7}} (PG-Net's 7x7 template)
    operator_options: dict = field(default_factory=dict, metadata=dict(check=_options_mapping))


@dataclass
class TrainConfig(Section):
    """Optimisation schedule of every fixed-operator tracker (baseline, retrained, random search)."""

    SECTION: typing.ClassVar[str] = "train"
    epochs: int = field(default=6, metadata=POSITIVE)
    pairs_per_epoch: int = field(default=4000, metadata=POSITIVE)
    batch_size: int = field(default=32, metadata=POSITIVE)
    optimizer: str = field(default="adamw", metadata=dict(choices=("adamw", "sgd")))  # sgd: paper, momentum 0.9
    lr: float = field(default=2e-3, metadata=dict(min=0))
    lr_end: float = field(default=2e-4, metadata=dict(min=0))
    warmup_epochs: float = field(default=0.5, metadata=NON_NEGATIVE)
    warmup_lr: float = field(default=2e-4, metadata=dict(min=0))
    momentum: float = field(default=0.9, metadata=dict(min=0, max=1))
    weight_decay: float = field(default=1e-4, metadata=NON_NEGATIVE)
    backbone_lr_scale: float = field(default=1.0, metadata=NON_NEGATIVE)   # paper: 0.1 after unfreezing
    freeze_backbone_epochs: int = field(default=0, metadata=NON_NEGATIVE)  # paper: 5
    reg_weight: float = field(default=1.0, metadata=NON_NEGATIVE)
    label_radius: int = field(default=2, metadata=NON_NEGATIVE)
    grad_clip: float = field(default=10.0, metadata=NON_NEGATIVE)          # 0 = no clipping
    seeds: list = field(default_factory=lambda: [0], metadata=dict(check=_seed_list))  # one training per seed
    # each batch as k micro-batches (pairs c, c+k, ...) with averaged gradients: what k DDP processes compute
    micro_batches: int = field(default=1, metadata=POSITIVE)
    precision: str = field(default="fp32", metadata=dict(choices=("fp32", "bf16", "fp16")))  # autocast (GPU)


@dataclass
class PretrainConfig(TrainConfig):
    """Pretraining of the one shared backbone (a supernet with every search candidate on, the one-shot NAS warm-up
    that favours no operator), after which it is frozen. Its first seed is used. `processes` > 1 trains with that
    many DistributedDataParallel ranks over gloo on one machine, each with `resources.threads` threads and batch_size /
    processes pairs per step; it is a result parameter (BatchNorm statistics are per rank)."""

    SECTION: typing.ClassVar[str] = "pretrain"
    processes: int = field(default=1, metadata=POSITIVE)


@dataclass
class FeaturesConfig(Section):
    """The cache of frozen-backbone features: one augmented pair drawn per entry, computed once and versioned."""

    SECTION: typing.ClassVar[str] = "features"
    train_pairs: int = field(default=8000, metadata=POSITIVE)    # from the train split (and stills)
    val_pairs: int = field(default=2000, metadata=POSITIVE)      # from the val split: the search's upper level
    seed: int = field(default=0, metadata=NON_NEGATIVE)


@dataclass
class BaselineConfig(Section):
    """Operators of the hand-designed baseline (Ocean: depthwise cross-correlation in both branches)."""

    SECTION: typing.ClassVar[str] = "baseline"
    cls_ops: list = field(default_factory=lambda: ["dw_xcorr"])
    reg_ops: list = field(default_factory=lambda: ["dw_xcorr"])


def _ratio_list(value) -> str | None:
    if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value) \
            or len(set(value)) != len(value):
        return "expected a non-empty list of distinct positive aspect ratios (h / w)"
    return None


@dataclass
class PGNetConfig(Section):
    """PG-Net's anchors and loss (model.anchors); its network takes channels, backbone and the pg_corr template
    size from `model`, its schedule from `train`. SiamRPN++'s values: 5 ratios, IoU >= 0.6 positive, < 0.3
    negative, regression weighted 1.2."""

    SECTION: typing.ClassVar[str] = "pgnet"
    ratios: list = field(default_factory=lambda: [0.33, 0.5, 1.0, 2.0, 3.0], metadata=dict(check=_ratio_list))
    pos_iou: float = field(default=0.6, metadata=dict(min=0, max=1))
    neg_iou: float = field(default=0.3, metadata=dict(min=0, max=1))
    reg_weight: float = field(default=1.2, metadata=NON_NEGATIVE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.neg_iou > self.pos_iou:
            raise ConfigError(f"pgnet.neg_iou = {self.neg_iou} must not exceed pgnet.pos_iou = {self.pos_iou}")


@dataclass
class SearchConfig(Section):
    """BCM bilevel search. Paper: 5 epochs of 6e5 pairs, weight lr 1e-3 -> 1e-4 exponential."""

    SECTION: typing.ClassVar[str] = "search"
    operators: list = field(default_factory=list)      # empty = operators.SEARCH_SPACE (the paper's seven)
    granularity: str = field(default="channel", metadata=dict(choices=("channel", "operator", "cell")))
    # channel: BCM (the paper); operator: one manipulator per operator; cell: the supplementary's DARTS-like cell
    epochs: int = field(default=2, metadata=POSITIVE)
    pairs_per_epoch: int = field(default=2000, metadata=POSITIVE)
    batch_size: int = field(default=32, metadata=POSITIVE)
    lr: float = field(default=1e-3, metadata=dict(min=0))
    lr_end: float = field(default=1e-4, metadata=dict(min=0))
    optimizer: str = field(default="adamw", metadata=dict(choices=("adamw", "sgd")))
    arch_lr: float = field(default=3e-2, metadata=dict(min=0))
    arch_weight_decay: float = field(default=0.0, metadata=NON_NEGATIVE)
    momentum: float = field(default=0.9, metadata=dict(min=0, max=1))       # of sgd, the step `unrolled` unrolls
    weight_decay: float = field(default=1e-4, metadata=NON_NEGATIVE)
    unrolled: bool = False            # second-order DARTS approximation (needs optimizer: sgd, whose step it unrolls)
    sparsity: float = field(default=0.0, metadata=NON_NEGATIVE)  # cost per open channel in the upper-level loss
    warmup_fraction: float = field(default=0.0, metadata=dict(min=0, max=1))  # weights-only steps at the start
    init: float = 1.0                 # initial manipulator value w
    tau: float = field(default=1.0, metadata=dict(min=1e-6))
    noise: bool = False
    retain: int = field(default=2, metadata=POSITIVE)
    seeds: list = field(default_factory=lambda: [0], metadata=dict(check=_seed_list))  # one search per seed

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.unrolled and self.optimizer != "sgd":
            raise ConfigError("search.unrolled = true unrolls the weights' SGD-with-momentum step: set "
                              f"search.optimizer: sgd (got {self.optimizer!r})")


@dataclass
class RandomSearchConfig(Section):
    """Random-search baseline: for each training seed s, k operators per branch drawn with the generator seeded by
    (seed, s), then trained like the others; the configuration compared is 'a random architecture'."""

    SECTION: typing.ClassVar[str] = "random_search"
    k: int = field(default=2, metadata=POSITIVE)
    seed: int = field(default=1, metadata=NON_NEGATIVE)


def _operator_list(value) -> str | None:
    # names only: the registry check (Genotype) would import torch here, and reading params must stay light
    if not value or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
        return "expected a non-empty list of distinct operator names"
    return None


def _count_list(value) -> str | None:
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value) \
            or len(set(value)) != len(value):
        return "expected a non-empty list of distinct positive integers"
    return None


def _ablation_map(value) -> str | None:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, dict) and v for k, v in value.items()):
        return "expected a mapping of names (letters, digits, _) to non-empty mappings of search settings"
    bad = sorted({k for v in value.values() for k in v} - {f.name for f in fields(SearchConfig)} | (
        {"seeds"} & {k for v in value.values() for k in v}))
    if bad:
        return f"unknown or fixed search setting(s) {bad} (the seeds are analysis.search_seeds)"
    return None


@dataclass
class AnalysisConfig(Section):
    """The analysis stages beside the main comparison (paper Table 1 and supplementary Table 1): which trackers
    they train, each once per `seeds` entry with the `train` schedule, evaluated on the test split with the
    `track` settings (untuned, the same for every variant, so a row differs from another only by its network)."""

    SECTION: typing.ClassVar[str] = "analysis"
    seeds: list = field(default_factory=lambda: [0, 1], metadata=dict(check=_seed_list))   # paper: 3 runs
    operators: list = field(default_factory=lambda: [
        "point_dw", "concat", "pointwise_add", "pairwise_relation", "film", "simple_transformer",
        "transductive_guidance", "pg_corr"], metadata=dict(check=_operator_list))   # 01_single_operator: one each
    retained: list = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7],
                           metadata=dict(check=_count_list))            # 06_retained_operators: k per branch
    # 07_ablations: name -> `search` settings changed; each searched with `search_seeds`, its genotype trained like
    # the variants and compared with the main search's (retained@<search.retain>)
    ablations: dict = field(default_factory=lambda: {
        "second_order_sgd": {"optimizer": "sgd", "unrolled": True}, "first_order_sgd": {"optimizer": "sgd"},
        "cell": {"granularity": "cell"}, "operator": {"granularity": "operator"},
        "pg_corr": {"operators": ["point_dw", "concat", "pointwise_add", "pairwise_relation", "film",
                                  "simple_transformer", "transductive_guidance", "pg_corr"]}},
        metadata=dict(check=_ablation_map))
    search_seeds: list = field(default_factory=lambda: [0], metadata=dict(check=_seed_list))
    efficiency_pairs: float = field(default=2.5, metadata=dict(min=1))  # 08_efficiency: the baseline's pairs, x


@dataclass
class ProfileConfig(Section):
    """Which profile produced a run (`automatch profile NAME` writes it); every notebook prints it. Listed by
    no stage: it labels results, it does not change them."""

    SECTION: typing.ClassVar[str] = "profile"
    name: str = "default"
    machine: str = "2-core CPU, no GPU"


@dataclass
class TrackConfig(Section):
    """Online hyper-parameters of the Siamese tracker (tune on validation data only; official facts 6)."""

    SECTION: typing.ClassVar[str] = "track"
    penalty_k: float = field(default=0.15, metadata=NON_NEGATIVE)          # scale/ratio change penalty
    window_influence: float = field(default=0.4, metadata=dict(min=0, max=1))  # cosine window blend
    lr: float = field(default=0.2, metadata=dict(min=0, max=1))            # size smoothing rate
    max_scale_change: float = field(default=1.1, metadata=dict(min=1))   # bound on w, h ratio between frames
    min_size: float = field(default=4.0, metadata=NON_NEGATIVE)           # smallest box side in pixels


@dataclass
class TuneConfig(Section):
    """Per-tracker tuning of the online hyper-parameters on the VAL split (official tune_sot.py searches
    penalty_k in [0.001, 0.2], lr in [0.3, 0.8], window_influence in [0.15, 0.65])."""

    SECTION: typing.ClassVar[str] = "tune"
    trials: int = field(default=6, metadata=POSITIVE)
    seed: int = field(default=0, metadata=NON_NEGATIVE)
    penalty_k: list = field(default_factory=lambda: [0.02, 0.3], metadata=dict(check=_range_pair))
    window_influence: list = field(default_factory=lambda: [0.2, 0.6], metadata=dict(check=_range_pair))
    lr: list = field(default_factory=lambda: [0.05, 0.5], metadata=dict(check=_range_pair))
    max_scale_change: list = field(default_factory=lambda: [1.02, 1.2], metadata=dict(check=_range_pair))


def _peer_list(value) -> str | None:
    known = ("csrt", "kcf", "mil")      # experiments.evaluating.PEERS (not imported here: config stays light)
    if not all(v in known for v in value) or len(set(value)) != len(value):
        return f"expected distinct names among {list(known)}"
    return None


@dataclass
class EvaluateConfig(Section):
    """How the pipeline's stages run trackers over a split: lockstep batches, the speed benchmark, the peers."""

    SECTION: typing.ClassVar[str] = "evaluate"
    speed_frames: int = field(default=150, metadata=POSITIVE)    # frames timed per tracker
    speed_repeats: int = field(default=3, metadata=POSITIVE)     # interleaved repeats; the median is kept
    # sequences our trackers track in lockstep, one network batch per frame index (evaluation.ope): tuning, test
    # and variant runs; a result parameter (batched convolutions round differently, ~1e-6), 1 = one by one
    batch: int = field(default=16, metadata=POSITIVE)
    peers: list = field(default_factory=lambda: ["csrt", "kcf", "mil"],
                        metadata=dict(check=_peer_list))           # OpenCV trackers beside ours on the test split


@dataclass
class ResourcesConfig(Section):
    """How a run uses the machine; listed by no DVC stage because it does not change results.

    torch threads + DataLoader workers + other processes must not exceed the cores, or OpenMP stalls make work many
    times slower: on a 2-core machine keep threads=1, workers=1, and jobs * threads <= 2 (runs on cached features
    load no images, so they use no workers).
    """

    SECTION: typing.ClassVar[str] = "resources"
    threads: int = field(default=1, metadata=POSITIVE)        # torch intra-op threads of every command
    workers: int = field(default=1, metadata=NON_NEGATIVE)    # DataLoader worker processes
    device: str = "cpu"                                       # 'cuda' on a GPU machine
    channels_last: bool = False                               # NHWC memory layout in training (faster on GPUs)
    progress: bool = True                                     # progress bars
    log_every: int = field(default=2, metadata=POSITIVE)      # search: record potentials every N steps
    jobs: int = field(default=1, metadata=POSITIVE)           # independent runs (seeds) at once, each with `threads`


SECTIONS: dict[str, type] = {cls.SECTION: cls for cls in (
    SyntheticConfig, CropConfig, PairConfig, ModelConfig, PretrainConfig, FeaturesConfig, TrainConfig,
    BaselineConfig, PGNetConfig, SearchConfig,
    RandomSearchConfig, AnalysisConfig, TrackConfig, TuneConfig, EvaluateConfig, ResourcesConfig, ProfileConfig)}


@dataclass
class Params:
    """All sections of params.yaml, typed."""

    data: SyntheticConfig
    crop: CropConfig
    pairs: PairConfig
    model: ModelConfig
    pretrain: PretrainConfig
    features: FeaturesConfig
    train: TrainConfig
    baseline: BaselineConfig
    pgnet: PGNetConfig
    search: SearchConfig
    random_search: RandomSearchConfig
    analysis: AnalysisConfig
    track: TrackConfig
    tune: TuneConfig
    evaluate: EvaluateConfig
    resources: ResourcesConfig
    profile: ProfileConfig


def parse_params(raw: dict, where: str = "params") -> Params:
    """Validate a params mapping (as read from YAML); missing sections take their defaults."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {raw!r}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {unknown}; known: {sorted(SECTIONS)}")
    params = Params(**{name: build(cls, raw.get(name), name) for name, cls in SECTIONS.items()})
    for name, changed in params.analysis.ablations.items():   # each ablation must make a valid search section
        try:
            dataclasses.replace(params.search, **changed)
        except ConfigError as exc:
            raise ConfigError(f"{where}: analysis.ablations.{name} = {changed}: {exc}") from None
    return params


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from a file; a missing or malformed file raises ConfigError naming it (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path.resolve()}")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    return parse_params(read_yaml(path), str(path))


def deep_merge(base: dict, override: dict) -> dict:
    """Recursively merge `override` into a copy of `base` (mappings merge, everything else replaces)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def merged_profile(params_path: str | Path, profile_path: str | Path) -> dict:
    """params.yaml with a profile deep-merged over it, validated (nothing is written)."""
    merged = deep_merge(read_yaml(params_path), read_yaml(profile_path))
    parse_params(merged, f"{params_path} + {profile_path}")
    return merged


def apply_profile(params_path: str | Path, profile_path: str | Path, out_path: str | Path) -> dict:
    """Write params.yaml merged with a profile to `out_path` (which may be params.yaml itself). Returns it."""
    merged = merged_profile(params_path, profile_path)
    write_text(out_path, yaml.safe_dump(merged, sort_keys=False))
    return merged
