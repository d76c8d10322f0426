"""The fast paths of a worker's archive step write exactly the bytes the plain forms wrote.

Each test compares a shortcut (issues 20/24: the workers' CPU) with the ``json.dumps`` call it
replaced: the inventories (indented, encoded in Python by the json module), the changes of the
clerk's report, and the whole ``provenance.json`` of real samples.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import __version__
from archiver.records import Change, Processed, Rejection
from archiver.stages import fingerprint, ingest, process
from archiver.stages.report import changes_json, clerk_report
from archiver.store import ocfl
from archiver.store._objects import object_files, stage_parameters
from tests.conftest import SAMPLES, make_config

# Characters JSON escapes or that UTF-8 writes in several bytes.
_TRICKY = st.text(alphabet=st.sampled_from('a中"\\/\n\t\x00\x1f\x7f\u2028é\U00020000 ：'), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TRICKY,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_TRICKY, inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=20,
)


def _plain_inventory(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_inventory_bytes_are_the_indented_json_dump(value: Any) -> None:
    assert ocfl.inventory_bytes(value) == _plain_inventory(value)


def test_inventory_bytes_of_a_real_inventory() -> None:
    inv = ocfl.new_inventory('北京市/2024/报告 "终稿".txt')
    inv, _new = ocfl.add_version(
        inv,
        {"original/a.txt": "ab" * 64, "provenance.json": "cd" * 64},
        "2026-12-07T10:00:00Z",
        "received",
        "archiver",
    )
    inv, _new = ocfl.add_version(
        inv,
        {"original/a.txt": "ef" * 64, "provenance.json": "cd" * 64},
        "2026-12-07T11:00:00Z",
        "又一次",
        "archiver",
    )
    assert ocfl.inventory_bytes(inv) == _plain_inventory(inv)
    assert b'\n  "head": "v2",\n' in ocfl.inventory_bytes(inv)


_CHANGE = st.builds(
    Change,
    kind=_TRICKY,
    step=_TRICKY,
    start=st.integers(min_value=0, max_value=10**9),
    end=st.integers(min_value=0, max_value=10**9),
    before=_TRICKY,
    after=_TRICKY,
)


def _plain_changes(changes: list[Change]) -> str:
    listed = [
        {"kind": c.kind, "step": c.step, "span": [c.start, c.end], "before": c.before, "after": c.after}
        for c in changes
    ]
    return json.dumps(listed, ensure_ascii=False, separators=(",", ":"), default=str)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CHANGE, max_size=6))
def test_changes_json_is_the_report_changes_dumped(changes: list[Change]) -> None:
    assert changes_json(changes) == _plain_changes(changes)


def test_changes_json_of_unexpected_types_is_what_json_makes_of_them() -> None:
    odd = dataclasses.replace(Change("t2s", "t2s", 0, 1, "後", "后"), start=True, end=2.5)  # type: ignore[arg-type]
    assert changes_json([odd]) == _plain_changes([odd])


def _plain_provenance(outcome: Processed | Rejection, parameters: dict[str, Any]) -> bytes:
    """``provenance.json`` as written before the shortcuts: one ``json.dumps`` of it all."""
    submission = outcome.submission
    provenance: dict[str, Any] = {
        "tool": "archiver",
        "tool_version": __version__,
        "received_as": submission.relpath,
        "sha512": submission.sha512,
        "bytes": len(submission.raw),
    }
    if isinstance(outcome, Rejection):
        provenance |= {"status": "rejected", "reason": outcome.reason, "detail": outcome.detail}
    else:
        provenance |= {"status": "archived", "parameters": parameters, "report": clerk_report(outcome)}
    return json.dumps(provenance, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def test_provenance_of_the_samples_is_the_plain_dump(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    parameters = stage_parameters(config)
    assert parameters["fingerprint"] == fingerprint.parameters(config.fingerprint)
    outcomes = [process.process_located(f, config) for f in ingest.locate([SAMPLES], config.ingest)]
    first = next(o for o in outcomes if isinstance(o, Processed))
    outcomes.append(dataclasses.replace(first, cleaned=dataclasses.replace(first.cleaned, changes=())))
    kinds = set()
    for outcome in outcomes:
        assert not isinstance(outcome, process.Unchanged)
        plain = _plain_provenance(outcome, parameters)
        # Without a report, with the coordinator's (no changes) and with the full one.
        reports: list[dict[str, Any] | None] = [None]
        if isinstance(outcome, Processed):
            reports += [clerk_report(outcome, with_changes=False), clerk_report(outcome)]
            kinds.add("changes" if outcome.cleaned.changes else "no changes")
        else:
            kinds.add("rejected")
        for report in reports:
            assert object_files(outcome, config, report)["provenance.json"] == plain
            assert object_files(outcome, config, report, parameters)["provenance.json"] == plain
    assert kinds == {"changes", "no changes", "rejected"}


def test_a_report_without_changes_is_the_report_less_its_changes(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for located in ingest.locate([SAMPLES], config.ingest):
        outcome = process.process_located(located, config)
        if isinstance(outcome, Processed):
            full = clerk_report(outcome)
            assert clerk_report(outcome, with_changes=False) == {
                k: v for k, v in full.items() if k != "changes"
            }
            assert list(clerk_report(outcome, with_changes=False)) == [k for k in full if k != "changes"]
