"""The one way a configuration section is checked: types from the dataclass's annotations, domain rules from each
field's metadata.

A configuration class is a dataclass that inherits `Section` and names its params.yaml section in `SECTION`.
Constructing it, by hand or through `build` from a params.yaml mapping, coerces and checks every field:

- the annotation gives the type (`int`, `float`, `bool`, `str`, `list`, `tuple`, `dict`); ints are accepted for floats,
  lists for tuples, and nothing else is converted;
- `field(metadata=...)` adds the domain rules: `min` / `max` (inclusive bounds of a number), `choices` (allowed values),
  `length` (of a list or tuple) and `check` (a function value -> message or None, for structured values).

Errors are `ConfigError`s that name `section.key` and the offending value in plain Python literals.
"""
from __future__ import annotations

import dataclasses
import typing

from .errors import ConfigError


def plain(value):
    """A value as plain Python (numpy scalars and arrays become floats, ints and lists) for messages and JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# annotation -> (accepts a value?, what the error calls it, conversion)
_TYPES = {
    bool: (lambda v: isinstance(v, bool), "true/false", bool),
    int: (lambda v: _is_number(v) and isinstance(v, int), "an integer", int),
    float: (_is_number, "a number", float),
    str: (lambda v: isinstance(v, str), "a string", str),
    list: (lambda v: isinstance(v, (list, tuple)), "a list", list),
    tuple: (lambda v: isinstance(v, (list, tuple)), "a list", tuple),
    dict: (lambda v: isinstance(v, dict), "a mapping", dict),
}


def _coerce(value, hint, where: str):
    """Check `value` against a type hint and return it in that type; raise ConfigError naming `where`."""
    origin = typing.get_origin(hint) or hint
    if origin not in _TYPES:
        return value
    accepts, what, convert = _TYPES[origin]
    value = plain(value)
    if not accepts(value):
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    return convert(value)


def _apply_rules(value, rules: typing.Mapping, where: str) -> None:
    """The metadata rules of one field."""
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{where}: expected one of {list(rules['choices'])}, got {value!r}")
    if "min" in rules and value < rules["min"]:
        raise ConfigError(f"{where}: expected a value >= {rules['min']}, got {value!r}")
    if "max" in rules and value > rules["max"]:
        raise ConfigError(f"{where}: expected a value <= {rules['max']}, got {value!r}")
    if "length" in rules and len(value) != rules["length"]:
        raise ConfigError(f"{where}: expected {rules['length']} values, got {value!r}")
    if "check" in rules:
        problem = rules["check"](value)
        if problem:
            raise ConfigError(f"{where} = {value!r}: {problem}")


class Section:
    """Mixin of configuration dataclasses: fields are coerced and checked when the object is made."""

    SECTION: typing.ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            where = f"{self.SECTION or type(self).__name__}.{f.name}"
            value = _coerce(getattr(self, f.name), hints[f.name], where)
            _apply_rules(value, f.metadata, where)
            object.__setattr__(self, f.name, value)


def build(cls, values: dict | None, section: str | None = None):
    """Make configuration dataclass `cls` from a params.yaml mapping; unknown keys are rejected by name."""
    section = section or cls.SECTION
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"params section {section!r} must be a mapping, got {plain(values)!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"params section {section!r}: unknown key(s) {unknown}; known: {sorted(names)}")
    return cls(**values)
