"""Panel shapes shared by the cfha dashboards, on top of grafana-foundation-sdk's builders.

Each helper returns an SDK panel builder with the datasource variable on the panel and on every
target, the unit, thresholds, value mappings (dashboards/fields.py) and a description already
set. `assemble` turns sections of panels into a dashboard with the common variables, links and
stable panel ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards.fields import MUTED, OK, Column, Steps, column_properties, thresholds

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
# The datasource dashboards/provisioning/datasources/cfha.yml creates: the variable's default.
PROVISIONED_DATASOURCE = model.VariableOption(
    selected=True, text="Prometheus (cfha)", value="cfha-prometheus"
)
CLUSTER_VARIABLE_QUERY = "label_values(cfha_exporter_build_info, cluster)"
TAG = "cfha"
GRID_WIDTH = 24

PanelBuilder = cogbuilder.Builder[model.Panel]


@dataclass(frozen=True)
class Q:
    """One PromQL target; `legend` is Grafana's legendFormat (ignored by tables)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Section:
    """A row of the dashboard with its panels (their widths fill whole 24-column lines)."""

    title: str
    panels: Sequence[PanelBuilder] = field(default_factory=tuple)


# -- targets ---------------------------------------------------------------------------------


def _ref_id(index: int) -> str:
    return chr(ord("A") + index)


def _target(query: Q, index: int, *, instant: bool, table_format: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .ref_id(_ref_id(index))
        .datasource(DATASOURCE)
        .legend_format(query.legend or "__auto")
    )
    target = target.instant() if instant else target.range()
    if table_format:
        target = target.format(PromQueryFormat.TABLE)
    return target


# -- panels ----------------------------------------------------------------------------------


class _Panel(Protocol):
    """The builder methods every panel shape below sets (the SDK's panel builders share them,
    but not a base class)."""

    def title(self, title: str, /) -> Self: ...
    def description(self, description: str, /) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef, /) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[model.ThresholdsConfig], /) -> Self: ...
    def span(self, w: int, /) -> Self: ...
    def height(self, h: int, /) -> Self: ...
    def with_target(self, target: cogbuilder.Builder[cogvariants.Dataquery], /) -> Self: ...


class _FieldPanel(_Panel, Protocol):
    """A panel that shows current values: value mappings, a no-value text, per-field overrides."""

    def mappings(self, mappings: list[model.ValueMapping], /) -> Self: ...
    def no_value(self, no_value: str, /) -> Self: ...
    def override_by_name(
        self, name: str, properties: list[model.DynamicConfigValue], /
    ) -> Self: ...


_P = TypeVar("_P", bound=_Panel)
_F = TypeVar("_F", bound=_FieldPanel)


def _framed(
    panel: _P,
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    steps: Steps,
    instant: bool,
    table_format: bool = False,
    w: int,
    h: int,
) -> _P:
    """What every panel has: title, description, the datasource variable, thresholds, its size,
    and one target per query (refIds A, B, ... in order)."""
    panel = (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .thresholds(thresholds(steps))
        .span(w)
        .height(h)
    )
    for index, query in enumerate(queries):
        panel = panel.with_target(_target(query, index, instant=instant, table_format=table_format))
    return panel


def _fields(
    panel: _F,
    *,
    mappings: Sequence[model.ValueMapping],
    no_value: str | None,
    columns: Sequence[Column],
) -> _F:
    """Mappings and the no-value text when given, and an override per column (by display name:
    the legend of a target, or a table's column)."""
    if mappings:
        panel = panel.mappings(list(mappings))
    if no_value is not None:
        panel = panel.no_value(no_value)
    for column in columns:
        panel = panel.override_by_name(column.name, column_properties(column))
    return panel


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str = "none",
    steps: Steps = ((None, OK),),
    mappings: Sequence[model.ValueMapping] = (),
    text: common.BigValueTextMode = common.BigValueTextMode.AUTO,
    color_mode: common.BigValueColorMode = common.BigValueColorMode.BACKGROUND,
    columns: Sequence[Column] = (),
    no_value: str | None = None,
    decimals: int | None = None,
    w: int = 6,
    h: int = 4,
) -> stat.Panel:
    """Current values as tiles (instant queries), coloured by thresholds or mappings."""
    panel = (
        stat.Panel()
        .unit(unit)
        .color_mode(color_mode)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(text)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    panel = _fields(panel, mappings=mappings, no_value=no_value, columns=columns)
    return _framed(panel, title, description, queries, steps=steps, instant=True, w=w, h=h)


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str = "none",
    steps: Steps = ((None, OK),),
    stacked: bool = False,
    bars: bool = False,
    colors: Mapping[str, str] | None = None,
    minimum: float | None = 0,
    w: int = 12,
    h: int = 8,
) -> timeseries.Panel:
    """Values over the dashboard's time range; thresholds drawn as dashed lines."""
    panel = (
        timeseries.Panel()
        .unit(unit)
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
                if len(steps) > 1
                else common.GraphThresholdsStyleMode.OFF
            )
        )
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .fill_opacity(60 if bars or stacked else 10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common.StackingMode.NORMAL).group("A")
        )
    for name, color in (colors or {}).items():
        panel = panel.override_by_name(
            name,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": color}
                )
            ],
        )
    return _framed(panel, title, description, queries, steps=steps, instant=False, w=w, h=h)


