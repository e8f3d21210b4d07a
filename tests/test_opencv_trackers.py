"""OpenCV's trackers through our registry: classical ones track a moving target, deep ones name missing files."""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.errors import BoxError, ConfigError
from automatch_lib.evaluation.metrics import iou
from automatch_lib.evaluation.ope import run_sequence
from automatch_lib.trackers import TRACKERS, make_tracker
from automatch_lib.trackers import opencv as ocv
from automatch_lib.trackers.opencv import CLASSICAL, DEEP, MODEL_FILES, OpenCVTracker, opencv_constructor
from automatch_lib.trackers.static import StaticTracker

from conftest import write_moving_sequence


def _skip_unless_available(kind: str) -> None:
    class_name = {**CLASSICAL, **DEEP}[kind]
    if opencv_constructor(class_name) is None:
        pytest.skip(f"OpenCV {cv2.__version__} has no cv2.{class_name}")


@pytest.fixture(scope="module")
def moving_seq(tmp_path_factory):
    root = tmp_path_factory.mktemp("otb")
    write_moving_sequence(root / "Moving", n=20, size=(160, 120), seed=3, box_size=(40, 30), speed=3.0)
    (seq,) = load_benchmark("otb", root)
    assert len(seq) == 20
    return seq


@pytest.fixture(scope="module")
def static_iou(moving_seq) -> float:
    boxes, _ = run_sequence(StaticTracker(), moving_seq)
    return float(iou(boxes[1:], moving_seq.boxes[1:]).mean())


@pytest.mark.parametrize("kind", sorted(CLASSICAL))
def test_classical_tracker_follows_moving_target(kind, moving_seq, static_iou):
    _skip_unless_available(kind)
    tracker = make_tracker(kind)
    assert tracker.name == kind
    boxes, fps = run_sequence(tracker, moving_seq)
    mean_iou = float(iou(boxes[1:], moving_seq.boxes[1:]).mean())
    assert static_iou < 0.3  # the target really moves away from its first box
    assert mean_iou > max(0.5, static_iou + 0.3), (kind, mean_iou, static_iou)
    assert fps > 0


@pytest.mark.parametrize("kind", sorted(CLASSICAL))
def test_classical_boxes_are_finite_float_arrays_and_reinit_is_clean(kind, moving_seq):
    _skip_unless_available(kind)
    tracker = make_tracker(kind, name=f"my-{kind}")
    assert tracker.name == f"my-{kind}"
    for _ in range(2):  # a second init (next sequence) starts from scratch
        tracker.init(moving_seq.image(0), moving_seq.init_box())
        for i in range(1, 4):
            box = tracker.update(moving_seq.image(i))
            assert isinstance(box, np.ndarray) and box.dtype == np.float64 and box.shape == (4,)
            assert np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0


@pytest.mark.parametrize("kind", sorted(CLASSICAL))
def test_initial_box_outside_image_raises(kind, moving_seq):
    _skip_unless_available(kind)
    tracker = make_tracker(kind)
    image = moving_seq.image(0)
    for bad in ([500, 10, 20, 20], [-50, -50, 20, 20], [10, 10, 0, 5], [np.nan, 1, 5, 5]):
        with pytest.raises(BoxError, match="initial box"):
            tracker.init(image, bad)


@pytest.mark.parametrize("kind", sorted(CLASSICAL))
def test_initial_box_partly_outside_is_clipped(kind, moving_seq):
    _skip_unless_available(kind)
    tracker = make_tracker(kind)
    image = moving_seq.image(0)
    H, W = image.shape[:2]
    tracker.init(image, [W - 15, H - 12, 30, 30])  # MIL alone would refuse this box
    box = tracker.update(moving_seq.image(1))
    assert np.all(np.isfinite(box)) and box.shape == (4,)


class _FakeCV:
    """An OpenCV-like tracker that loses the target on the second update."""

    created = 0

    def __init__(self):
        type(self).created += 1
        self.calls = 0

    def init(self, image, rect):
        assert all(isinstance(v, int) for v in rect)
        self.rect = rect

    def update(self, image):
        self.calls += 1
        if self.calls == 2:
            return False, (0, 0, 0, 0)
        x, y, w, h = self.rect
        return True, (x + self.calls, y, w, h)


def test_lost_target_keeps_last_box_and_init_rebuilds():
    _FakeCV.created = 0
    tracker = OpenCVTracker(_FakeCV, "fake")
    image = np.zeros((50, 60, 3), np.uint8)
    with pytest.raises(RuntimeError, match="before init"):
        tracker.update(image)
    tracker.init(image, [10.4, 5.6, 10.2, 8.0])
    assert tracker._cv.rect == (10, 6, 11, 8)  # corners rounded: 10.4..20.6 x 5.6..13.6
    first = tracker.update(image)
    np.testing.assert_array_equal(first, [11, 6, 11, 8])
    np.testing.assert_array_equal(tracker.update(image), first)  # ok == False: last box kept
    assert _FakeCV.created == 1
    tracker.init(image, [1, 1, 5, 5])
    assert _FakeCV.created == 2


