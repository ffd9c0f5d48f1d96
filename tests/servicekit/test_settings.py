"""servicekit.settings: typed settings from YAML, every problem reported at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml

from servicekit.config import ConfigError
from servicekit.settings import Settings, parse_settings, setting


def _even(value: int, _: object) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


def _under_base(value: Path, context: Mapping[str, Any]) -> Path:
    return Path(context["base"]) / value


class Inner(Settings):
    name: str = setting(default="x", min_length=1)
    size: Annotated[int, _even] = 2


class Sample(Settings):
    flag: bool = True
    count: int = setting(default=3, ge=1, le=10)
    ratio: float = setting(default=0.5, gt=0)
    path: Path | None = None
    mode: Literal["a", "b"] = "a"
    names: list[str] = setting(default_factory=list)
    labels: dict[str, str] = setting(default_factory=dict)
    inner: Inner = setting(default_factory=Inner)
    relative: Path = setting(default=Path("/"), check=_under_base)

    def problems(self) -> list[str]:
        return ["count must exceed ratio"] if self.count <= self.ratio else []


class Required(Settings):
    needed: str
    optional: int | None = None


def parse(cls: type[Settings], text: str) -> Any:
    return parse_settings(cls, yaml.safe_load(text), "sample.yml", {"base": Path("/base")})


def errors(cls: type[Settings], text: str) -> list[str]:
    with pytest.raises(ConfigError) as failure:
        parse(cls, text)
    assert str(failure.value).startswith(f"sample.yml: {len(failure.value.errors)} error(s)")
    return failure.value.errors


def test_defaults_and_values_are_typed_and_frozen() -> None:
    assert parse(Sample, "") == Sample()
    got = parse(
        Sample,
        """
        flag: false
        count: 10
        ratio: 2          # an int where a float is wanted is a float
        path: /var/cfengine
        mode: b
        names: [hub1, hub2]
        labels: {10.0.0.1: hub1}
        inner: {name: y, size: 4}
        relative: sub/file
        """,
    )
    assert got == Sample(
        flag=False, count=10, ratio=2.0, path=Path("/var/cfengine"), mode="b",
        names=["hub1", "hub2"], labels={"10.0.0.1": "hub1"}, inner=Inner(name="y", size=4),
        relative=Path("/base/sub/file"),
    )  # fmt: skip
    assert isinstance(got.ratio, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.count = 1
    assert parse(Sample, "path: null").path is None


def test_every_problem_at_once_with_its_path() -> None:
    assert errors(
        Sample,
        """
        flags: true
        flag: "yes"
        count: 0
        ratio: 0
        path: ""
        mode: c
        names: [a, 1, b, 2.5]
        labels: {a: 1}
        inner: {name: "", size: 3, colour: red}
        """,
    ) == [
        "flags: not a setting here (known: flag, count, ratio, path, mode, names, labels, inner, "
        "relative)",
        "flag: must be true or false",
        "count: must be at least 1",
        "ratio: must be greater than 0",
        "path: must be a path",
        "mode: must be one of a, b",
        "names.1: must be a string",
        "names.3: must be a string",
        "labels.a: must be a string",
        "inner.colour: not a setting here (known: name, size)",
        "inner.name: must have at least 1 character(s)",
        "inner.size: must be even",
    ]


def test_no_string_is_read_as_a_number_or_a_flag() -> None:
    assert errors(Sample, "count: '3'\nratio: '0.5'\nflag: 1\ncount2: x") == [
        "count2: not a setting here (known: flag, count, ratio, path, mode, names, labels, "
        "inner, relative)",
        "flag: must be true or false",
        "count: must be a whole number",
        "ratio: must be a number",
    ]
    assert errors(Sample, "count: true\nratio: false") == [
        "count: must be a whole number",
        "ratio: must be a number",
    ]
    assert errors(Sample, "count: 2.5") == ["count: must be a whole number"]


def test_rules_across_fields_run_once_the_fields_are_valid() -> None:
    assert errors(Sample, "count: 1\nratio: 1.5") == ["(top level): count must exceed ratio"]
    # a field problem first: the rule across fields is not judged on a half-read section
    assert errors(Sample, "count: 1\nratio: 1.5\nflag: 3") == ["flag: must be true or false"]


def test_required_settings_and_shapes() -> None:
    assert parse(Required, "needed: x") == Required(needed="x")
    assert errors(Required, "optional: 1") == ["needed: required"]
    assert errors(Required, "[a, b]") == ["(top level): must be a mapping of settings"]
    assert errors(Sample, "inner: 3\nnames: a\nlabels: [a]") == [
        "names: must be a list",
        "labels: must be a mapping",
        "inner: must be a mapping of settings",
    ]


def test_a_type_it_cannot_read_is_a_programming_error() -> None:
    class Odd(Settings):
        when: complex = 1j

    with pytest.raises(TypeError, match="not supported"):
        parse(Odd, "when: 1")
