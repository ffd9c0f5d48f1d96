"""Field configuration shared by the cfha dashboards: colours, thresholds, value mappings,
per-column overrides, and the table transformations the panels use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from exporter.registry import all_metric_specs  # the exporter's declarations: source of truth

# Grafana's named colours: the palette every panel uses, so that red always means "act".
OK, WARN, BAD, INFO, MUTED = "green", "orange", "red", "blue", "text"

Steps = Sequence[tuple[float | None, str]]


@dataclass(frozen=True)
class Column:
    """Per-column settings of a table (a field override by name)."""

    name: str
    unit: str | None = None
    mappings: Sequence[model.ValueMapping] = ()
    steps: Steps = ()
    width: int | None = None


# -- field configuration ---------------------------------------------------------------------


def thresholds(steps: Steps) -> dash.ThresholdsConfig:
    """Absolute thresholds; the first step's value must be None (the base colour)."""
    if not steps or steps[0][0] is not None:
        raise ValueError("thresholds start with a base step (None, colour)")
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def value_map(options: Mapping[str, tuple[str, str]]) -> model.ValueMap:
    """Exact values (numbers as text, or label values) to (display text, colour)."""
    return model.ValueMap(
        options={
            value: model.ValueMappingResult(text=text, color=color, index=index)
            for index, (value, (text, color)) in enumerate(options.items())
        }
    )


def nan_map(text: str, color: str) -> model.SpecialValueMap:
    return model.SpecialValueMap(
        options=model.DashboardSpecialValueMapOptions(
            match=model.SpecialValueMatch.NA_N,
            result=model.ValueMappingResult(text=text, color=color),
        )
    )


def flag_map(one: tuple[str, str], zero: tuple[str, str]) -> model.ValueMap:
    """A 0/1 series shown as words."""
    return value_map({"1": one, "0": zero})


def column_properties(column: Column) -> list[model.DynamicConfigValue]:
    props = []
    if column.unit is not None:
        props.append(model.DynamicConfigValue(id_val="unit", value=column.unit))
    if column.mappings:
        props.append(model.DynamicConfigValue(id_val="mappings", value=list(column.mappings)))
    if column.steps:
        props.append(
            model.DynamicConfigValue(id_val="thresholds", value=thresholds(column.steps).build())
        )
    if column.width is not None:
        props.append(model.DynamicConfigValue(id_val="custom.width", value=column.width))
    return props


# -- transformations -------------------------------------------------------------------------


def merge() -> model.DataTransformerConfig:
    """Join the tables of several instant queries on their common label columns."""
    return model.DataTransformerConfig(id_val="merge", options={})


def organize(
    rename: Mapping[str, str], hide: Iterable[str] = ("Time",)
) -> model.DataTransformerConfig:
    """Rename columns, hide others (Time by default), and order them as `rename` lists them."""
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(hide, True),
            "renameByName": dict(rename),
            "indexByName": {name: index for index, name in enumerate(rename)},
        },
    )


def matrix(row: str, column: str, value: str = "Value") -> model.DataTransformerConfig:
    """One table row per `row` label value, one column per `column` label value."""
    return model.DataTransformerConfig(
        id_val="groupingToMatrix",
        options={"rowField": row, "columnField": column, "valueField": value, "emptyValue": "null"},
    )


# -- declared states -------------------------------------------------------------------------


def declared_states(metric: str) -> tuple[str, ...]:
    """The states the exporter declares for a state-set metric (KeyError if it has none)."""
    for _collector, specs in all_metric_specs():
        for spec in specs:
            if spec.name == metric and spec.states:
                return spec.states
    raise KeyError(f"{metric} is not a state set the exporter declares")


def state_map(metric: str, shown: Mapping[str, tuple[str, str]]) -> model.ValueMap:
    """Label values of a state set to (text, colour); every key must be a declared state, so
    that a renamed state breaks the build instead of silently losing its colour."""
    unknown = set(shown) - set(declared_states(metric))
    if unknown:
        raise KeyError(f"{metric} declares no state(s) {sorted(unknown)}")
    return value_map(shown)