def table_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    transformations: Sequence[model.DataTransformerConfig] = (),
    columns: Sequence[Column] = (),
    mappings: Sequence[model.ValueMapping] = (),
    unit: str = "none",
    steps: Steps = ((None, MUTED),),
    no_value: str | None = None,
    w: int = 12,
    h: int = 8,
) -> table.Panel:
    """Current values as a table (instant queries in table format), text coloured by mappings."""
    panel = (
        table.Panel().unit(unit).cell_options(common.TableColorTextCellOptions()).show_header(True)
    )
    if transformations:
        panel = panel.transformations(list(transformations))
    panel = _fields(panel, mappings=mappings, no_value=no_value, columns=columns)
    return _framed(
        panel, title, description, queries, steps=steps, instant=True, table_format=True, w=w, h=h
    )


def state_timeline_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    mappings: Sequence[model.ValueMapping],
    w: int = 12,
    h: int = 6,
) -> statetimeline.Panel:
    """A state (mapped value) per series over the time range: who held what, and when."""
    panel = (
        statetimeline.Panel()
        .mappings(list(mappings))
        .show_value(common.VisibilityMode.AUTO)
        .merge_values(True)
        .row_height(0.8)
        .fill_opacity(80)
    )
    steps = ((None, MUTED),)
    return _framed(panel, title, description, queries, steps=steps, instant=False, w=w, h=h)


# -- the dashboard ---------------------------------------------------------------------------


def datasource_variable() -> dash.DatasourceVariable:
    return (
        dash.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
        .current(PROVISIONED_DATASOURCE)
        .description("The Prometheus that scrapes cfha-exporter (job cfha) on both hubs.")
    )


def cluster_variable() -> dash.QueryVariable:
    return (
        dash.QueryVariable("cluster")
        .label("Cluster")
        .description("The HA pair: the `cluster` label of cfha-exporter's series.")
        .datasource(DATASOURCE)
        .query(CLUSTER_VARIABLE_QUERY)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def _check_layout(section: Section) -> None:
    """Panels must fill whole lines, so that the SDK's auto-layout never leaves a gap."""
    x = 0
    for panel in section.panels:
        position = panel.build().grid_pos
        w = position.w if position is not None else GRID_WIDTH
        if x + w > GRID_WIDTH:
            raise ValueError(f"{section.title}: a panel of width {w} does not fit at x={x}")
        x = (x + w) % GRID_WIDTH
    if x != 0:
        raise ValueError(f"{section.title}: the last line is {x} of {GRID_WIDTH} columns wide")


def assemble(
    *, uid: str, title: str, description: str, sections: Sequence[Section]
) -> dash.Dashboard:
    """The dashboard: variables, links to the other cfha dashboards, rows and panels with ids
    1, 2, 3, ... in reading order (stable as long as the order of the code is)."""
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(datasource_variable())
        .with_variable(cluster_variable())
        .link(
            dash.DashboardLink("cfha dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    panel_id = 0
    for section in sections:
        _check_layout(section)
        panel_id += 1
        board = board.with_row(dash.Row(section.title).id(panel_id).collapsed(False))
        for panel in section.panels:
            panel_id += 1
            panel.build().id_val = panel_id
            board = board.with_panel(panel)
    return board
