"""Tests for archiver.stages._memo: the bounded memo of recent results."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.stages._memo import LruMemo


def test_the_least_recently_used_entry_is_forgotten_first() -> None:
    memo: LruMemo[str, int] = LruMemo(2)
    memo.remember({"a": 1, "b": 2})
    assert memo.found(["a", "z"]) == {"a": 1}  # "a" is now the most recent
    memo.remember({"c": 3})
    assert memo.found(["a", "b", "c"]) == {"a": 1, "c": 3}
    memo.remember({"a": 10})
    assert memo.found(["a"]) == {"a": 10} and len(memo) == 2


def test_a_memo_of_no_capacity_holds_nothing_and_a_negative_one_is_refused() -> None:
    memo: LruMemo[str, int] = LruMemo(0)
    memo.remember({"a": 1})
    assert len(memo) == 0 and memo.found(["a"]) == {}
    with pytest.raises(ValueError, match="capacity"):
        LruMemo(-1)


@given(st.lists(st.lists(st.integers(0, 20), max_size=6), max_size=30), st.integers(0, 8))
@settings(max_examples=200, deadline=None)
def test_it_holds_exactly_the_most_recently_used_keys(calls: list[list[int]], capacity: int) -> None:
    memo: LruMemo[int, int] = LruMemo(capacity)
    recency: list[int] = []  # the model: the keys held, most recent last
    for keys in calls:
        found = memo.found(keys)
        assert found == {k: k * k for k in keys if k in recency}
        memo.remember({k: k * k for k in keys})
        for key in dict.fromkeys(keys):
            if key in recency:
                recency.remove(key)
            recency.append(key)
        recency = recency[-capacity:] if capacity else []
        assert len(memo) == len(recency)
