"""Waiting for a condition under a deadline: the one polling loop of the lab, its product stack,
the benchmarks and the tests (each used to have its own, with its own idea of a timeout)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    done: Callable[[T], bool] = bool,
    retry_on: tuple[type[Exception], ...] = (OSError, ValueError),
    error: Callable[[str], Exception] = TimeoutError,
) -> T:
    """Call `check` until `done` accepts its result (by default: a truthy one) and return it.

    An exception of `retry_on` counts as "not yet" (a daemon still starting refuses connections);
    any other propagates. After `timeout` seconds, raises `error(message)`: the message names
    `what`, the last result and the last exception.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    result: T | None = None
    while True:
        try:
            result = check()
        except retry_on as exc:
            last_error = exc
        else:
            if done(result):
                return result
        if time.monotonic() >= deadline:
            last = f"last error: {last_error}" if last_error else f"last: {result!r}"[:300]
            raise error(f"timed out after {timeout:g}s waiting for {what} ({last})")
        time.sleep(interval)
