"""script_checks: warnings about what Traditional → Simplified conversion and legacy encodings
may have got wrong; never edits. Spans are in the archived text.

- ``script``: a risky character converted (``risky.risky_chars``: 乾 → 干 where 乾坤 was meant),
  one warning per pair of characters at its first place, with the number of places;
- ``script_left``: a Traditional character left in Simplified output (用於 after a conversion; in
  text that was not converted, only characters Simplified never writes: 發展), and a name form
  kept in a Simplified clause (昇腾, see ``risky.NAME_FORMS``);
- ``lost_char``: one per place (at most ``LOST_MAX`` a file, the last one counting the rest): a
  ``?`` between Han characters of a file in a legacy encoding, where the encoder put one for a
  character the encoding cannot hold; or, where the encoder dropped such a character, the
  remains of a word state reports write with it (``DROPPED``: 磅礴 → 磅, 勠力同心 → 力同心,
  二〇三五年 → 二三五年), when the file's encoding cannot hold it;
- ``legacy_charset``: a Big5 file converted to Simplified: characters Big5 cannot hold
  (〇, 勠, 礴, …) were lost when it was saved, elsewhere at places nothing marks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from archiver.records import Cleaned, Warning_
from archiver.stages import _pinyin as py
from archiver.stages import checks, risky
from archiver.stages.origin import Origin

CONTEXT = 2  # characters of context either side of a flagged character, within its line
_QUESTION = re.compile(f"(?<=[{py.HAN}])\\?+(?=[{py.HAN}])")
_BIG5 = ("big5", "cp950", "big5hkscs")
# Below this share of Traditional characters a text is Simplified with a few strays (clean's rule).
_SIMPLIFIED_SHARE = 0.02
_TRADITIONAL_MIN = 5
LOST_MAX = 20  # lost_char warnings listed per file; the last one counts the places left out
# What a dropped character leaves of a word state reports write with it: (the character, what
# is left, the word). 磅礴 is in 10 files of ../shared/corpus/reports, 〇 in 3 (一九五〇年,
# 二〇三五年); 勠 is one of the characters issue 22 found lost (毕力同心 is another idiom).
DROPPED: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("礴", re.compile("磅(?!礴)"), "磅礴"),
    ("勠", re.compile("(?<![勠戮毕并齐协])力同心"), "勠力同心"),
    ("〇", re.compile("(?<![〇○零一二三四五六七八九十百千])[一二三四五六七八九]{3}年"), "二〇三五年"),
)


def script_warnings(cleaned: Cleaned, origin: Origin, text: str) -> tuple[Warning_, ...]:
    """Every warning above for the archived ``text`` of ``cleaned``."""
    lost = sorted([*_lost(cleaned, origin, text), *_dropped(cleaned, text)], key=lambda w: w.start)
    found = [*_risky(cleaned, origin, text), *_left(cleaned, text), *checks.capped(lost, LOST_MAX)]
    decoded = cleaned.decoded
    if cleaned.converted_script and decoded.encoding.startswith(_BIG5):
        found.append(
            Warning_(
                "legacy_charset",
                f"the file is {decoded.encoding}, which cannot hold every Simplified character "
                "(〇, 勠, 礴, …): any such character of the original was lost unmarked; compare with it",
                "",
                0,
                0,
                f"文件是 {decoded.encoding} 编码，存不下部分简体字（如“〇”“勠”“礴”），"
                "原文中的这些字在保存时已丢失，且没有标记",
                "对照简体原件通读一遍，补上缺字。",
            )
        )
    return tuple(found)


def _around(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return max(line_start, start - CONTEXT), min(line_end, end + CONTEXT)


def _warning(kind: str, text: str, at: tuple[int, int], en: str, zh: str, advice: str) -> Warning_:
    start, end = _around(text, *at)
    return Warning_(kind, en, text[start:end], start, end, zh, advice)


def _risky(cleaned: Cleaned, origin: Origin, text: str) -> Iterator[Warning_]:
    """One warning per (Traditional, Simplified) pair converted, at its first place kept in the
    archived text, with the number of places (the review page marks each)."""
    chars = risky.risky_chars()
    script = origin.steps[origin.step_index("script")]
    edits = [c for c in cleaned.changes if c.step == "script"]
    places: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for change, out_start in zip(edits, script.out_start, strict=True):
        if len(change.before) != len(change.after) or chars.isdisjoint(change.before):
            continue
        for i, (before, after) in enumerate(zip(change.before, change.after, strict=True)):
            if before in chars and before != after:
                at = origin.ahead("script", out_start + i, out_start + i + 1)
                if at is not None:
                    places.setdefault((before, after), []).append(at)
    for (before, after), spans in places.items():
        count = f"{len(spans)} places, the first here" if len(spans) > 1 else "here"
        count_zh = f"共{len(spans)}处，这是第一处" if len(spans) > 1 else "在此处"
        yield _warning(
            "script",
            text,
            spans[0],
            f"{before!r} converted to {after!r} ({count}): {before} is also written in Simplified "
            "(a name, a place, an idiom); check the original",
            f"“{before}”转成了“{after}”（{count_zh}）：“{before}”在简体中也用（人名、地名、固定用法）",
            f"逐处核对原件：原文若是“{before}”，请改回。",
        )


def _left(cleaned: Cleaned, text: str) -> Iterator[Warning_]:
    pattern = py.trad_pattern(risky.LEFT_CONVERTER)
    if not pattern.search(text):
        return
    # In text that was not converted, a character Simplified also writes (拚命) is no stray.
    keep = frozenset() if cleaned.converted_script else risky.risky_chars()
    found = [m for m in pattern.finditer(text) if risky.is_traditional(m.group()) and m.group() not in keep]
    if not cleaned.converted_script and len(found) >= max(_SIMPLIFIED_SHARE * len(text), _TRADITIONAL_MIN):
        return  # a Traditional text kept as written
    for m in found:
        char = m.group()
        simplified = py.convert(risky.LEFT_CONVERTER, char)
        if char in risky.NAME_FORMS:
            yield _warning(
                "script_left",
                text,
                (m.start(), m.end()),
                f"{char!r} kept as written in a Simplified clause: names write it (昇腾, 濛溪河); "
                f"elsewhere it is {simplified!r}; check it",
                f"“{char}”在简体文句中保留原样：名称中用它（如“昇腾”“濛溪河”），其他地方应作“{simplified}”",
                f"核对原件：若不是名称，请改为“{simplified}”。",
            )
            continue
        yield _warning(
            "script_left",
            text,
            (m.start(), m.end()),
            f"Traditional {char!r} left in Simplified text (Simplified {simplified!r}); check it",
            f"简体文本中留有繁体字“{char}”（简体作“{simplified}”）",
            f"核对原件：如应为“{simplified}”，请改正。",
        )


def _lost(cleaned: Cleaned, origin: Origin, text: str) -> Iterator[Warning_]:
    decoded = cleaned.decoded
    if decoded.encoding.startswith(("utf-", "utf_")) or "?" not in decoded.text:
        return
    for m in _QUESTION.finditer(decoded.text):
        at = origin.ahead(None, m.start(), m.end())
        if at is None:
            at = _punctuated(origin, m.start(), m.end())
        if at is None:
            continue
        yield _warning(
            "lost_char",
            text,
            at,
            f"{len(m.group())} '?' between Han characters in a {decoded.encoding} file: "
            "characters the encoding could not hold?",
            f"汉字之间有{len(m.group())}个“?”：可能是 {decoded.encoding} 编码存不下的字被换成了问号",
            "对照原件补上缺字。",
        )


def dropped_places(encoding: str, text: str) -> Iterator[tuple[str, str, re.Match[str]]]:
    """(character, word, match) for each ``DROPPED`` remains in ``text`` whose character a file in
    ``encoding`` cannot hold (nor its Traditional form, for a Big5 copy of a Simplified text)."""
    if encoding.startswith(("utf-", "utf_")):
        return
    for char, remains, word in _unholdable(encoding):
        for m in remains.finditer(text):
            yield char, word, m


@functools.cache
def _unholdable(encoding: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """The ``DROPPED`` entries whose character ``encoding`` cannot hold in either script."""
    return tuple(
        (char, remains, word)
        for char, remains, word in DROPPED
        if not any(_holds(encoding, form) for form in {char, py.convert("s2tw", char)})
    )


def _holds(encoding: str, char: str) -> bool:
    try:
        char.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _dropped(cleaned: Cleaned, text: str) -> Iterator[Warning_]:
    encoding = cleaned.decoded.encoding
    for char, word, m in dropped_places(encoding, text):
        yield _warning(
            "lost_char",
            text,
            (m.start(), m.end()),
            f"{m.group()!r}: {word!r} without {char!r}? {encoding} cannot hold {char!r}, "
            "which was dropped when the file was saved",
            f"“{m.group()}”：可能是“{word}”缺了“{char}”——{encoding} 编码存不下“{char}”，保存时被丢掉了",
            f"对照原件补上“{char}”。",
        )


def _punctuated(origin: Origin, start: int, end: int) -> tuple[int, int] | None:
    """The archived span of a decoded-text span that the punctuation step made full width."""
    punct = origin.step_index("punctuation")
    for m in origin.steps[:punct]:
        first = m.forward(start)
        if first is None:
            return None
        start, end = first, first + (end - start)
    return origin.ahead("punctuation", start, end)
