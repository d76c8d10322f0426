"""split: cleaned text → sections (GB/T 9704 heading levels) and passages (paragraphs).

``split(text, config) -> (sections, passages)``; ``title_of(passages) -> str``.

Sections: a line that starts with a heading number opens a section of its level —
1 ``一、`` (also ``一．``, ``一 标题``, ``第一部分``/``第一章``/``第一节``), 2 ``（一）``/``(一)``,
3 ``1.``/``1．``/``1、``, 4 ``（1）``/``(1)``. A section runs from its heading line's start to the
start of the next section of the same or a higher level (or the text end). ``sections[0]`` is
always the level-0 preamble, from 0 to the first level-1 heading (empty when the text starts with
one), so the level-0 and level-1 sections tile the text exactly.

Passages: one per non-empty line, kind "title" (the first line when it reads like a title),
"heading" (a numbered line of ≤ 30 characters), "meta" (short lines without 。 after the last
paragraph: signature, date, （此页无正文）) or "para". A paragraph longer than
``config.max_passage_chars`` is cut at sentence ends into pieces of about equal size, none longer
than the limit. ``Passage.section`` is the index of the deepest section containing its start.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator

from archiver.config import SplitConfig
from archiver.records import Passage, PassageKind, Section

_CN = "一二三四五六七八九十"
_HEADINGS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(f"第([{_CN}百零〇两\\d]+)(?:部分|章|节)")),
    (1, re.compile(f"([{_CN}]{{1,3}})(?:[、．.]|[ \u3000]+(?=\\S))")),
    (2, re.compile(f"[（(]([{_CN}]{{1,3}})[)）]")),
    (3, re.compile(r"(\d{1,2})[.．、](?!\d)")),
    (4, re.compile(r"[（(](\d{1,2})[)）]")),
)
# Every character a pattern of _HEADINGS can start with (\\d as in pattern 3: any decimal digit).
_HEADING_START = re.compile(f"[第{_CN}（(\\d]")
_LINE = re.compile(r"[^\n]+")
_SENTENCE_END = re.compile(r"[。！？；][”’」』）)]*")
_CLAUSE_END = re.compile(r"[，、：,:][”’」』]*")
_TITLE_WORDS = re.compile("报告|总结|决议|计划|通知|公告|方案|意见|决定|办法|规划|要点")
_SENTENCE_PUNCT = re.compile("[。！？；]")
_HEADING_MAX = 30
_META_MAX = 40


def heading_of(line: str) -> tuple[int, str] | None:
    """(level, number) when ``line`` starts with a heading number, else None."""
    if not _HEADING_START.match(line):  # most lines: one character test instead of five patterns
        return None
    for level, pattern in _HEADINGS:
        m = pattern.match(line)
        if m:
            number = m.group(1)
            return level, (f"（{number}）" if level in (2, 4) else number)
    return None


def split(text: str, config: SplitConfig) -> tuple[tuple[Section, ...], tuple[Passage, ...]]:
    """The sections and passages of the cleaned ``text`` (spans index ``text``)."""
    sections = _sections(text)
    return sections, _passages(text, sections, config.max_passage_chars)


def title_of(passages: tuple[Passage, ...] | list[Passage]) -> str:
    """The text of the title passage; else the first passage's text; "" for none."""
    for p in passages:
        if p.kind == "title":
            return p.text
    return passages[0].text if passages else ""


def _sections(text: str) -> tuple[Section, ...]:
    heads: list[tuple[int, str, str, int]] = [(0, "", "", 0)]
    for m in _LINE.finditer(text):
        found = heading_of(m.group())
        if found:
            heads.append((found[0], found[1], m.group(), m.start()))
    # From the last heading back: nearest[v] is the start of the nearest later heading of
    # level v, so a section ends at the nearest later one of its level or higher (levels ≤ 4).
    nearest = [len(text)] * 5
    ends: list[int] = []
    for level, _, _, start in reversed(heads):
        ends.append(min(nearest[: max(level, 1) + 1]))
        nearest[level] = start
    return tuple(
        Section(level=level, number=number, heading=heading, start=start, end=end)
        for (level, number, heading, start), end in zip(heads, reversed(ends), strict=True)
    )


def _passages(text: str, sections: tuple[Section, ...], limit: int) -> tuple[Passage, ...]:
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text) if m.group().strip()]
    kinds = _kinds([text[s:e] for s, e in lines])
    starts = [s.start for s in sections]
    out: list[Passage] = []
    for (start, end), kind in zip(lines, kinds, strict=True):
        pieces = _cut(text, start, end, limit) if kind == "para" else [(start, end)]
        for s, e in pieces:
            section = max(bisect.bisect_right(starts, s) - 1, 0)
            out.append(Passage(index=len(out), kind=kind, start=s, end=e, text=text[s:e], section=section))
    return tuple(out)


def _kinds(lines: list[str]) -> list[PassageKind]:
    """The kind of each non-empty line (see the module docstring)."""
    kinds: list[PassageKind] = [
        "heading" if heading_of(line) and len(line) <= _HEADING_MAX else "para" for line in lines
    ]
    if lines and kinds[0] == "para" and _looks_like_title(lines[0]):
        kinds[0] = "title"
    for i in range(len(lines) - 1, 0, -1):
        if kinds[i] != "para" or not _looks_like_meta(lines[i]):
            break
        kinds[i] = "meta"
    return kinds


def _looks_like_title(line: str) -> bool:
    short = len(line) <= _META_MAX and not _SENTENCE_PUNCT.search(line)
    return short or (len(line) <= 80 and bool(_TITLE_WORDS.search(line)) and "。" not in line)


def _looks_like_meta(line: str) -> bool:
    return len(line) <= _META_MAX and "。" not in line


def _cut(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """``text[start:end]`` in pieces of about equal size ≤ ``limit``, cut after sentence ends."""
    if end - start <= limit:
        return [(start, end)]
    sentence = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    clause = [m.end() for m in _CLAUSE_END.finditer(text, start, end)]
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        ideal = start + (end - start) / math.ceil((end - start) / limit)
        cut = _best(sentence, start, limit, ideal) or _best(clause, start, limit, ideal) or start + limit
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _best(bounds: list[int], start: int, limit: int, ideal: float) -> int | None:
    """The boundary in (start, start + limit] nearest ``ideal``, or None."""
    lo, hi = bisect.bisect_right(bounds, start), bisect.bisect_right(bounds, start + limit)
    near = [bounds[i] for i in _around(bisect.bisect_left(bounds, ideal), lo, hi)]
    return min(near, key=lambda b: abs(b - ideal)) if near else None


def _around(i: int, lo: int, hi: int) -> Iterator[int]:
    """Indices i-1 and i clipped to [lo, hi)."""
    for j in (i - 1, i):
        if lo <= j < hi:
            yield j
