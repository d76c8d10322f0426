"""split: cleaned text → sections (GB/T 9704 heading levels) and passages (paragraphs).

``split(text, config) -> (sections, passages)``; ``title_of(passages) -> str``.

Sections: a line that starts with a heading number opens a section of its level —
1 ``一、`` (also ``一．``, ``一 标题``, ``第一部分``/``第一章``/``第一节``), 2 ``（一）``/``(一)``,
3 ``1.``/``1．``/``1、``, 4 ``（1）``/``(1)``. A section runs from its heading line's start to the
start of the next section of the same or a higher level (or the text end). ``sections[0]`` is
always the level-0 preamble, from 0 to the first level-1 heading (empty when the text starts with
one), so the level-0 and level-1 sections tile the text exactly.

Passages: one per non-empty line, kind "chrome" (web-page leftovers: 下载 打印 【字号：大 中 小】,
原文链接：…, breadcrumbs, URLs, a news portal's 新华社北京3月14日电 / 《 人民日报 》（ … 01 版）
lines and photo captions; never fingerprinted, so never counted as reuse), "title" (the first
line that is not chrome when it reads like a title and is not a salutation such as 同志们：, else
the first of the next few that ends in a document type such as 报告/总结/情况), "heading" (a
numbered line of ≤ 30 characters), "meta" (short lines without 。 after the last paragraph:
signature, date, （此页无正文）) or "para". A paragraph longer than
``config.max_passage_chars`` is cut at sentence ends into pieces of about equal size, none longer
than the limit. ``Passage.section`` is the index of the deepest section containing its start.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator

from archiver.config import SplitConfig
from archiver.records import Passage, PassageKind, Section, built

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
# A title ends in the document type, maybe followed by a bracketed note: …工作报告（摘要）.
_TITLE_END = re.compile(
    "(?:报告|总结|情况|决议|计划|通知|公告|方案|意见|决定|办法|规划|要点|纪要|讲话|说明|年报|公报)"
    r"(?:[（(][^）)]{1,12}[）)])?\s*$"
)
_SALUTATION = re.compile(r"^.{1,12}[:：!！]\s*$")  # 同志们： 各位代表！
TITLE_LINES = 8  # the title is looked for among the first lines that are not page chrome

# Web-page leftovers: a line of buttons and switches, a metadata line, a breadcrumb, a URL.
_CHROME_TOKEN = (
    "下载|打印|全屏|收藏|关闭|关闭窗口|分享|分享到|返回|返回顶部|顶部|字号|大|中|小|默认|"
    "微信|微博|QQ空间|QQ|扫一扫|打印本页|关闭本页|我要纠错|纠错|繁體|繁体|简体|无障碍|保存|"
    "复制链接|链接|在手机上打开|视力保护色|朗读"
)
_CHROME_BUTTONS = re.compile(
    rf"^[\s【】\[\]|｜:：/·•>＞]*(?:(?:{_CHROME_TOKEN})[\s【】\[\]|｜:：/·•>＞]*){{2,}}$"
)
_CHROME_META = re.compile(
    r"^\s*(?:原文链接|原文地址|来源|信息来源|文章来源|发布机构|发文机关|发布时间|发布日期|成文日期|"
    r"索引号|主题分类|主题词|文号|发文字号|浏览次数|访问次数|阅读次数|点击数|责任编辑|编辑|作者|"
    r"当前位置|您当前的位置|您的位置|所在位置)\s*[:：]"
)
_CHROME_CRUMBS = re.compile(r"^\s*首页\s*[>＞》→/]")
_CHROME_URL = re.compile(r"^\s*(?:https?://|www\.)\S+\s*$")
# What a news portal's copy of a report carries around it: the agency's dateline (新华社北京3月14日电),
# the newspaper and page it was printed on (《 人民日报 》（ 2021年03月13日 01 版）) and the
# caption of the photo above it (…作《政府工作报告》。 新华社记者姚大伟摄).
_CHROME_DATELINE = re.compile(r"^\s*[（(]?新华社[^，。：\n]{0,16}[电讯][）)]?\s*$")
_CHROME_PRINTED = re.compile(r"^\s*[（(]?《\s*[^》\n]{2,12}?\s*》\s*[（(]?[\d\s年月日第至]+版?\s*[）)]*\s*$")
_CHROME_CAPTION = re.compile(r"记者[^\S\n]*[\u4e00-\u9fff][\u4e00-\u9fff\s]{0,5}摄\s*$")
CHROME_MAX = 120  # a longer line is text, whatever it starts with
# A line this long is a report flattened into one line: level-1 headings (一、二、…, in order,
# each after a sentence end) are looked for inside it too.
FLAT_LINE = 3000
_INLINE_HEADING = re.compile(f"(?<=[。！？；])[^\\S\n]*([{_CN}]{{1,3}})、")
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
    """The text of the title passage; else the first passage's that is neither page chrome nor a
    salutation (同志们：) when it is a line a title could be (no 。, at most 80 characters); else ""."""
    for p in passages:
        if p.kind == "title":
            return p.text
    plain = next((p.text for p in passages if p.kind != "chrome" and not _SALUTATION.search(p.text)), "")
    return plain if len(plain) <= 80 and "。" not in plain else ""


def _sections(text: str) -> tuple[Section, ...]:
    heads: list[tuple[int, str, str, int]] = [(0, "", "", 0)]
    for m in _LINE.finditer(text):
        found = heading_of(m.group())
        if found:
            heads.append((found[0], found[1], m.group(), m.start()))
        if len(m.group()) >= FLAT_LINE:
            heads.extend(_inline_headings(text, m.start(), m.end()))
    heads.sort(key=lambda head: head[3])
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


def _inline_headings(text: str, start: int, end: int) -> Iterator[tuple[int, str, str, int]]:
    """Level-1 headings inside a flattened line: 一、 then 二、 … in order, each after a sentence end;
    the heading runs to the next sentence end."""
    expected = 1
    for m in _INLINE_HEADING.finditer(text, start, end):
        if _CN.find(m.group(1)) + 1 != expected or len(m.group(1)) != 1:
            continue
        stop = _SENTENCE_PUNCT.search(text, m.end(), min(end, m.end() + _HEADING_MAX))
        heading_end = stop.end() if stop else min(end, m.end() + _HEADING_MAX)
        expected += 1
        yield 1, m.group(1), text[m.start(1) : heading_end], m.start(1)


def _passages(text: str, sections: tuple[Section, ...], limit: int) -> tuple[Passage, ...]:
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text) if m.group().strip()]
    kinds = _kinds([text[s:e] for s, e in lines])
    starts = [s.start for s in sections]
    out: list[Passage] = []
    for (start, end), kind in zip(lines, kinds, strict=True):
        pieces = _cut(text, start, end, limit) if kind == "para" else [(start, end)]
        for s, e in pieces:
            section = max(bisect.bisect_right(starts, s) - 1, 0)
            fields: dict[str, object] = {
                "index": len(out),
                "kind": kind,
                "start": s,
                "end": e,
                "text": text[s:e],
                "section": section,
            }
            out.append(built(Passage, fields))  # every line of every file: without ``__init__``
    return tuple(out)


def is_chrome(line: str) -> bool:
    """True for a web-page leftover line: buttons and switches (下载 打印 【字号：大 中 小】),
    a metadata line (原文链接：…, 发布机构：…), a breadcrumb (首页 > …), a bare URL, a news
    agency's dateline, the newspaper page a text was printed on, or a photo caption."""
    if len(line) > CHROME_MAX:
        return False
    return bool(
        _CHROME_BUTTONS.match(line)
        or _CHROME_META.match(line)
        or _CHROME_CRUMBS.match(line)
        or _CHROME_URL.match(line)
        or _CHROME_DATELINE.match(line)
        or _CHROME_PRINTED.match(line)
        or _CHROME_CAPTION.search(line)
    )


