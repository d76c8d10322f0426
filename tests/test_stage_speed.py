"""The fast paths of the per-submission stages give exactly what the plain definitions give.

Each test compares a shortcut (issue 5) with the straightforward form it replaced, on
hypothesis-generated text drawn from the characters that make the shortcuts delicate:
full-width forms, combining marks, Hangul jamo, compatibility ideographs, Traditional
characters that t2s changes alone or only in phrases, non-BMP Han, newlines.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import CleanConfig, FingerprintConfig, SplitConfig
from archiver.records import Change, Fingerprint, Passage
from archiver.stages import _pinyin, checks, clean, fingerprint, origin, risky, shingle, split

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

_DELICATE = (
    "中国发展報告後沈深瞭解著眼甦醒彷彿藉覆么俱哩坏衹"  # Simplified, Traditional, t2s phrase triggers
    "，。：；（）！？、　ＡＢｃ１２＿－"  # full-width punctuation, letters, digits, ideographic space
    "aZ_ -.,()\t"  # ASCII
    "é\u0301\u0308\u0327\u3099\u309a"  # precomposed and combining marks, kana voicing marks
    "\u1100\u1161\u11a8가ﬁßİ①㈠Ⅱ…\u2028"  # jamo, Hangul, ligature, case folding, circled/parenthesised
    "\uf900\uf92c豈\U00020000\U0002f800\U0002a6d6"  # compatibility ideographs, non-BMP Han
)
_TEXT = st.text(alphabet=st.sampled_from(_DELICATE), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(_DELICATE + "\n"), max_size=30), max_size=8))
def test_normalise_many_is_normalise_of_each(texts: list[str]) -> None:
    assert shingle.normalise_many(texts) == [shingle.normalise(t) for t in texts]


def test_normalise_many_on_known_cases() -> None:
    texts = ["深沈的ＡＢＣ，", "", "著眼於發展", "e\u0301\u0327x", "\u1100\u1161\u11a8", "ｘ＿ｙ①"]
    assert shingle.normalise_many(texts) == [shingle.normalise(t) for t in texts]
    assert shingle.normalise_many(texts)[0] == "深沉的abc"  # t2s phrase 深沈 → 深沉, casefold, 「，」 gone
    assert shingle.normalise_many([]) == []


def test_fold_table_maps_only_to_own_decompositions() -> None:
    """The premise that makes the fold exact: c → d only where NFKD(c) is the single d."""
    table = shingle._fold_table()
    mapped = [c for c in range(0x10000) if table[c] != c]
    assert len(mapped) > 1000 and table[ord("，")] == ord(",") and table[ord("\u3000")] == ord(" ")
    for c in mapped:
        d = chr(int(table[c]))
        assert unicodedata.normalize("NFKD", chr(c)) == d
        assert unicodedata.normalize("NFKD", d) == d


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_folding_keeps_nfkc(text: str) -> None:
    table = shingle._fold_table()
    folded = "".join(chr(int(table[ord(c)])) if ord(c) < 0x10000 else c for c in text)
    assert unicodedata.normalize("NFKC", folded) == unicodedata.normalize("NFKC", text)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus) not present")
def test_normalise_many_on_real_lines() -> None:
    lines = []
    for path in sorted((SHARED / "corpus" / "seed").glob("*"))[:5]:
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(lines) > 10
    assert shingle.normalise_many(lines) == [shingle.normalise(t) for t in lines]


def _apply_plain(
    text: str, edits: list[tuple[int, int, str]], kind: str, step: str
) -> tuple[str, list[Change]]:
    """``clean._apply`` with the dataclass's own ``__init__``."""
    made, pos, parts = [], 0, []
    for start, end, after in edits:
        before = text[start:end]
        what = "newline" if kind == "invisible" and before.startswith("\r") else kind
        made.append(Change(kind=what, step=step, start=start, end=end, before=before, after=after))
        parts += [text[pos:start], after]
        pos = end
    return "".join([*parts, text[pos:]]), made


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("發展a\r\n\u200b"), max_size=30),
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 2), st.text(alphabet="发x\n", max_size=2)), max_size=8
    ),
    st.sampled_from(["invisible", "t2s"]),
)
def test_fast_changes_are_changes(text: str, steps: list[tuple[int, int, str]], kind: str) -> None:
    edits, pos = [], 0
    for gap, width, after in steps:
        start = min(pos + gap, len(text))
        end = min(start + width, len(text))
        edits.append((start, end, after))
        pos = end
    fast, plain = clean._apply(text, edits, kind, "script"), _apply_plain(text, edits, kind, "script")
    assert fast == plain
    assert [hash(c) for c in fast[1]] == [hash(c) for c in plain[1]]
    assert [repr(c) for c in fast[1]] == [repr(c) for c in plain[1]]
    assert pickle.dumps(fast[1]) == pickle.dumps(plain[1])
    assert all(type(c) is Change for c in fast[1])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from(_DELICATE + "中国发展"), max_size=40), max_size=6),
    st.integers(1, 30),
)
def test_fast_fingerprints_are_fingerprints(texts: list[str], min_chars: int) -> None:
    config = FingerprintConfig(min_chars=min_chars)
    passages = [Passage(i, "para" if i % 3 else "heading", 0, len(t), t, 0) for i, t in enumerate(texts)]
    fast = fingerprint.fingerprint(passages, config)
    plain = []
    for p in passages:
        normalised = shingle.normalise(p.text)
        signed = fingerprint.reusable(p.kind, len(normalised), min_chars)
        plain.append(
            Fingerprint(
                passage=p.index,
                exact=fingerprint.exact_hash(normalised),
                normalised_chars=len(normalised),
                signature=fingerprint.signatures([normalised], config)[0] if signed else None,
                normalised=normalised,
                anchors=fingerprint.anchor_bytes([normalised])[0] if signed else b"",
            )
        )
    assert list(fast) == plain
    assert [(hash(f), repr(f)) for f in fast] == [(hash(f), repr(f)) for f in plain]
    assert [pickle.dumps(f) for f in fast] == [pickle.dumps(f) for f in plain]
    assert all(type(f) is Fingerprint for f in fast)


