"""One configuration base: every stage's attrs config reads and writes plain data (YAML) the same way.

:class:`ConfigBase` gives an attrs class ``from_dict`` and ``to_dict``:
unknown keys and values of the wrong type are refused with one
:class:`~behaviorlab.errors.SchemaError` that names the section and the key
(and the file, when the caller says which), and the class's own validators
are reported the same way.  :func:`fits_type` and :func:`type_name` are the
one check of a plain value against a declared type, used by the project
configuration's sections too.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from behaviorlab.errors import SchemaError

__all__ = ["ConfigBase", "check_section", "duration_seconds", "fits_type", "type_name"]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?)([hms])")


def duration_seconds(value: Any) -> float | None:
    """Seconds of a duration: a number of seconds, or text such as ``"90s"``, ``"30m"``, ``"1.5h"``, ``"1h30m"``.

    >>> duration_seconds("1h30m"), duration_seconds("45s"), duration_seconds(120), duration_seconds(None)
    (5400.0, 45.0, 120.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"a duration must be a number of seconds or text like 30m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"cannot read {value!r} as a duration; write it like 90s, 30m, 1.5h or 1h30m")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def fits_type(value: Any, tp: Any) -> bool:
    """Whether a plain (YAML) value fits the declared type ``tp`` of a config field.

    Scalars are checked strictly (``bool`` is not a number, a string is not a
    number); sequences are only checked to be sequences, their converters and
    validators check the rest.  ``dict`` asks for a mapping, ``list`` and
    ``Sequence[...]`` for a list, ``Literal[...]`` for one of its values.
    """
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return any(fits_type(value, arg) for arg in typing.get_args(tp))
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is dict or origin is dict:
        return isinstance(value, Mapping)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is list or origin in (list, Sequence, typing.get_origin(Sequence[int])):
        return isinstance(value, list | tuple)
    if origin is tuple or tp is tuple:
        return isinstance(value, str | list | tuple)
    return True


def type_name(tp: Any) -> str:
    """Name a declared type in the user's terms (YAML): ``int or null``, ``a list``, ``'a' or 'b'``."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_name(arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if tp is dict or origin is dict:
        return "a mapping"
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if tp in (list, tuple) or origin in (list, tuple, Sequence, typing.get_origin(Sequence[int])):
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def check_section(name: str, data: Any, field_types: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """Check one section of plain data against ``field_types`` (key -> declared type).

    Returns the section as a plain dict (tuples as lists); ``None`` is an
    empty section.  Raises :class:`SchemaError` naming ``where`` (the file),
    the section and the key for a non-mapping, an unknown key or a value of
    the wrong type.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SchemaError(
            f"{_prefix(where)}section {name!r} must be a mapping of option names to values, got {data!r:.80}"
        )
    unknown = sorted(set(map(str, data)) - set(field_types))
    if unknown:
        raise SchemaError(
            f"{_prefix(where)}unknown key(s) {unknown} in section {name!r}; known keys: {sorted(field_types)}"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        tp = field_types[key]
        if tp is not None and not fits_type(value, tp):
            raise SchemaError(f"{_prefix(where)}{name}.{key} must be {type_name(tp)}, got {value!r:.80}")
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigBase):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class ConfigBase:
    """Mixin for the attrs config classes of the stages: ``from_dict`` / ``to_dict`` of plain data.

    A subclass sets ``section`` (its name in a project's YAML, used in
    errors).  A field whose type is another :class:`ConfigBase` subclass is
    read from a nested mapping.  Fields with a converter are not type-checked
    here: the converter takes what it can and raises for the rest.
    """

    section: ClassVar[str] = "config"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, where: str | None = None) -> Any:
        """Build from plain data (a YAML section); ``None`` gives the defaults.

        Raises
        ------
        SchemaError
            Unknown keys, values of the wrong type, or values the class's own
            validators refuse; the message names ``where`` (the file), the
            section and the key.
        """
        attrs.resolve_types(cls)
        fields = {f.name: f for f in attrs.fields(cls)}
        # a field with a converter takes what its converter takes (``"1e-3"`` for a float, as YAML reads it)
        declared = {k: None if f.converter is not None else f.type for k, f in fields.items()}
        plain = check_section(cls.section, data, declared, where)
        for key, value in plain.items():
            nested = fields[key].type
            if isinstance(nested, type) and issubclass(nested, ConfigBase) and isinstance(value, Mapping):
                plain[key] = nested.from_dict(value, where=where)
        try:
            return cls(**plain)
        except SchemaError as err:
            raise SchemaError(f"{_prefix(where)}section {cls.section!r}: {err}") from None
        except (TypeError, ValueError) as err:  # the class's own converters and validators
            raise SchemaError(f"{_prefix(where)}section {cls.section!r}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (tuples as lists, nested configs as mappings): ``from_dict(to_dict())`` gives it back."""
        return {f.name: _plain(getattr(self, f.name)) for f in attrs.fields(type(self))}
