"""Pseudo-labelled real-video training sequences: boxes found without a human, kept only where they are reliable.

The embedded benchmark composites photographed objects; real video adds what compositing does not have: real
motion blur, real articulation (walking legs), compression, lighting that changes with the camera. Two videos that
packages ship are labelled here, each by the method that suits it, and written as OTB-layout training sequences
(`<out>/<video>_<k>/img/%04d.jpg`, `groundtruth_rect.txt`). They join the training pairs as their own group
(`pairs.video_weight`); they never enter val or test.

* ``background_tracks`` (fixed camera, vtest.avi): a median background over the whole video, foreground blobs of
  person size, linked frame to frame by IoU. A track ends where the link is ambiguous (two people merge, one
  splits, a blob jumps in size), so a kept box always covers one walking person.
* ``forward_backward_tracks`` (moving camera with cuts, bikes.mp4): shots found by colour-histogram cuts; in each
  shot the most textured windows are tracked by CSRT forward to the end of the shot and back again from where the
  forward run ended; only the longest stretch of frames where the two runs agree (IoU at least `FB_IOU`, the
  forward-backward check of Kalal et al. 2010) is kept: there both runs followed the same thing. These targets
  are textured regions (a bicycle's wheel, a car's tail light), not always whole objects.

Both are deterministic (no random draws; OpenCV pinned to one thread). `video_sequences` runs both and returns a
summary the data notebook prints and draws, so the labels can be checked by looking at them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..errors import DataError
from ..evaluation.metrics import iou
from ..io import atomic_write, write_json
from .sources.videos import fetch_video

# background_tracks (pixels at the labelling scale)
BG_SCALE = 0.5                 # vtest.avi is labelled (and stored) at half size: 384x288
BG_SAMPLE = 4                  # the median background uses every 4th frame
BG_THRESHOLD = 30              # largest channel difference to the background that counts as foreground
MIN_BLOB_AREA = 250            # a person at half size is about 20x60 px
BLOB_ASPECT = (1.2, 4.5)       # height / width of a standing person
LINK_IOU = 0.3                 # a blob continues a track above this IoU with its last box ...
AREA_JUMP = 1.35               # ... unless its area changes by more than this factor
# forward_backward_tracks
CUT_DISTANCE = 0.5             # Bhattacharyya distance of HSV histograms between frames that marks a cut
WINDOW = 0.3                   # candidate window side, x the frame height
WINDOWS_PER_SHOT = 2
FB_IOU = 0.6                   # forward and backward boxes must overlap this much
# both
MIN_LENGTH = 20                # shorter tracks are dropped
MAX_LENGTH = 120               # longer ones are cut into pieces of at most this many frames
JPEG_QUALITY = 90


def read_frames(path: str | Path, scale: float = 1.0) -> list[np.ndarray]:
    """Every frame of a video file (BGR uint8), resized by ``scale`` (area interpolation)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"{path}: OpenCV cannot open this video")
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if scale != 1.0:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(frame)
    cap.release()
    if not frames:
        raise DataError(f"{path}: no frames could be decoded")
    return frames


def person_blobs(frame: np.ndarray, background: np.ndarray) -> list[np.ndarray]:
    """x, y, w, h boxes of the foreground blobs of person size and shape (opened, then closed, components)."""
    diff = cv2.absdiff(frame, background).max(axis=2)
    mask = (diff > BG_THRESHOLD).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 9)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:]:
        if area >= MIN_BLOB_AREA and BLOB_ASPECT[0] <= h / max(w, 1) <= BLOB_ASPECT[1]:
            boxes.append(np.array([x, y, w, h], dtype=np.float64))
    return boxes


