"""Reading and script look-ups for clean: pypinyin readings and cached OpenCC converters.

Everything here is cached per process (``functools.cache``), so a worker process builds each
OpenCC converter and each character's reading set once, on first use, and never pickles them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import opencc
from pypinyin import Style, pinyin

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
LATIN_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜêếềḿńňǹ"  # letters of tone-marked pinyin
_HAN_RUNS = re.compile(f"[^{HAN}]+")
_TONE_MARKS = re.compile("[\u0300\u0301\u0304\u030c]")


@functools.cache
def converter(name: str) -> Any:
    """The OpenCC converter ``name`` ("t2s", "tw2s", "s2tw", ...), built once per process."""
    return opencc.OpenCC(name)


def convert(name: str, text: str) -> str:
    """``text`` through OpenCC config ``name``."""
    return str(converter(name).convert(text))


@functools.cache
def changed_chars(name: str) -> frozenset[str]:
    """Every Han character that converter ``name`` changes on its own (character-level table).

    Built by converting all BMP Han characters once, one per line; used as the fast precheck
    that lets clean skip OpenCC on text it would not change. 著 is added because the tw2s
    phrase tables turn it into 着 in phrases (著眼 → 着眼) although it is unchanged alone.
    """
    chars = [chr(c) for r in ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00)) for c in range(*r)]
    out = convert(name, "\n".join(chars)).split("\n")
    changed = {a for a, b in zip(chars, out, strict=False) if a != b}
    return frozenset(changed | {"著"})


@functools.cache
def trad_pattern(name: str) -> re.Pattern[str]:
    """A regex matching any character of ``changed_chars(name)``."""
    return re.compile("[" + "".join(sorted(changed_chars(name))) + "]")


def han_only(text: str) -> str:
    """``text`` with everything but Han characters removed."""
    return _HAN_RUNS.sub("", text)


def _toneless(syllable: str) -> str:
    """A tone-marked syllable without its tone marks (ü kept)."""
    decomposed = unicodedata.normalize("NFD", syllable)
    return unicodedata.normalize("NFC", _TONE_MARKS.sub("", decomposed))


def _variants(syllable: str) -> set[str]:
    """``syllable`` with ü written as ü, v and u (all three spellings occur in annotations)."""
    return {syllable, syllable.replace("ü", "v"), syllable.replace("ü", "u"), syllable.replace("v", "ü")}


@functools.cache
def readings(char: str) -> frozenset[str]:
    """Every tone-less spelling of every reading of ``char`` and of its OpenCC t2s form.

    pypinyin's heteronym lists are asked for both the character as written (it may be
    Traditional) and its Simplified form, in NORMAL style; ü/v/u spellings are all accepted.
    """
    found: set[str] = set()
    for c in {char, convert("t2s", char)}:
        for style in (Style.NORMAL, Style.TONE):
            for reading in pinyin(c, style=style, heteronym=True, errors="ignore")[:1]:
                for r in reading:
                    found |= _variants(_toneless(r.lower()))
    return frozenset(found)


@functools.lru_cache(maxsize=1 << 16)  # annotated texts repeat the same pairs thousands of times
def is_reading(char: str, annotation: str) -> bool:
    """True when ``annotation`` (tone marks or not) is a pinyin reading of the Han ``char``."""
    return _toneless(annotation.lower()) in readings(char)
