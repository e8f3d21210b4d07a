"""Exceptions raised on bad input.

Every message names the offending file (and line, where there is one) and the value found, so that a user with a
broken benchmark folder knows exactly what to fix instead of getting a silent wrong number later.
"""
from __future__ import annotations


class AutoMatchError(Exception):
    """Base class of the library's own errors."""


class DataError(AutoMatchError, ValueError):
    """A data file is missing, unreadable or malformed (frames, ground truth, list files)."""


class ConfigError(AutoMatchError, ValueError):
    """A parameter has the wrong type, an unknown key or an out-of-range value."""


class BoxError(AutoMatchError, ValueError):
    """A bounding box is degenerate or lies outside the image."""
