"""OpenCV's trackers behind our `Tracker` protocol, so they run as peers through the same registry.

Classical (no model files): 'csrt', 'kcf', 'mil' (TrackerCSRT, TrackerKCF, TrackerMIL).
Deep, CPU, with ONNX files the user supplies via `checkpoint` (never downloaded):
  'nano'      TrackerNano: a folder with nanotrack_backbone_sim.onnx (or backbone.onnx) and nanotrack_head_sim.onnx
              (or neckhead.onnx);
  'vit'       TrackerVit: the .onnx file itself, or a folder with object_tracking_vit_2023sep.onnx (or vitTracker.onnx);
  'dasiamrpn'  TrackerDaSiamRPN: a folder with dasiamrpn_model.onnx, dasiamrpn_kernel_cls1.onnx, dasiamrpn_kernel_r1.onnx.
Deep trackers run with the OpenCV DNN backend on the CPU target whatever `device` says.

Nothing here changes OpenCV's global state (thread count etc.): the commands set `cv2.setNumThreads` themselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ..data.sequence import check_box_in_image
from ..errors import BoxError, ConfigError

CLASSICAL = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mil": "TrackerMIL"}
DEEP = {"nano": "TrackerNano", "vit": "TrackerVit", "dasiamrpn": "TrackerDaSiamRPN"}

# params field -> accepted file names in a checkpoint folder, usual name first.
MODEL_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "nano": {"backbone": ("nanotrack_backbone_sim.onnx", "backbone.onnx"),
             "neckhead": ("nanotrack_head_sim.onnx", "neckhead.onnx")},
    "vit": {"net": ("object_tracking_vit_2023sep.onnx", "vitTracker.onnx")},
    "dasiamrpn": {"model": ("dasiamrpn_model.onnx",),
                  "kernel_cls1": ("dasiamrpn_kernel_cls1.onnx",),
                  "kernel_r1": ("dasiamrpn_kernel_r1.onnx",)},
}


def opencv_constructor(class_name: str) -> Callable[..., Any] | None:
    """OpenCV's factory for `class_name` in this build (cv2.X.create, cv2.X_create or cv2.legacy's), else None."""
    cls = getattr(cv2, class_name, None)
    if cls is not None and callable(getattr(cls, "create", None)):
        return cls.create
    if callable(getattr(cv2, f"{class_name}_create", None)):
        return getattr(cv2, f"{class_name}_create")
    legacy = getattr(cv2, "legacy", None)
    if legacy is not None and callable(getattr(legacy, f"{class_name}_create", None)):
        return getattr(legacy, f"{class_name}_create")
    return None


def _require_constructor(kind: str, class_name: str) -> Callable[..., Any]:
    create = opencv_constructor(class_name)
    if create is None:
        raise ConfigError(f"the {kind!r} tracker needs cv2.{class_name}, which this OpenCV build "
                          f"({cv2.__version__}) does not provide (tried cv2.{class_name}.create, "
                          f"cv2.{class_name}_create, cv2.legacy.{class_name}_create); "
                          f"install opencv-contrib-python(-headless) of a version that has it")
    return create


# OpenCV 5.0's TrackerMIL never returns from init() on a 4 x 4 box (measured; 5 x 5 and 4 x 40 are fine), so boxes
# smaller than this are grown around their centre before init (all OpenCV trackers, to keep them comparable).
MIN_SIDE = 6


def _to_rect(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The integer (x, y, w, h) OpenCV wants: the part of `box` inside the image; a side shorter than MIN_SIDE is
    grown around the centre and the rectangle moved inside the image."""
    H, W = shape[:2]
    x0, y0 = np.clip([box[0], box[1]], 0, [W - 1, H - 1])
    x1, y1 = np.clip([box[0] + box[2], box[1] + box[3]], 0, [W, H])
    x, y = int(round(x0)), int(round(y0))
    x, y = min(x, W - 1), min(y, H - 1)
    w = max(1, min(int(round(x1)) - x, W - x))
    h = max(1, min(int(round(y1)) - y, H - y))
    if w < MIN_SIDE:
        w = min(MIN_SIDE, W)
        x = int(np.clip(round((x0 + x1) / 2 - w / 2), 0, W - w))
    if h < MIN_SIDE:
        h = min(MIN_SIDE, H)
        y = int(np.clip(round((y0 + y1) / 2 - h / 2), 0, H - h))
    return x, y, w, h


