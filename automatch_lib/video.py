"""Track an object through a video file or a folder of frames and write an annotated video plus the boxes
(`automatch track`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from tqdm import tqdm

from .data.benchmarks.files import list_images
from .data.sequence import read_image
from .errors import DataError
from .evaluation.ope import write_boxes
from .trackers import Tracker


def read_frames(source: str | Path) -> tuple[Iterator[np.ndarray], float, int | None]:
    """(frames as H x W x 3 uint8 BGR, frames per second, frame count or None) of a video file or an image folder."""
    source = Path(source)
    if source.is_dir():
        paths = list_images(source)
        if not paths:
            raise DataError(f"{source}: no .jpg/.jpeg/.png frames in this folder")
        return (read_image(p) for p in paths), 25.0, len(paths)
    if not source.is_file():
        raise DataError(f"{source}: no such video file or frame folder")
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise DataError(f"{source}: OpenCV cannot open this video")

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
        finally:
            cap.release()
    return frames(), cap.get(cv2.CAP_PROP_FPS) or 25.0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None


def track_video(tracker: Tracker, source: str | Path, box, out: str | Path, boxes_txt: str | Path | None = None,
                progress: bool = True) -> np.ndarray:
    """Track from `box` (x, y, w, h in the first frame, 0-based pixels); write `out` (the frames with the box drawn)
    and `boxes_txt` (default: `out` with the suffix .txt; one x,y,w,h row per frame). Returns the (N, 4) boxes."""
    frames, fps, total = read_frames(source)
    first = next(frames, None)
    if first is None:
        raise DataError(f"{source}: no readable frame")
    tracker.init(first, box)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (first.shape[1], first.shape[0]))
    if not writer.isOpened():
        raise DataError(f"{out}: OpenCV cannot write this video (use a .mp4 or .avi file name)")
    boxes = [np.asarray(box, dtype=np.float64)]
    frame = first
    with tqdm(total=total, desc="tracking", disable=not progress) as bar:
        while frame is not None:
            x, y, w, h = boxes[-1].round().astype(int)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
            writer.write(frame)
            bar.update(1)
            frame = next(frames, None)
            if frame is not None:
                boxes.append(np.asarray(tracker.update(frame), dtype=np.float64))
    writer.release()
    boxes = np.array(boxes)
    write_boxes(Path(boxes_txt) if boxes_txt else out.with_suffix(".txt"), boxes)
    return boxes
