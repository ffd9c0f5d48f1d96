"""Polling with a deadline, and the error of the product stack on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class StackError(RuntimeError):
    """A daemon did not start, did not get ready, or answered an API call with an error."""


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; StackError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, StackError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}: {last_error}")
        time.sleep(interval)