class OpenCVTracker:
    """Adapter around any OpenCV tracker object (new API or cv2.legacy).

    `create()` returns a fresh OpenCV tracker; one is built right away (so missing or broken model files fail at
    construction) and a new one on every later `init`, so no state leaks from one sequence to the next.

    `init` validates the box like the static tracker ("initial box" BoxError), clips it to the image (OpenCV's
    trackers need the target inside the frame; MIL refuses otherwise) and rounds it to the integer rectangle OpenCV
    takes. `update` returns OpenCV's box as float64 x, y, w, h. When OpenCV reports a lost target (``ok == False``)
    or an unusable box, the last box is kept: one-pass evaluation (OPE) needs a box in every frame.
    """

    def __init__(self, create: Callable[[], Any], name: str):
        self._create = create
        self.name = name
        self._cv = create()
        self._used = False
        self.box: np.ndarray | None = None

    def init(self, image: np.ndarray, box) -> None:
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.shape != (4,):
            raise BoxError(f"initial box: expected x, y, w, h, got {box.tolist()}")
        check_box_in_image(box, image.shape, "initial box")
        if self._used:
            self._cv = self._create()
        self._used = True
        image = np.ascontiguousarray(image)
        rect = _to_rect(box, image.shape)
        try:
            ok = self._cv.init(image, rect)
        except cv2.error as e:
            raise BoxError(f"initial box {box.tolist()} (as {rect}): OpenCV {self.name} could not initialise: "
                           f"{str(e).strip()}") from e
        if ok is False:  # the legacy API reports failure by returning False
            raise BoxError(f"initial box {box.tolist()} (as {rect}): OpenCV {self.name} could not initialise")
        self.box = np.array(rect, dtype=np.float64)

    def update(self, image: np.ndarray) -> np.ndarray:
        if self.box is None:
            raise RuntimeError(f"{self.name}: update() called before init()")
        ok, rect = self._cv.update(np.ascontiguousarray(image))
        if ok:
            new = np.asarray(rect, dtype=np.float64).reshape(-1)
            if new.shape == (4,) and np.all(np.isfinite(new)) and new[2] > 0 and new[3] > 0:
                self.box = new
        return self.box.copy()


def _classical(kind: str) -> Callable[..., OpenCVTracker]:
    class_name = CLASSICAL[kind]

    def factory(checkpoint=None, track=None, device: str = "cpu", name: str | None = None) -> OpenCVTracker:
        create = _require_constructor(kind, class_name)
        return OpenCVTracker(create, name or kind)

    factory.__name__ = f"_{kind}"
    factory.__doc__ = f"OpenCV's {class_name} (checkpoint, track and device are ignored)."
    return factory


def _needs(kind: str, folder: Path | str) -> str:
    usual = [alts[0] for alts in MODEL_FILES[kind].values()]
    names = usual[0] if len(usual) == 1 else ", ".join(usual[:-1]) + " and " + usual[-1]
    single = " (or --checkpoint the .onnx file itself)" if len(MODEL_FILES[kind]) == 1 else ""
    return f"--checkpoint {folder} holding {names}{single}"


def resolve_model_files(kind: str, checkpoint: str | Path | None) -> dict[str, Path]:
    """The params field -> model file of deep tracker `kind` from `checkpoint` (a folder, or the file for 'vit').

    Raises ConfigError naming the tracker, the missing file's full path and what to pass.
    """
    spec = MODEL_FILES[kind]
    if not checkpoint:
        raise ConfigError(f"the {kind!r} tracker needs its ONNX model files: pass {_needs(kind, 'FOLDER')}")
    path = Path(checkpoint).expanduser()
    if len(spec) == 1 and not path.is_dir() and (path.suffix.lower() == ".onnx" or path.is_file()):
        if not path.is_file():
            raise ConfigError(f"the {kind!r} tracker's model file {path.resolve()} does not exist: pass "
                              f"{_needs(kind, 'FOLDER')}")
        return {next(iter(spec)): path}
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the {kind!r} tracker needs a folder of model files, got the file {path.resolve()}: "
                          f"pass {_needs(kind, 'FOLDER')}")
    folder = path.resolve()
    found: dict[str, Path] = {}
    for field, alts in spec.items():
        hit = next((folder / a for a in alts if (folder / a).is_file()), None)
        if hit is None:
            also = "".join(f" (or {folder / a})" for a in alts[1:])
            where = "" if folder.is_dir() else f" (the folder {folder} does not exist)"
            raise ConfigError(f"the {kind!r} tracker's model file {folder / alts[0]}{also} is missing{where}: "
                              f"pass {_needs(kind, 'FOLDER')}")
        found[field] = hit
    return found


def _deep(kind: str) -> Callable[..., OpenCVTracker]:
    class_name = DEEP[kind]

    def factory(checkpoint=None, track=None, device: str = "cpu", name: str | None = None) -> OpenCVTracker:
        create = _require_constructor(kind, class_name)
        files = resolve_model_files(kind, checkpoint)
        params_cls = getattr(cv2, f"{class_name}_Params", None)
        if params_cls is None:
            raise ConfigError(f"the {kind!r} tracker needs cv2.{class_name}_Params, which this OpenCV build "
                              f"({cv2.__version__}) does not provide")

        def build():
            params = params_cls()
            for field, file in files.items():
                setattr(params, field, str(file))
            params.backend = cv2.dnn.DNN_BACKEND_OPENCV
            params.target = cv2.dnn.DNN_TARGET_CPU
            return create(params)

        try:
            return OpenCVTracker(build, name or kind)
        except cv2.error as e:
            listed = ", ".join(str(f) for f in files.values())
            raise ConfigError(f"the {kind!r} tracker could not load its model files ({listed}) with OpenCV "
                              f"{cv2.__version__}: {str(e).strip()}") from e

    factory.__name__ = f"_{kind}"
    factory.__doc__ = (f"OpenCV's {class_name} on the CPU; `checkpoint` locates its ONNX files "
                       f"({_needs(kind, 'FOLDER')}); track and device are ignored.")
    return factory


OPENCV_TRACKERS: dict[str, Callable[..., OpenCVTracker]] = {
    **{kind: _classical(kind) for kind in CLASSICAL},
    **{kind: _deep(kind) for kind in DEEP},
}
