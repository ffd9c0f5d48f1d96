"""lab.polling.poll: the one polling loop (results, retried errors, the deadline's error)."""

from __future__ import annotations

import itertools

import pytest

from lab.polling import poll


def test_returns_the_first_result_done_accepts():
    answers = iter([None, [], 0, ["ready"]])
    assert poll(lambda: next(answers), timeout=5, what="x", interval=0) == ["ready"]
    counts = itertools.count()
    assert poll(lambda: next(counts), timeout=5, what="x", interval=0, done=lambda n: n >= 3) == 3


def test_retried_errors_count_as_not_yet_and_are_named_at_the_deadline():
    def refused() -> bool:
        raise ConnectionRefusedError("port 9732 refused")

    with pytest.raises(TimeoutError, match=r"waiting for the exporter .*port 9732 refused"):
        poll(refused, timeout=0.05, what="the exporter", interval=0.01)


def test_other_errors_propagate_at_once():
    def broken() -> bool:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        poll(broken, timeout=30, what="x", interval=0.01)


def test_the_deadline_raises_the_callers_error_with_the_last_result():
    class Late(Exception):
        pass

    with pytest.raises(Late, match=r"waiting for streaming \(last: 'catchup'\)"):
        poll(
            lambda: "catchup",
            timeout=0.05,
            what="streaming",
            interval=0.01,
            done=lambda s: s == "streaming",
            error=Late,
        )
