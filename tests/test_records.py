"""``records.built``: a record made without its ``__init__`` is the record ``__init__`` makes."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.records import Change, Fingerprint, Passage, built

_TEXT = st.text(alphabet=st.sampled_from("发展中國a\r\n\u200b"), max_size=12)
_INT = st.integers(-1, 10**6)
_FIELDS: dict[type, Any] = {
    Change: st.fixed_dictionaries(
        {"kind": _TEXT, "step": _TEXT, "start": _INT, "end": _INT, "before": _TEXT, "after": _TEXT}
    ),
    Passage: st.fixed_dictionaries(
        {
            "index": _INT,
            "kind": st.sampled_from(["title", "heading", "para", "meta", "chrome"]),
            "start": _INT,
            "end": _INT,
            "text": _TEXT,
            "section": _INT,
        }
    ),
    Fingerprint: st.fixed_dictionaries(
        {
            "passage": _INT,
            "exact": _TEXT,
            "normalised_chars": _INT,
            "signature": st.none() | st.binary(max_size=16),
            "normalised": _TEXT,
            "anchors": st.binary(max_size=8),
        }
    ),
}


@pytest.mark.parametrize("cls", list(_FIELDS))
def test_built_records_have_nothing_init_would_add(cls: type) -> None:
    # ``built`` skips ``__init__``: only sound where it would do nothing but set the fields.
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert not hasattr(cls, "__post_init__")
    assert "__slots__" not in cls.__dict__


@given(st.sampled_from(list(_FIELDS)).flatmap(lambda cls: st.tuples(st.just(cls), _FIELDS[cls])))
def test_built_is_the_record_init_makes(case: tuple[type, dict[str, Any]]) -> None:
    cls, fields = case
    names = [f.name for f in dataclasses.fields(cls)]
    assert set(names) == set(fields)  # every field
    # In declaration order, as the stages give them: a pickle holds ``__dict__`` in its order.
    fast, plain = built(cls, {name: fields[name] for name in names}), cls(**fields)
    assert type(fast) is cls
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert repr(fast) == repr(plain)
    assert pickle.dumps(fast) == pickle.dumps(plain)
    assert pickle.loads(pickle.dumps(fast)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.index = 0  # type: ignore[attr-defined]
