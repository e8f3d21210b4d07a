"""The one atomic write: every file the library produces (JSON, text, checkpoints, images) goes through `atomic_write`.

A file is written to `<name>.tmp` beside its destination and renamed over it (`os.replace`, atomic on POSIX and
Windows), so an interrupted run never leaves half a file behind, and a reader sees either the old or the new file.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable

import torch

from .validation import plain


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` and move the result to `path` (parent folders are created). Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text with '\\n' line ends."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def json_ready(value):
    """Plain Python values for JSON: numpy scalars and arrays converted, NaN and infinities as null (JSON has no
    NaN; a missing score reads as null, never as an invalid token)."""
    value = plain(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, data, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """JSON of `json_ready(data)`, newline-terminated."""
    return write_text(path, json.dumps(json_ready(data), indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n")


def read_json(path: str | Path):
    """A JSON file's content; a missing or malformed file raises an error naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None


def save_torch(path: str | Path, obj) -> Path:
    """A checkpoint (tensors, plain containers) with torch.save."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