def test_apply_reports_line_ends_as_newline() -> None:
    text, made = clean._apply("a\r\nb\u200bc", [(1, 3, "\n"), (4, 5, "")], "invisible", "invisible")
    assert text == "a\nbc"
    assert [(c.kind, c.before) for c in made] == [("newline", "\r\n"), ("invisible", "\u200b")]


_CHECK_TEXT = st.text(alphabet=st.sampled_from("中文字12ab.．%，。 xX×Ｘ＿_○0年个\n"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(_CHECK_TEXT, st.integers(min_value=1, max_value=6))
def test_unpunctuated_run_pattern_matches_the_plain_one(text: str, limit: int) -> None:
    plain = re.compile(f"[{checks._HAN}0-9A-Za-z%％.．]{{{limit + 1},}}")
    fast = checks._unpunctuated_run(limit)
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


_PLACEHOLDER_PLAIN = re.compile(
    r"(?<![A-Za-z0-9])20[xX]{2}(?![A-Za-z])|(?<![A-Za-z])[xX]{2,}(?=[年月日个万元人次件项家名%％])"
    r"|[×Ｘ]{2,}|[＿_]{2,}|(?<![一二三四五六七八九十百〇零○])○{2,}(?![一二三四五六七八九十百〇零])"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("20xX×Ｘ＿_○一九〇年个ab中\n"), max_size=40))
def test_placeholder_pattern_matches_the_plain_one(text: str) -> None:
    fast = [m.span() for m in checks._PLACEHOLDER.finditer(text)]
    assert fast == [m.span() for m in _PLACEHOLDER_PLAIN.finditer(text)]


@settings(max_examples=400, deadline=None)
@given(_CHECK_TEXT)
def test_placeholder_precheck_never_hides_a_placeholder(text: str) -> None:
    if checks._PLACEHOLDER.search(text):
        assert checks._MAYBE_PLACEHOLDER.search(text)


def _heading_plain(line: str) -> tuple[int, str] | None:
    for level, pattern in split._HEADINGS:
        m = pattern.match(line)
        if m:
            return level, (f"（{m.group(1)}）" if level in (2, 4) else m.group(1))
    return None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("第一二三十百零〇两部分章节、．. （()）1２٣ 　标题\n"), max_size=12))
