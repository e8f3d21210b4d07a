"""Track an object through a video file and write an annotated copy (`automatch track`)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .errors import DataError
from .experiments import make_tracker


def track_video(p, checkpoint: str | Path, video: str | Path, box: np.ndarray, out: str | Path,
                boxes_txt: str | Path | None = None) -> int:
    """Run the tracker from `box` (x, y, w, h in the first frame) and write `out` with boxes drawn. Returns frames."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise DataError(f"cannot open video: {video}")
    ok, frame = cap.read()
    if not ok:
        raise DataError(f"video has no readable frame: {video}")
    tracker = make_tracker(p, checkpoint)
    tracker.init(frame, box)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
    boxes = [np.asarray(box, dtype=float)]
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    with tqdm(total=total, desc="tracking") as bar:
        while True:
            x, y, w, h = boxes[-1].round().astype(int)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
            writer.write(frame)
            bar.update(1)
            ok, frame = cap.read()
            if not ok:
                break
            boxes.append(np.asarray(tracker.update(frame), dtype=float))
    writer.release()
    cap.release()
    if boxes_txt:
        np.savetxt(boxes_txt, np.array(boxes), fmt="%.2f", delimiter=",")
    return len(boxes)
