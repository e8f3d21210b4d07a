"""Pseudo-labelled real-video training sequences (data/video_labels.py) and the generator's realism additions
(feathered outlines, same-class distractors), on small videos drawn here with known boxes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from automatch_lib.config import parse_params
from automatch_lib.data import video_labels as V
from automatch_lib.data.sources.videos import fetch_video
from automatch_lib.data.synthetic.compose import feather_edge, mask_box
from automatch_lib.data.synthetic.effects.clutter import object_class
from automatch_lib.data.synthetic.plan import FRAME_FEATHER
from automatch_lib.errors import ConfigError, DataError
from automatch_lib.evaluation.metrics import iou
from automatch_lib.experiments.training import load_split, pair_dataset, video_group

W, H = 240, 160


def _background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(60, 200, (H, W, 3), dtype=np.uint8), (5, 5), 0)


def _walkers(n: int, paths: list[tuple[tuple[float, float], tuple[float, float]]], size=(12, 34)):
    """Frames of a fixed camera with dark upright 'people' moving along straight paths; their true boxes."""
    bg = _background()
    frames, truth = [], [[] for _ in paths]
    for t in range(n):
        f = bg.copy()
        for k, ((x0, y0), (vx, vy)) in enumerate(paths):
            x, y = int(round(x0 + vx * t)), int(round(y0 + vy * t))
            cv2.rectangle(f, (x, y), (x + size[0] - 1, y + size[1] - 1), (20, 20, 20), -1)
            truth[k].append([x, y, size[0], size[1]])
        frames.append(f)
    return frames, [np.array(b, float) for b in truth]


def test_background_tracks_follow_each_walker():
    frames, truth = _walkers(40, [((20, 30), (3, 0.5)), ((200, 110), (-2, 0))])
    tracks = V.background_tracks(frames)
    assert len(tracks) == 2
    for (start, boxes), gt in zip(sorted(tracks, key=lambda t: -t[1][0, 0]), [truth[1], truth[0]]):
        assert start == 0 and len(boxes) == 40
        assert iou(boxes, gt).min() > 0.8


def test_background_tracks_end_where_two_walkers_merge():
    """Two walkers meet head-on: no kept box may cover both, so the tracks stop before the merge."""
    frames, truth = _walkers(60, [((10, 60), (3, 0)), ((218, 60), (-3, 0))])
    tracks = V.background_tracks(frames)
    assert tracks, "the walkers' approach should give tracks"
    for start, boxes in tracks:
        for i, b in enumerate(boxes):
            assert b[2] <= 14, f"frame {start + i}: a box {b} wider than one walker"


def test_longest_run():
    assert V.longest_run(np.array([1, 0, 1, 1, 1, 0, 1, 1], bool)) == (2, 3)
    assert V.longest_run(np.zeros(4, bool)) == (0, 0)
    assert V.longest_run(np.ones(3, bool)) == (0, 3)


def test_shots_and_forward_backward_tracks():
    """A textured square drifts over a textured background; a cut changes both at frame 30. The shots are found,
    and the kept boxes follow the square in each shot."""
    rng = np.random.default_rng(1)
    frames, truth = [], []
    for shot in range(2):
        tint = np.array([[1.0, 1.0, 1.0], [0.3, 0.8, 1.6]][shot])  # the second shot looks warmer
        bg = np.clip(_background(10 + shot) * tint, 0, 255).astype(np.uint8)
        patch = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        patch = cv2.resize(patch[::4, ::4], (40, 40), interpolation=cv2.INTER_NEAREST)
        for t in range(30):
            f = bg.copy()
            x, y = 60 + 2 * t + 40 * shot, 50 + t // 2
            f[y:y + 40, x:x + 40] = patch
            frames.append(f)
            truth.append([x, y, 40, 40])
    assert V.shot_bounds(frames) == [(0, 30), (30, 60)]
    tracks = V.forward_backward_tracks(frames)
    on_square = [(s, b) for s, b in tracks if iou(b[0], truth[s])[0] > 0.3]
    assert {s // 30 for s, _ in on_square} == {0, 1}, "each shot should keep a track on the square"
    for start, boxes in on_square:
        ious = iou(boxes, truth[start:start + len(boxes)])
        assert len(boxes) >= V.MIN_LENGTH and min(ious) > 0.3


def test_written_sequences_become_a_pair_group(tmp_path):
    frames, truth = _walkers(24, [((20, 30), (3, 0.5))])
    root = tmp_path / "bench"
    V.write_sequence(root / "train_video" / "vtest_000", frames, 2, truth[0][2:22])
    seqs = load_split(root / "train_video")
    assert len(seqs) == 1 and len(seqs[0]) == 20
    np.testing.assert_allclose(seqs[0].boxes - [seqs[0].origin, seqs[0].origin, 0, 0], truth[0][2:22], atol=0.05)
    p = parse_params({"pairs": {"video_weight": 0.5}})
    (group, weight, frame_range), = video_group(p, root)
    assert weight == 0.5 and group[0].name == "vtest_000"
    assert video_group(parse_params({"pairs": {"video_weight": 0.0}}), root) == []
    assert video_group(p, tmp_path / "elsewhere") == []


def test_pair_dataset_draws_from_the_video_group(tmp_path):
    """With only the video group weighted, every pair of a bench whose generated split is a different sequence
    comes from the video sequence (checked through the template's centre: the dark walker)."""
    frames, truth = _walkers(24, [((20, 30), (3, 0.5))])
    root = tmp_path / "bench"
    V.write_sequence(root / "train_video" / "vtest_000", frames, 0, truth[0])
    V.write_sequence(root / "train" / "Train001", [_background(5)] * 24, 0, np.tile([100, 60, 30, 30], (24, 1)))
    p = parse_params({"pairs": {"video_weight": 1000.0, "negative_prob": 0.0, "still_weight": 0.0,
                                "color_jitter": 0.0, "gray_prob": 0.0, "blur_prob": 0.0}})
    data = pair_dataset(p, root, "train", 8, seed=0)
    assert [len(g) for g, _, _ in data.groups] == [1, 1]
    E = data[0]["template"].shape[-1]
    dark = [float(data[i]["template"][:, E // 2 - 2:E // 2 + 2, E // 2 - 2:E // 2 + 2].mean()) < 60 for i in range(8)]
    assert sum(dark) >= 7, dark


def test_unknown_video_and_config_check(tmp_path):
    with pytest.raises(DataError, match="unknown video 'nope'"):
        fetch_video("nope", tmp_path)
    with pytest.raises(ConfigError, match="data.videos"):
        parse_params({"data": {"videos": ["vtest", "nope"]}})
    with pytest.raises(DataError, match="no labeller"):
        V.video_sequences(["nope"], tmp_path / "out", tmp_path)


def test_feather_edge_fades_inward_only():
    prem = np.zeros((30, 30, 4), np.float32)
    prem[5:25, 5:25] = (0.2, 0.4, 0.6, 1.0)
    out = feather_edge(prem, 1.0)
    a = out[..., 3]
    assert a[15, 15] == pytest.approx(1.0, abs=1e-4)           # inside: unchanged
    assert 0.4 < a[15, 5] < 0.8                                  # the outline: faded
    assert np.all(a[prem[..., 3] == 0] == 0)                     # outside: never raised (no colour there)
    inside = a > 0
    np.testing.assert_allclose(out[inside, :3] / a[inside, None], [[0.2, 0.4, 0.6]] * int(inside.sum()), rtol=1e-5)
    assert mask_box(a) == (5, 5, 24, 24)                          # the box (alpha > 0.5) is kept
    assert feather_edge(prem, 0.0) is prem


def test_object_class():
    assert object_class("tux:animals/birds/eagle") == "tux:animals/birds"
    assert object_class("astronaut") == "astronaut"


def test_generated_sequences_log_their_feather(tmp_path):
    from automatch_lib.data.synthetic.config import SyntheticConfig
    from automatch_lib.data.synthetic.generate import generate_benchmark
    import json
    cfg = SyntheticConfig(frame_size=(160, 120), seq_len=16, n_sequences={"train": 2, "val": 0, "test": 0},
                          n_stills=0, use_debian=False)
    generate_benchmark(tmp_path / "b", cfg, progress=False)
    sigmas = [json.loads(p.read_text())["feather_px"] for p in sorted((tmp_path / "b" / "train").glob("*/log.json"))]
    assert len(sigmas) == 2 and all(FRAME_FEATHER[0] <= s <= FRAME_FEATHER[1] for s in sigmas)
    assert len(set(sigmas)) == 2