def test_heading_precheck_and_section_ends(text: str) -> None:
    for line in text.split("\n"):
        assert split.heading_of(line) == _heading_plain(line)
    sections = split._sections(text)
    for i, sec in enumerate(sections):
        later = [s.start for s in sections[i + 1 :] if s.level <= max(sec.level, 1)]
        assert sec.end == (later[0] if later else len(text))


_TABLE_TEXT = st.text(alphabet=st.sampled_from("规章文件中表12390年万.，\n"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(_TABLE_TEXT)
def test_flattened_table_pattern_matches_the_plain_one(text: str) -> None:
    plain = re.compile(f"(?:{checks._CELL}){{2,}}")
    assert [m.span() for m in checks._FLAT_TABLE.finditer(text)] == [m.span() for m in plain.finditer(text)]


@settings(max_examples=400, deadline=None)
@given(_TABLE_TEXT)
def test_flattened_table_precheck_never_hides_a_table(text: str) -> None:
    if checks._FLAT_TABLE.search(text):
        assert checks._MAYBE_TABLE.search(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["一、标题", "（二）小标题", "正文" * 40, "三、", "\n"]), max_size=12))
def test_flattened_counts_the_headings_inside_a_line(pieces: list[str]) -> None:
    text = "".join(pieces)
    sections = split._sections(text)
    found = {w.start: w.message for w in checks._flattened(text, sections)}
    for m in checks._LINE.finditer(text):
        if len(m.group()) >= split.FLAT_LINE:
            inside = sum(1 for s in sections if s.level and m.start() < s.start < m.end())
            assert (f"({inside} headings found inside it)" in found[m.start()]) == bool(inside)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\n中"), max_size=40))
def test_lines_are_the_breaks_counted(text: str) -> None:
    lines = origin.Lines(text)
    assert [lines.of(pos) for pos in range(len(text) + 2)] == [
        text.count("\n", 0, pos) + 1 for pos in range(len(text) + 2)
    ]


def _step_map_plain(edits: list[tuple[int, int, int]]) -> tuple[list[int], ...]:
    in_start, in_end, out_start, out_end, shift = [], [], [], [], 0
    for start, end, size in edits:
        in_start.append(start)
        in_end.append(end)
        out_start.append(start + shift)
        out_end.append(start + shift + size)
        shift += size - (end - start)
    return in_start, in_end, out_start, out_end


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=12))
def test_step_map_columns_are_the_plain_ones(gaps: list[tuple[int, int]]) -> None:
    edits, pos = [], 0
    for gap, size in gaps:
        edits.append((pos + gap, pos + gap + (size % 2), size))
        pos += gap + (size % 2)
    m = origin.StepMap.of(edits)
    assert (m.in_start, m.in_end, m.out_start, m.out_end) == _step_map_plain(edits)


