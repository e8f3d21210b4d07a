"""Submission layouts of the benchmarks whose test ground truth is withheld (evaluation-protocols.md sections 2, 3).

GOT-10k test (got-10k toolkit ``ExperimentGOT10k._record`` / ``report``)::

    <folder>/<tracker>/<seq>/<seq>_001.txt   x,y,w,h per frame, comma-separated, 3 decimals (_002, _003: more runs)
    <folder>/<tracker>/<seq>/<seq>_time.txt  seconds per frame, 8 decimals, one column per run
    <folder>/<tracker>.zip                   the tracker folder's content (entries ``<seq>/<seq>_001.txt`` ...),
                                             as the toolkit's ``compress('.', '../<tracker>')``

TrackingNet TEST (TrackingNet-devkit README / ``metrics.py``, which reads every ``*.txt`` of the zip and matches
it to the annotation by file name)::

    <folder>/<tracker>/<seq>.txt             x,y,w,h per frame, comma-separated, 3 decimals
    <folder>/<tracker>.zip                   entries ``<seq>.txt`` at the zip's root

Boxes are written as given (GOT-10k and TrackingNet files are 0-based; frame 1 holds the initial box).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from ..io import atomic_write, write_text

Run = tuple[np.ndarray, np.ndarray | None]  # (boxes (N, 4), seconds per frame (N,) or None)


def _rows(values: np.ndarray, fmt: str) -> str:
    buf = io.StringIO()
    np.savetxt(buf, values, fmt=fmt, delimiter=",")
    return buf.getvalue()


def _runs(name: str, value) -> list[Run]:
    """One sequence's runs as a list of (boxes, times); a single (boxes, times) pair is accepted."""
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], tuple):
        value = [value]
    runs = []
    for k, (boxes, times) in enumerate(value, start=1):
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
            raise ValueError(f"sequence {name!r} run {k}: expected an (N, 4) array of boxes, "
                             f"got shape {list(boxes.shape)}")
        if times is not None:
            times = np.asarray(times, dtype=np.float64).reshape(-1)
            if len(times) != len(boxes):
                raise ValueError(f"sequence {name!r} run {k}: {len(times)} frame times for {len(boxes)} boxes")
        runs.append((boxes, times))
    if not runs:
        raise ValueError(f"sequence {name!r}: no run to write")
    return runs


def _check_name(kind: str, name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"{kind} name {name!r} cannot be used as a file name")


def _checked(runs: dict, tracker_name: str):
    """(sequence, its runs) in name order, after checking that every name can be a file name."""
    _check_name("tracker", tracker_name)
    for name, value in sorted(runs.items()):
        _check_name("sequence", name)
        yield name, _runs(name, value)


def _zip(path: Path, entries: dict[str, str]) -> Path:
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for arcname, text in entries.items():
                z.writestr(arcname, text)
    return atomic_write(path, write)


def _write_layout(folder: str | Path, tracker_name: str, entries: dict[str, str]) -> dict:
    """The entries as files under `<folder>/<tracker_name>/` and as `<folder>/<tracker_name>.zip`."""
    root = Path(folder) / tracker_name
    for arcname, text in entries.items():
        write_text(root / arcname, text)
    zip_path = _zip(Path(folder) / f"{tracker_name}.zip", entries)
    return {"folder": str(root), "zip": str(zip_path), "files": sorted(entries)}


def write_got10k_submission(runs: dict, folder: str | Path, tracker_name: str) -> dict:
    """Write the GOT-10k test layout for ``runs`` = {sequence: (boxes, seconds per frame) or a list of such runs}.

    Returns {'folder', 'zip', 'files'} (``files``: the zip's entries, sorted).
    """
    entries: dict[str, str] = {}
    for name, seq_runs in _checked(runs, tracker_name):
        if len(seq_runs) > 999:
            raise ValueError(f"sequence {name!r}: {len(seq_runs)} runs, at most 999 fit the _NNN names")
        for k, (boxes, _) in enumerate(seq_runs, start=1):
            entries[f"{name}/{name}_{k:03d}.txt"] = _rows(boxes, "%.3f")
        times = [t for _, t in seq_runs if t is not None]
        if times:
            if len({len(t) for t in times}) != 1:
                raise ValueError(f"sequence {name!r}: runs of different lengths cannot share one time file")
            entries[f"{name}/{name}_time.txt"] = _rows(np.stack(times, axis=1), "%.8f")
    return _write_layout(folder, tracker_name, entries)


def write_trackingnet_submission(runs: dict, folder: str | Path, tracker_name: str) -> dict:
    """Write the TrackingNet TEST layout for ``runs`` = {sequence: (boxes, seconds per frame)} (one run each).

    Returns {'folder', 'zip', 'files'} (``files``: the zip's entries, sorted).
    """
    entries: dict[str, str] = {}
    for name, seq_runs in _checked(runs, tracker_name):
        if len(seq_runs) != 1:
            raise ValueError(f"sequence {name!r}: TrackingNet takes one run per sequence, got {len(seq_runs)}")
        entries[f"{name}.txt"] = _rows(seq_runs[0][0], "%.3f")
    return _write_layout(folder, tracker_name, entries)
