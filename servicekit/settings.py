"""Typed settings read from YAML: frozen dataclasses, checked up front, every problem at once.

A subclass of `Settings` is a frozen, keyword-only dataclass (type checkers see it as one, PEP 681).
`parse_settings` turns the YAML mapping into it and reports each problem as 'dotted.path: message'
in one `ConfigError`; unknown keys are errors, so a typo never silently falls back to a default.

Why not pydantic, which the remediator uses: the exporter runs on every hub beside PostgreSQL, with
a memory goal of 60 MB, and pydantic is about 8 MiB of its resident memory for a few dozen scalar
settings. This covers what the exporter's settings use: bool, int, float, str, Path, None, Literal,
list, dict, nested settings, `Annotated[T, check]`, and per-field bounds.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, dataclass_transform

from servicekit.config import ConfigError

Check = Callable[[Any, Mapping[str, Any]], Any]
"""A field check: (value, context) -> the value to keep; raises ValueError with the problem."""


def setting(
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
    description: str = "",
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    check: Check | None = None,
) -> Any:
    """A field with a default, bounds (gt/ge/le on numbers, min_length on strings) and a check."""
    metadata: dict[str, Any] = {"description": description, "gt": gt, "ge": ge, "le": le}
    metadata |= {"min_length": min_length, "check": check}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(setting,))
class Settings:
    """Base of a settings section. Override `problems` for rules across fields."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    def problems(self) -> list[str]:
        """Problems across fields, checked once every field is valid on its own."""
        return []


S = TypeVar("S", bound=Settings)


def parse_settings(
    cls: type[S], data: Any, source: str, context: Mapping[str, Any] | None = None
) -> S:
    """`data` (YAML, None: all defaults) as `cls`, or ConfigError listing every problem.

    `context` is passed to every field check (for example the directory relative paths start in).
    """
    reader = _Reader(context or {})
    parsed: S = reader.section(cls, {} if data is None else data, "")
    if reader.errors or parsed is _MISSING:
        raise ConfigError(source, reader.errors)
    return parsed


_MISSING: Any = object()
"""What a reader returns for a value it could not read (the problem is in its `errors`)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# YAML gives bool, int, float and str already: no string is read as a number or a flag.
_SCALARS: dict[type, tuple[Callable[[Any], bool], Callable[[Any], Any], str]] = {
    bool: (lambda v: isinstance(v, bool), bool, "must be true or false"),
    int: (lambda v: _is_number(v) and isinstance(v, int), int, "must be a whole number"),
    float: (_is_number, float, "must be a number"),
    str: (lambda v: isinstance(v, str), str, "must be a string"),
    Path: (lambda v: isinstance(v, str) and v != "", Path, "must be a path"),
}


class _Reader:
    """One reading of a settings tree: collects every problem instead of stopping at the first."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self.errors: list[str] = []

    def section(self, cls: type[Settings], data: Any, path: str) -> Any:
        """`data` as `cls`, or _MISSING with the problems recorded."""
        if not isinstance(data, Mapping):
            return self.fail(path or "(top level)", "must be a mapping of settings")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        hints = typing.get_type_hints(cls, include_extras=True)
        before = len(self.errors)
        for key in data:
            if key not in fields:
                self.fail(_join(path, key), f"not a setting here (known: {', '.join(fields)})")
        values = {}
        for name, field in fields.items():
            if name in data:
                value = self.value(hints[name], data[name], _join(path, name))
                if value is not _MISSING:
                    values[name] = self.bounded(field, value, _join(path, name))
            elif _required(field):
                self.fail(_join(path, name), "required")
        if len(self.errors) > before:
            return _MISSING
        parsed = cls(**values)
        for problem in parsed.problems():
            self.fail(path or "(top level)", problem)
        return parsed

    def value(self, kind: Any, value: Any, path: str) -> Any:
        """`value` as `kind`, or _MISSING with the problem recorded."""
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is typing.Annotated:
            converted = self.value(args[0], value, path)
            for check in args[1:]:
                if converted is not _MISSING:
                    converted = self.checked(check, converted, path)
            return converted
        if origin in (Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            (inner,) = [arg for arg in args if arg is not type(None)]
            return self.value(inner, value, path)
        return self.typed(kind, value, path)

    def typed(self, kind: Any, value: Any, path: str) -> Any:
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if isinstance(kind, type) and issubclass(kind, Settings):
            return self.section(kind, value, path)
        if origin is list:
            return self.list_of(args[0], value, path)
        if origin is dict:
            return self.dict_of(args, value, path)
        if origin is Literal:
            ok = value in args and not isinstance(value, bool)
            return value if ok else self.fail(path, f"must be one of {', '.join(map(str, args))}")
        if kind not in _SCALARS:
            raise TypeError(f"{path}: settings of type {kind!r} are not supported")
        accepts, convert, expected = _SCALARS[kind]
        return convert(value) if accepts(value) else self.fail(path, expected)

    def list_of(self, kind: Any, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            return self.fail(path, "must be a list")
        items = [self.value(kind, item, f"{path}.{i}") for i, item in enumerate(value)]
        return _MISSING if _MISSING in items else items

    def dict_of(self, kinds: tuple[Any, ...], value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            return self.fail(path, "must be a mapping")
        pairs = [
            (self.value(kinds[0], k, f"{path}.{k}.[key]"), self.value(kinds[1], v, f"{path}.{k}"))
            for k, v in value.items()
        ]
        return _MISSING if any(_MISSING in pair for pair in pairs) else dict(pairs)

    def bounded(self, field: dataclasses.Field[Any], value: Any, path: str) -> Any:
        bounds = field.metadata
        if value is None:
            return value
        if bounds.get("gt") is not None and not value > bounds["gt"]:
            self.fail(path, f"must be greater than {bounds['gt']:g}")
        if bounds.get("ge") is not None and not value >= bounds["ge"]:
            self.fail(path, f"must be at least {bounds['ge']:g}")
        if bounds.get("le") is not None and not value <= bounds["le"]:
            self.fail(path, f"must be at most {bounds['le']:g}")
        if bounds.get("min_length") is not None and len(value) < bounds["min_length"]:
            self.fail(path, f"must have at least {bounds['min_length']} character(s)")
        if bounds.get("check") is not None:
            return self.checked(bounds["check"], value, path)
        return value

    def checked(self, check: Check, value: Any, path: str) -> Any:
        try:
            return check(value, self.context)
        except ValueError as exc:
            return self.fail(path, str(exc))

    def fail(self, path: str, message: str) -> Any:
        self.errors.append(f"{path}: {message}")
        return _MISSING


def _required(field: dataclasses.Field[Any]) -> bool:
    no_default = field.default is dataclasses.MISSING
    return no_default and field.default_factory is dataclasses.MISSING


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
