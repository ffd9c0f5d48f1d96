"""Waiting for the product stack on 127.0.0.1, and its error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.polling import poll


class StackError(RuntimeError):
    """A daemon did not start, did not get ready, or answered an API call with an error."""


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; StackError after `timeout` seconds (a
    daemon's refusal or error answer meanwhile counts as not ready yet)."""
    return poll(
        check,
        timeout=timeout,
        what=what,
        interval=interval,
        retry_on=(OSError, ValueError, StackError),
        error=StackError,
    )