def test_missing_opencv_class_raises_naming_version(monkeypatch):
    monkeypatch.setattr(ocv, "opencv_constructor", lambda class_name: None)
    for kind in ("csrt", "nano"):
        with pytest.raises(ConfigError, match=rf"{kind}.*{cv2.__version__}"):
            make_tracker(kind, checkpoint="unused")


# ---- deep trackers: files missing -------------------------------------------------------------------------------

def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"not a model")


@pytest.mark.parametrize("kind, present, missing", [
    ("nano", ["nanotrack_backbone_sim.onnx"], "nanotrack_head_sim.onnx"),
    ("nano", ["backbone.onnx"], "nanotrack_head_sim.onnx"),
    ("nano", ["nanotrack_head_sim.onnx"], "nanotrack_backbone_sim.onnx"),
    ("vit", [], "object_tracking_vit_2023sep.onnx"),
    ("dasiamrpn", ["dasiamrpn_model.onnx", "dasiamrpn_kernel_cls1.onnx"], "dasiamrpn_kernel_r1.onnx"),
    ("dasiamrpn", ["dasiamrpn_kernel_cls1.onnx", "dasiamrpn_kernel_r1.onnx"], "dasiamrpn_model.onnx"),
])
def test_deep_tracker_names_the_missing_file(kind, present, missing, tmp_path):
    _skip_unless_available(kind)
    folder = tmp_path / "models"
    _touch(folder, *present)
    with pytest.raises(ConfigError) as err:
        make_tracker(kind, checkpoint=folder)
    msg = str(err.value)
    assert repr(kind) in msg and "--checkpoint" in msg
    assert f"{folder.resolve() / missing} " in msg and "is missing" in msg
    for name in present:
        assert str(folder.resolve() / name) not in msg  # only the missing file is named as a path


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_tracker_without_checkpoint(kind):
    _skip_unless_available(kind)
    with pytest.raises(ConfigError, match=rf"'{kind}'.*--checkpoint FOLDER holding"):
        make_tracker(kind)


def test_vit_single_file_checkpoint(tmp_path):
    _skip_unless_available("vit")
    missing = tmp_path / "my_vit.onnx"
    with pytest.raises(ConfigError, match="does not exist") as err:
        make_tracker("vit", checkpoint=missing)
    assert str(missing.resolve()) in str(err.value)
    # the alternative name in a folder is found, then OpenCV refuses the junk file: still a ConfigError
    _touch(tmp_path / "alt", "vitTracker.onnx")
    with pytest.raises(ConfigError, match="could not load") as err:
        make_tracker("vit", checkpoint=tmp_path / "alt")
    assert "vitTracker.onnx" in str(err.value)


def test_multi_file_tracker_refuses_a_file(tmp_path):
    _skip_unless_available("nano")
    _touch(tmp_path, "nanotrack_backbone_sim.onnx")
    with pytest.raises(ConfigError, match="needs a folder"):
        make_tracker("nano", checkpoint=tmp_path / "nanotrack_backbone_sim.onnx")


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_tracker_with_junk_files_raises_config_error(kind, tmp_path):
    _skip_unless_available(kind)
    _touch(tmp_path, *(alts[0] for alts in MODEL_FILES[kind].values()))
    with pytest.raises(ConfigError, match=rf"'{kind}' tracker could not load"):
        make_tracker(kind, checkpoint=tmp_path)


def test_make_tracker_reaches_every_kind(tmp_path):
    assert set(CLASSICAL) | set(DEEP) <= set(TRACKERS)
    for kind in CLASSICAL:
        if opencv_constructor(CLASSICAL[kind]) is not None:
            assert isinstance(make_tracker(kind), OpenCVTracker)
    for kind in DEEP:  # reaching the factory shows as its own file check
        if opencv_constructor(DEEP[kind]) is not None:
            with pytest.raises(ConfigError, match=rf"'{kind}' tracker's model file {re.escape(str(tmp_path.resolve()))}"):
                make_tracker(kind, checkpoint=tmp_path)


def test_tiny_boxes_are_grown_so_every_classical_tracker_initialises():
    """OpenCV 5.0's MIL hangs in init() on a 4 x 4 box; the adapter grows boxes under MIN_SIDE around their centre."""
    from automatch_lib.trackers.opencv import MIN_SIDE, _to_rect

    assert _to_rect(np.array([60.0, 72.0, 4.0, 4.0]), (120, 160, 3)) == (59, 71, MIN_SIDE, MIN_SIDE)
    assert _to_rect(np.array([0.0, 0.0, 2.0, 2.0]), (120, 160, 3)) == (0, 0, MIN_SIDE, MIN_SIDE)  # kept inside
    assert _to_rect(np.array([157.0, 50.0, 9.0, 3.0]), (120, 160, 3)) == (154, 48, MIN_SIDE, MIN_SIDE)  # round(48.5) = 48
    assert _to_rect(np.array([20.5, 30.2, 40.0, 30.0]), (120, 160, 3)) == (20, 30, 40, 30)  # large: as before (round half to even)
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for kind in ("csrt", "kcf", "mil"):
        for box in ([60, 72, 4, 4], [0, 0, 2, 2], [157, 117, 3, 3]):
            tracker = make_tracker(kind)
            tracker.init(image, box)
            assert np.isfinite(tracker.update(image)).all()