def test_origin_groups_changes_by_step_in_any_order() -> None:
    _, changes, _ = clean.clean_text(
        "　　見微知著, 著眼於未來(2024)\r\n\u200b標誌著成就", CleanConfig(traditional="always")
    )
    assert len({c.step for c in changes}) >= 3
    by_step_reversed = sorted(changes, key=lambda c: -clean.STEPS.index(c.step))
    ordered, shuffled = origin.Origin(changes), origin.Origin(by_step_reversed)
    for m, again, step in zip(ordered.steps, shuffled.steps, clean.STEPS, strict=True):
        edits = [(c.start, c.end, len(c.after)) for c in changes if c.step == step]
        plain = _step_map_plain(edits)
        assert (m.in_start, m.in_end, m.out_start, m.out_end) == plain
        assert (again.in_start, again.in_end, again.out_start, again.out_end) == plain


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("一、标题。正文，（二）\n 　下载 打印ab"), max_size=80),
    st.integers(3, 20),
)
def test_fast_passages_are_passages(text: str, limit: int) -> None:
    _, fast = split.split(text, SplitConfig(max_passage_chars=limit))
    plain = tuple(Passage(p.index, p.kind, p.start, p.end, p.text, p.section) for p in fast)
    assert fast == plain
    assert [(hash(p), repr(p), pickle.dumps(p)) for p in fast] == [
        (hash(p), repr(p), pickle.dumps(p)) for p in plain
    ]
    assert all(type(p) is Passage for p in fast)


def _maps(o: origin.Origin) -> list[tuple[list[int], ...]]:
    return [(m.in_start, m.in_end, m.out_start, m.out_end) for m in [*o.steps, o.removal]]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("見微知著(zhù) 著眼,\r\n\u200b　標誌"), max_size=30),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=3),
)
def test_shared_origin_is_the_plain_one(texts: list[str], gaps: list[tuple[int, int]]) -> None:
    removed, pos = [], 0
    for gap, width in gaps:
        removed.append((pos + gap, pos + gap + width))
        pos += gap + width
    config = CleanConfig(traditional="always")
    made = [clean.clean_text(t, config)[1] for t in texts]
    for changes in made:
        got = origin.Origin.shared(changes, removed)
        assert _maps(got) == _maps(origin.Origin(changes, removed))
        assert origin.Origin.shared(changes, removed) is got  # the same tuple: built once
        assert origin.Origin.shared(changes, removed, last_use=True) is got
        assert id(changes) not in origin._SHARED  # forgotten at its last use
        if removed:  # other removals: built again
            assert _maps(origin.Origin.shared(changes, removed[:-1])) == _maps(
                origin.Origin(changes, removed[:-1])
            )
    equal_copy = tuple(list(made[0]))
    assert _maps(origin.Origin.shared(equal_copy, removed)) == _maps(origin.Origin(made[0], removed))
    for _ in range(origin.SHARED + 1):  # bounded: the oldest go
        origin.Origin.shared(tuple(list(made[0])), [])
    assert len(origin._SHARED) <= origin.SHARED


_SCRIPT_CHARS = "见微知著乾坤乾隆後來發展著眼於昇騰濛溪河干后发\U00020000，。\n"  # risky forms in known words
_SCRIPT_TEXT = st.text(alphabet=st.sampled_from(_SCRIPT_CHARS), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_SCRIPT_TEXT)
def test_keep_known_looks_only_at_risky_places_the_conversion_changed(text: str) -> None:
    converted = _pinyin.convert(clean.SCRIPT_CONVERTER, text)
    if len(converted) != len(text):
        return
    every_change = (i for start, end, _ in clean._diff(text, converted) for i in range(start, end))
    assert clean._keep_known(text, converted) == risky.keep_known(text, converted, every_change)


def test_keep_known_restores_a_known_word() -> None:
    assert clean._keep_known("见微知著，乾坤", "见微知着，干坤") == "见微知著，乾坤"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=50), st.integers(1, 50))
def test_window_argmin_is_the_first_least_of_each_window(values: list[int], w: int) -> None:
    w = min(w, len(values))
    array = np.array(values, dtype=np.uint32)
    plain = np.lib.stride_tricks.sliding_window_view(array, w).argmin(axis=1) + np.arange(len(values) - w + 1)
    assert fingerprint.window_argmin(array, w).tolist() == plain.tolist()