def _unambiguous_links(last: list[np.ndarray], blobs: list[np.ndarray]) -> dict[int, int]:
    """{track: blob} for pairs that overlap each other and nothing else (IoU > 0), with IoU > LINK_IOU and an area
    change within AREA_JUMP."""
    overlap = np.array([iou(np.tile(a, (len(blobs), 1)), blobs) for a in last]).reshape(len(last), len(blobs))
    links = {}
    for i in range(len(last)):
        js = np.flatnonzero(overlap[i] > 0)
        if len(js) != 1 or np.count_nonzero(overlap[:, js[0]] > 0) != 1 or overlap[i, js[0]] <= LINK_IOU:
            continue
        ratio = blobs[js[0]][2] * blobs[js[0]][3] / (last[i][2] * last[i][3])
        if 1 / AREA_JUMP <= ratio <= AREA_JUMP:
            links[i] = int(js[0])
    return links


def background_tracks(frames: list[np.ndarray], progress: bool = False) -> list[tuple[int, np.ndarray]]:
    """Tracks of walking people in a fixed-camera video: [(first frame, (n, 4) x, y, w, h boxes)], each at least
    MIN_LENGTH frames, boxes that touch the frame border dropped (the person is partly out of view)."""
    background = np.median(np.stack(frames[::BG_SAMPLE]), axis=0).astype(np.uint8)
    H, W = frames[0].shape[:2]
    active: list[tuple[int, list[np.ndarray]]] = []
    done: list[tuple[int, list[np.ndarray]]] = []
    for t, frame in enumerate(tqdm(frames, desc="vtest: background tracks", disable=not progress)):
        blobs = [b for b in person_blobs(frame, background)
                 if b[0] > 0 and b[1] > 0 and b[0] + b[2] < W and b[1] + b[3] < H]
        links = _unambiguous_links([boxes[-1] for _, boxes in active], blobs)
        still = []
        for i, (start, boxes) in enumerate(active):
            if i in links:
                boxes.append(blobs[links[i]])
                still.append((start, boxes))
            else:
                done.append((start, boxes))
        taken = set(links.values())
        active = still + [(t, [b]) for j, b in enumerate(blobs) if j not in taken]
    done += active
    return [(start, np.array(boxes)) for start, boxes in sorted(done, key=lambda x: x[0])
            if len(boxes) >= MIN_LENGTH]


def shot_bounds(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    """[(first, end)) frame ranges between cuts (HSV histogram distance above CUT_DISTANCE)."""
    def hist(f):
        h = cv2.calcHist([cv2.cvtColor(f, cv2.COLOR_BGR2HSV)], [0, 1], None, [30, 32], [0, 180, 0, 256])
        return cv2.normalize(h, h).flatten()

    hists = [hist(f) for f in frames]
    cuts = [t for t in range(1, len(frames))
            if cv2.compareHist(hists[t - 1], hists[t], cv2.HISTCMP_BHATTACHARYYA) > CUT_DISTANCE]
    edges = [0, *cuts, len(frames)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:])]


