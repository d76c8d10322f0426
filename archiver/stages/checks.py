"""checks: pre-filing warnings for the clerk over the cleaned text; never edits.

``check(text, sections, config) -> tuple[Warning_, ...]``, sorted by position. Kinds:

- ``placeholder``: template gaps left in (``20xx年``, ``XX个``, ``××``, ``＿＿``, ``○○`` ...);
- ``no_punctuation``: more than ``config.max_unpunctuated_run`` Han characters in a row with no
  punctuation between them (the comma-loss damage);
- ``numbering``: a heading number that does not follow the previous one of its level under the
  same parent (一 then 三; （一）（二）（二）);
- ``mojibake``: ``锟斤拷``, U+FFFD, or runs of Latin-1 letters that are GBK/UTF-8 bytes misread;
- ``chrome``: a web-page leftover line (``split.is_chrome``: 下载 打印, 原文链接：…);
- ``flattened``: a line of ``split.FLAT_LINE`` characters or more, a report whose paragraph
  breaks were lost; ``flattened_table``: labels and numbers run together (规章000规范性文件898989).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Iterator, Sequence

from archiver.config import ChecksConfig
from archiver.records import Section, Warning_
from archiver.stages import split

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PLACEHOLDER = re.compile(
    # The leading lookahead (every branch starts with one of these) lets the engine skip fast:
    # without it each position tries every branch's look-behind.
    r"(?=[2xX×Ｘ＿_○])(?:"
    r"(?<![A-Za-z0-9])20[xX]{2}(?![A-Za-z])|(?<![A-Za-z])[xX]{2,}(?=[年月日个万元人次件项家名%％])"
    r"|[×Ｘ]{2,}|[＿_]{2,}"
    # ○ is also the zero of Chinese numerals (二○○○年): a run touching a numeral is a number.
    r"|(?<![一二三四五六七八九十百〇零○])○{2,}(?![一二三四五六七八九十百〇零])"
    r")"
)
_HAN_RUN = re.compile(f"[{_HAN}]+")
_MOJIBAKE = re.compile(
    "(?:锟斤拷|烫烫|屯屯)+|\ufffd+"  # GBK/VC filler patterns, replacement characters
    "|[\u00c0-\u00ff][\u0080-\u00ff]{2,}"  # UTF-8 or GBK bytes shown as Latin-1 (Ã¤Â¸, ÃÂ¼½)
    "|(?:[\u00c0-\u00ff][\u0080-\u00bf\u2018-\u203a\u0152-\u0192\u02c6-\u02dc]){2,}"  # ... or as cp1252
)
# One-character-class scans are fast; the patterns above, with their look-arounds, are not:
# run them only on texts that contain a character they could start with.
# Every placeholder match holds two of these in a row (20xx, XX, ××, ＿＿, ○○).
_MAYBE_PLACEHOLDER = re.compile("[xX×Ｘ＿_○]{2}")
_MAYBE_MOJIBAKE = re.compile("[\u00c0-\u00ff锟烫屯\ufffd]")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九", start=0)}
_LINE = re.compile(r"[^\n]+")
# A table row pasted as text: labels and numbers with nothing between them (规章000规范性文件898989);
# a number followed by a unit or a date word is ordinary prose (2023年, 300万元).
_CELL = f"[{_HAN}]{{2,}}\\d{{3,}}(?![\\d年月日号%％万亿元个件项人次余多.．])"
# A match starts only where a Han run starts: from inside a run the engine would try the rest of
# the run again (O(n²) in its length) and could only find what the run's start finds.
_FLAT_TABLE = re.compile(f"(?<![{_HAN}])(?:{_CELL}){{2,}}")
# Every table holds a cell's last three digits followed by the next cell's Han characters.
_MAYBE_TABLE = re.compile(f"\\d{{3}}(?![\\d年月日号%％万亿元个件项人次余多.．])[{_HAN}]{{2}}")


def check(text: str, sections: Sequence[Section], config: ChecksConfig) -> tuple[Warning_, ...]:
    """Every warning about ``text`` (with its ``sections`` from split), in text order."""
    found = [
        *_placeholders(text),
        *_unpunctuated(text, config.max_unpunctuated_run),
        *_numbering(sections),
        *_mojibake(text),
        *_chrome(text),
        *_flattened(text, sections),
        *_flattened_tables(text),
    ]
    return tuple(sorted(found, key=lambda w: (w.start, w.kind)))


def _warn(kind: str, message: str, m: re.Match[str], message_zh: str, advice_zh: str) -> Warning_:
    return Warning_(kind, message, m.group(), m.start(), m.end(), message_zh, advice_zh)


def _placeholders(text: str) -> Iterator[Warning_]:
    if not _MAYBE_PLACEHOLDER.search(text):
        return
    for m in _PLACEHOLDER.finditer(text):
        yield _warn(
            "placeholder",
            f"template placeholder {m.group()!r} left in: fill in the real value",
            m,
            f"模板占位符“{m.group()}”没有填写",
            "填上实际的年份、数字或名称后再归档。",
        )


def _unpunctuated(text: str, limit: int) -> Iterator[Warning_]:
    """Runs of Han characters (digits and Latin may sit inside) longer than ``limit`` without punctuation."""
    for m in _unpunctuated_run(limit).finditer(text):
        if sum(len(run) for run in _HAN_RUN.findall(m.group())) > limit:
            yield _warn(
                "no_punctuation",
                f"{len(m.group())} characters without punctuation: commas lost?",
                m,
                f"连续{len(m.group())}个字没有标点，可能丢了逗号句号",
                "对照原件补上标点。",
            )


@functools.cache
def _unpunctuated_run(limit: int) -> re.Pattern[str]:
    """Maximal runs of more than ``limit`` run characters.

    The look-behind lets a match start only where a run starts: without it the engine counts
    the rest of the run again from every position inside a run shorter than the limit.
    Matches are the same, since a greedy match always starts at the start of its run.
    """
    run = f"[{_HAN}0-9A-Za-z%％.．]"
    return re.compile(f"(?<!{run}){run}{{{limit + 1},}}")


def _mojibake(text: str) -> Iterator[Warning_]:
    if not _MAYBE_MOJIBAKE.search(text):
        return
    for m in _MOJIBAKE.finditer(text):
        found = m.group()
        if found.startswith("\ufffd"):  # from a damaged byte sequence as often as a wrong encoding
            cause = f"{len(found)} character(s) that could not be read (U+FFFD)"
            zh = f"有{len(found)}个字无法读出（显示为“\ufffd”）"
            advice = "对照原件补上这几个字。"
        else:
            cause = f"garbled text {found[:20]!r}: decoded with the wrong encoding"
            zh = f"乱码“{found[:20]}”：文件的编码可能读错了"
            advice = "核对原件；无法辨认时请报送单位以 UTF-8 重新报送。"
        yield _warn("mojibake", f"{cause}; check the original file", m, zh, advice)


def _chrome(text: str) -> Iterator[Warning_]:
    """Web-page leftover lines (``split.is_chrome``): kept, but not content."""
    for m in _LINE.finditer(text):
        if split.is_chrome(m.group()):
            yield _warn(
                "chrome",
                f"web-page leftover {m.group()[:30]!r}: not content (not the title, not reuse); delete it",
                m,
                f"网页残留“{m.group()[:30]}”：不是正文，已排除在标题和复用统计之外",
                "归档前删去这一行。",
            )


def _flattened(text: str, sections: Sequence[Section]) -> Iterator[Warning_]:
    """A report flattened into one line (its paragraph breaks lost on the way)."""
    heads: list[int] | None = None  # the headings' starts, sorted: counted by bisection
    for m in _LINE.finditer(text):
        if len(m.group()) < split.FLAT_LINE:
            continue
        heads = heads if heads is not None else sorted(s.start for s in sections if s.level)
        inside = bisect.bisect_left(heads, m.end()) - bisect.bisect_right(heads, m.start())
        found = f"一行{len(m.group())}字：原文的分段丢失了" + (
            f"（行内识别出{inside}个标题）" if inside else ""
        )
        yield Warning_(
            "flattened",
            f"one line of {len(m.group())} characters: the paragraph breaks were lost"
            + (f" ({inside} headings found inside it)" if inside else ""),
            m.group()[:20],
            m.start(),
            m.start() + min(20, len(m.group())),
            found,
            "对照原件恢复分段后再归档。",
        )


def _flattened_tables(text: str) -> Iterator[Warning_]:
    if not _MAYBE_TABLE.search(text):
        return
    for m in _FLAT_TABLE.finditer(text):
        yield _warn(
            "flattened_table",
            f"table flattened into digits {m.group()[:30]!r}: the cells ran together",
            m,
            f"表格被压成一串数字“{m.group()[:30]}”：格子之间的分隔丢了",
            "对照原件核对表格里的数字。",
        )


def capped(found: list[Warning_], most: int) -> list[Warning_]:
    """The first ``most`` warnings of ``found``; the last one listed says how many places are
    left out (a file of thousands of alike places gets a bounded list, not one for each)."""
    if len(found) <= most:
        return found
    rest = len(found) - most
    last = found[most - 1]
    last = dataclasses.replace(
        last,
        message=f"{last.message} ({rest} more places like these not listed)",
        message_zh=f"{last.message_zh}（另有{rest}处同类问题未列出）",
    )
    return [*found[: most - 1], last]


def number_value(number: str) -> int | None:
    """The integer a heading number stands for: "三" → 3, "（十二）" → 12, "4" → 4; None if none."""
    core = number.strip("（）()、.． 第章节部分")
    if core.isdigit():
        return int(core)
    if not core or any(c not in _CN_DIGITS and c not in "十百" for c in core):
        return None
    if "十" not in core:
        return _CN_DIGITS.get(core) if len(core) == 1 else None
    tens, _, units = core.partition("十")
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0) if units else 0)


def _numbering(sections: Sequence[Section]) -> Iterator[Warning_]:
    """Sections whose number does not follow the previous sibling's (restart at 1 under a new parent)."""
    last: dict[int, int] = {}  # level -> last number seen under the current parent
    written: dict[int, str] = {}  # level -> that number as written
    for sec in sections:
        if sec.level == 0:
            continue
        for deeper in [lvl for lvl in last if lvl > sec.level]:
            del last[deeper]
            written.pop(deeper, None)
        value = number_value(sec.number)
        if value is None:
            continue
        expected = last.get(sec.level, 0) + 1
        if value != expected:
            before = written.get(sec.level)
            previous = before or "the start of its parent"
            message = f"heading number {sec.number} follows {previous}: expected number {expected}"
            after = f"接在“{before}”之后" if before else "是这一级的第一个序号"
            missing = "缺了前面的序号" if value > expected else "与前面的序号重复或倒退"
            zh = f"标题序号“{sec.number}”{after}，{missing}（应为第{expected}个）"
            advice = "核对是否漏了一节、重复粘贴了一节，或序号写错。"
            end = sec.start + len(sec.heading)
            yield Warning_("numbering", message, sec.heading, sec.start, end, zh, advice)
        last[sec.level] = value
        written[sec.level] = sec.number
