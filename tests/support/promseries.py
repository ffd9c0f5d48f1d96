"""promtool's input series notation, read far enough to tell when a series is visible.

A promtool unit test gives each input series as `metric{labels}` and a values string in the
expanding notation: `1 2 3`, `a+bxn` / `a-bxn` (a, then n more samples stepping by b), `axn`
(n + 1 times a), `_` / `_xn` (one / n missing samples), `stale` (a staleness marker). Sample i
is at i * interval. `visible(values, interval, t)` says whether a query at t sees the series: its
latest sample at or before t is a value (not a staleness marker) no older than the lookback.

Pure functions; `SeriesError` for notation they cannot read.
"""

from __future__ import annotations

import re

LOOKBACK_SECONDS = 300.0  # Prometheus' default query lookback delta (5m)

VALUE, MISSING, STALE = "value", "missing", "stale"

_UNSIGNED = r"(?:Inf|NaN|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_NUMBER = rf"[-+]?{_UNSIGNED}"
_EXPANDING = re.compile(rf"{_NUMBER}(?:[-+]{_UNSIGNED})?x(?P<n>\d+)")
_SINGLE = re.compile(_NUMBER)
_MISSING = re.compile(r"_(?:x(?P<n>\d+))?")
_NAME = re.compile(r"\s*(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)")


class SeriesError(ValueError):
    """A series or values string that is not promtool's notation."""


def metric_name(series: str) -> str:
    """The metric name of `name{labels}`."""
    match = _NAME.match(series)
    if match is None:
        raise SeriesError(f"no metric name in {series!r}")
    return match.group("name")


def expand(values: str) -> list[str]:
    """One kind per sample step: VALUE, MISSING or STALE."""
    out: list[str] = []
    for item in values.split():
        if item == "stale":
            out.append(STALE)
        elif match := _MISSING.fullmatch(item):
            out.extend([MISSING] * int(match.group("n") or 1))
        elif match := _EXPANDING.fullmatch(item):
            out.extend([VALUE] * (int(match.group("n")) + 1))
        elif _SINGLE.fullmatch(item):
            out.append(VALUE)
        else:
            raise SeriesError(f"cannot read {item!r} in {values!r}")
    return out


def visible(values: str, interval: float, at: float) -> bool:
    """Whether a query at `at` seconds sees the series (interval: seconds between samples)."""
    if interval <= 0:
        raise SeriesError("the interval must be positive")
    kinds = expand(values)
    last = min(len(kinds) - 1, int(at // interval))
    for step in range(last, -1, -1):
        if kinds[step] == MISSING:
            continue
        return kinds[step] == VALUE and at - step * interval <= LOOKBACK_SECONDS
    return False
