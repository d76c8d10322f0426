"""Repeats inside one submission: what is removed, what is only warned about, what stays."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import FingerprintConfig, MatchConfig, SplitConfig
from archiver.records import Repeat
from archiver.stages import fingerprint, split
from archiver.stages import repeats as match
from tests.conftest import near_alike_lines
from tests.test_index import P1, P2, P3, P4

FP = FingerprintConfig()
MATCH = MatchConfig()


def repeats_of(text: str) -> tuple[tuple[Repeat, ...], tuple[str, ...], str]:
    _, passages = split.split(text, SplitConfig())
    prints = fingerprint.fingerprint(passages, FP)
    found = match.find_repeats(passages, prints, MATCH, FP)
    return found, tuple(p.text for p in passages), match.remove_repeats(text, passages, found)


def edit(text: str, rate: float, seed: int) -> str:
    """Substitute ``rate`` of the Han characters with others from the same text (like the kit's edits)."""
    rng = random.Random(seed)
    chars = list(text)
    han = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
    for i in rng.sample(han, max(1, int(len(han) * rate))):
        chars[i] = rng.choice([chars[j] for j in han])
    return "".join(chars)


def test_a_block_pasted_twice_is_removed_with_its_heading_and_leaves_no_blank_line() -> None:
    body = ["一、主要工作完成情况", P1, P2, "二、下一步工作打算", P3]
    text = "\n".join(["某局2023年工作总结", *body, *body[:3]])
    found, _, kept = repeats_of(text)
    assert [r.removed for r in found] == [True, True, True]
    assert kept == "\n".join(["某局2023年工作总结", *body])


def test_an_edited_copy_is_removed_and_a_loosely_related_one_is_only_warned_about() -> None:
    lightly = edit(P1, 0.04, seed=1)
    heavily = edit(P2, 0.25, seed=2)
    found, passages, kept = repeats_of("\n".join([P1, P2, P4, lightly, heavily]))
    by_passage = {r.passage: r for r in found}
    assert by_passage[3].of == 0 and by_passage[3].removed and by_passage[3].similarity >= MATCH.remove_at
    if 4 in by_passage:  # a 25% edit lands between match_at and remove_at, or below it
        assert not by_passage[4].removed and MATCH.match_at <= by_passage[4].similarity < MATCH.remove_at
    assert lightly not in kept and heavily in kept and passages[2] in kept


def test_short_lines_that_recur_on_their_own_are_not_repeats() -> None:
    text = "\n".join(["各位代表！", P1, "各位代表！", P2, "2024年3月5日"])
    found, _, kept = repeats_of(text)
    assert found == () and kept == text


def test_unrelated_paragraphs_are_never_repeats() -> None:
    found, _, _ = repeats_of("\n".join([P1, P2, P3, P4]))
    assert found == ()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([P1, P2, P3, P4]), st.integers(0, 10**6))
def test_a_passage_always_matches_itself_at_one(paragraph: str, seed: int) -> None:
    normalised = fingerprint.normalise(edit(paragraph, 0.1, seed))
    assert match.similarity(normalised, normalised, FP) == 1.0
    other = P1 if paragraph != P1 else P2
    found, _, _ = repeats_of("\n".join([paragraph, other, paragraph]))
    assert found == (Repeat(2, 0, 1.0, removed=True),)


def test_a_warned_repeat_stays_and_its_warning_points_into_the_archived_text() -> None:
    from archiver.config import Config
    from archiver.records import Processed, Submission
    from archiver.stages.process import process_submission

    heavily = edit(P2, 0.13, seed=0)  # an LSH candidate (J ≈ 0.5) with edit similarity ≈ 0.87
    text = "\n".join(["某局2023年工作总结", P1, P1, P2, P4, heavily])
    raw = text.encode("utf-8")
    outcome = process_submission(Submission(Path("x.txt"), "a/2023/x.txt", raw, "0", "a", 2023), Config())
    assert isinstance(outcome, Processed)
    warned = [w for w in outcome.warnings if w.kind == "near_repeat"]
    assert len(warned) == 1 and heavily in outcome.text and outcome.text.count(P1) == 1
    assert outcome.text[warned[0].start : warned[0].end] == warned[0].text == heavily


def test_a_file_of_thousands_of_alike_lines_costs_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = near_alike_lines(600, seed=3)
    _, passages = split.split("\n".join(lines), SplitConfig())
    prints = fingerprint.fingerprint(passages, FP)
    capped = MatchConfig(max_candidates=10)
    calls = 0
    real = match._similarity

    def counting(*args: object) -> float:
        nonlocal calls
        calls += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(match, "_similarity", counting)
    found = match.find_repeats(passages, prints, capped, FP)
    # Unbounded, every line would be compared with the ≈ half of the earlier ones it shares a
    # band with (≈ 90,000 comparisons); bounded, at most ten per line.
    assert 0 < calls <= len(passages) * capped.max_candidates
    assert any(not r.removed for r in found), "alike lines are still warned about"


def test_the_bound_never_changes_what_is_found_in_an_ordinary_report() -> None:
    reports = sorted(Path(__file__).parent.parent.joinpath("samples").rglob("*.txt"))
    assert reports
    for path in reports:
        text = path.read_bytes().decode("utf-8", errors="replace")
        _, passages = split.split(text, SplitConfig())
        prints = fingerprint.fingerprint(passages, FP)
        bounded = match.find_repeats(passages, prints, MATCH, FP)
        unbounded = match.find_repeats(passages, prints, MatchConfig(max_candidates=10**6), FP)
        assert bounded == unbounded, path


def _short_repeats_by_fixpoint(short: list[Repeat], removed: list[Repeat]) -> set[int]:
    """The rule spelled out: keep adding short repeats next to a removed passage until none is."""
    gone = {r.passage for r in removed if r.removed}
    pending = {r.passage for r in short}
    taken: set[int] = set()
    while True:
        near = {p for p in pending - taken if p - 1 in gone or p + 1 in gone}
        if not near:
            return taken
        taken |= near
        gone |= near


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("slkw"), max_size=60))
def test_short_repeats_inside_removed_blocks_follow_the_rule(kinds: list[str]) -> None:
    # s: a short exact repeat, l: a removed long repeat, k: a kept passage, w: a warned repeat.
    short = [Repeat(i, 0, 1.0, removed=True) for i, k in enumerate(kinds) if k == "s"]
    long = [
        Repeat(i, 0, 0.95 if k == "l" else 0.6, removed=k == "l") for i, k in enumerate(kinds) if k in "lw"
    ]
    found = match._in_repeated_blocks(short, long)
    assert {r.passage for r in found} == _short_repeats_by_fixpoint(short, long)


def test_thousands_of_short_repeats_beside_a_removed_block_all_go() -> None:
    found, _, kept = repeats_of("\n".join([P1, *["同意。"] * 3000, P1]))
    assert sum(r.removed for r in found) == 3000  # the second P1 and 2,999 of the 3,000 lines
    assert kept.count("同意。") == 1 and kept.count(P1) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=4, max_size=4), min_size=1, max_size=12))
def test_a_passage_shares_a_key_exactly_when_another_has_it_in_the_same_band(rows: list[list[int]]) -> None:
    keys = np.array(rows, dtype=np.int64)
    expected = [
        any(
            other != mine and rows[other][band] == rows[mine][band]
            for other in range(len(rows))
            for band in range(4)
        )
        for mine in range(len(rows))
    ]
    assert match.shares_a_key(keys) == expected