def textured_windows(frame: np.ndarray, count: int) -> list[np.ndarray]:
    """The ``count`` non-overlapping square windows (side WINDOW x frame height, on a half-side grid, a margin of
    half a side from the border) with the most corner texture (mean smaller eigenvalue of the structure tensor:
    a window holding only a straight edge or a blurred area scores low, as it cannot be located along the edge),
    as x, y, w, h."""
    H, W = frame.shape[:2]
    side = int(WINDOW * H)
    corners = cv2.cornerMinEigenVal(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 5)
    cands = []
    for y in range(side // 2, H - side - side // 2 + 1, side // 2):
        for x in range(side // 2, W - side - side // 2 + 1, side // 2):
            cands.append((float(corners[y:y + side, x:x + side].mean()), np.array([x, y, side, side], np.float64)))
    chosen: list[np.ndarray] = []
    for _, box in sorted(cands, key=lambda c: -c[0]):
        if all(iou(box, c)[0] == 0 for c in chosen):
            chosen.append(box)
        if len(chosen) == count:
            break
    return chosen


def _csrt_run(frames: list[np.ndarray], box: np.ndarray) -> np.ndarray:
    """CSRT boxes on ``frames`` from ``box`` in the first; a lost frame repeats the last box (caught by the check)."""
    tracker = cv2.TrackerCSRT_create()
    tracker.init(frames[0], tuple(int(round(v)) for v in box))
    out = [box]
    for frame in frames[1:]:
        ok, b = tracker.update(frame)
        out.append(np.array(b, np.float64) if ok else out[-1])
    return np.array(out)


def forward_backward_tracks(frames: list[np.ndarray], progress: bool = False) -> list[tuple[int, np.ndarray]]:
    """Per shot, the most textured windows tracked forward and backward; the forward boxes of the longest stretch
    where the two runs overlap at least FB_IOU. [(first frame, (n, 4) boxes)] of at least MIN_LENGTH frames."""
    tracks = []
    for a, b in tqdm(shot_bounds(frames), desc="bikes: forward-backward tracks", disable=not progress):
        if b - a < MIN_LENGTH:
            continue
        for box in textured_windows(frames[a], WINDOWS_PER_SHOT):
            forward = _csrt_run(frames[a:b], box)
            backward = _csrt_run(frames[a:b][::-1], forward[-1])[::-1]
            agree = iou(forward, backward) >= FB_IOU
            first, n = longest_run(agree)
            if n >= MIN_LENGTH:
                tracks.append((a + first, forward[first:first + n]))
    return tracks


def longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in a 1-D bool array ((0, 0) if none)."""
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    if not len(edges):
        return 0, 0
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])


def _pieces(start: int, boxes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """A track cut into consecutive pieces of at most MAX_LENGTH frames (the last merged if it would be short)."""
    n = len(boxes)
    k = max(1, int(np.ceil(n / MAX_LENGTH)))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(start + e0, boxes[e0:e1]) for e0, e1 in zip(edges[:-1], edges[1:])]


def write_sequence(folder: Path, frames: list[np.ndarray], start: int, boxes: np.ndarray) -> None:
    """An OTB-layout sequence (img/%04d.jpg, groundtruth_rect.txt with x,y,w,h 1-based) written atomically."""
    def write(tmp: Path) -> None:
        (tmp / "img").mkdir(parents=True)
        for i in range(len(boxes)):
            cv2.imwrite(str(tmp / "img" / f"{i + 1:04d}.jpg"), frames[start + i],
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        one_based = boxes + np.array([1, 1, 0, 0])
        np.savetxt(tmp / "groundtruth_rect.txt", one_based, fmt="%.1f", delimiter=",")

    if folder.exists():
        shutil.rmtree(folder)
    atomic_write(folder, write)


LABELLERS = {"vtest": (BG_SCALE, background_tracks), "bikes": (1.0, forward_backward_tracks)}


def video_sequences(names: list[str], out_dir: str | Path, cache_dir: str | Path, progress: bool = False) -> dict:
    """Fetch and label each named video (keys of LABELLERS), write its tracks as sequences under ``out_dir`` and a
    ``manifest.json``; returns the manifest: per video its origin, frames, size and tracks (name, first frame,
    length, median box size)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    manifest = {"videos": {}}
    cv2.setNumThreads(1)
    for name in names:
        if name not in LABELLERS:
            raise DataError(f"no labeller for video {name!r}; known: {', '.join(LABELLERS)}")
        path, origin = fetch_video(name, cache_dir)
        scale, labeller = LABELLERS[name]
        frames = read_frames(path, scale)
        tracks = []
        for start, boxes in labeller(frames, progress):
            for s, piece in _pieces(start, boxes):
                seq = f"{name}_{len(tracks):03d}"
                write_sequence(out_dir / seq, frames, s, piece)
                tracks.append({"name": seq, "first_frame": s, "frames": len(piece),
                               "median_size": [float(v) for v in np.median(piece[:, 2:], axis=0)]})
        manifest["videos"][name] = {**origin, "frames": len(frames), "size": list(frames[0].shape[1::-1]),
                                    "scale": scale, "tracks": tracks}
    write_json(out_dir / "manifest.json", manifest)
    return manifest