def _kinds(lines: list[str]) -> list[PassageKind]:
    """The kind of each non-empty line (see the module docstring)."""
    kinds: list[PassageKind] = [
        "chrome"
        if is_chrome(line)
        else "heading"
        if heading_of(line) and len(line) <= _HEADING_MAX
        else "para"
        for line in lines
    ]
    title = _title_line(lines, kinds)
    if title is not None:
        kinds[title] = "title"
    for i in range(len(lines) - 1, 0, -1):
        if kinds[i] == "chrome":
            continue
        if kinds[i] != "para" or not _looks_like_meta(lines[i]):
            break
        kinds[i] = "meta"
    return kinds


def _title_line(lines: list[str], kinds: list[PassageKind]) -> int | None:
    """The title: the first line that is not chrome when it reads like a title, else the first
    of the first ``TITLE_LINES`` such lines that ends in a document type (…工作报告)."""
    near = [i for i, kind in enumerate(kinds) if kind != "chrome"][:TITLE_LINES]
    if near and kinds[near[0]] == "para" and _looks_like_title(lines[near[0]]):
        return near[0]
    for i in near:
        line = lines[i]
        if kinds[i] == "para" and len(line) <= 80 and _TITLE_END.search(line) and "。" not in line:
            return i
    return None


def _looks_like_title(line: str) -> bool:
    if _SALUTATION.search(line):
        return False
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
