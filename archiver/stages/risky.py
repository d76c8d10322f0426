"""risky: Traditional → Simplified conversions a clerk must check, and known words that keep a form.

A conversion is risky when the Traditional character is also written in Simplified text, so the
Simplified original may have had it: ``乾`` (乾坤) or ``干``, ``於`` (a surname) or ``于``,
``昇`` (昇腾, a brand) or ``升``, ``拚`` (拚命) or ``拼``, ``著`` (见微知著) or ``着``.
OpenCC's own dictionaries say which: ``risky_chars`` is every character ``tw2s`` converts that is
one of its own Simplified forms in ``TSCharacters`` (乾 → 干 乾) or occurs in a Simplified phrase
of ``STPhrases`` (拚命, 於菟), plus ``著``, which ``tw2s`` converts only inside phrases. The
table ships as ``data/opencc_risky.tsv`` (``write_table`` regenerates it from the installed
package's binary ``.ocd2`` dictionaries with the package's ``opencc_dict``; a test compares).

``NAME_FORMS`` are Traditional forms that Simplified proper names keep although OpenCC merges
them into one Simplified character (STCharacters: 升 ← 升 昇, 蒙 ← 蒙 濛 懞 矇, 后 ← 后 後):
昇腾 (a brand), 濛溪河 (a place; OpenCC's TSPhrases keeps 八濛山), 後 (a surname). They are
risky too, so every conversion of them is flagged.

``keep_known`` reverts a risky conversion where the Traditional form makes a word of jieba's
dictionary clearly more frequent than the converted one (见微知著 7 against 见微知着 3; 乾坤
against 干坤): idioms and names that dictionary knows keep their form. 昇 and 濛 also keep their
form where the clause around them is already Simplified script (华为昇腾芯片 inside a
Simplified text that other damage made clean convert): there the writer chose them. 後 does not:
in a Simplified clause it is more often a stray Traditional form (後来) than a surname.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from archiver.stages import _pinyin as py

CONVERTER = "tw2s"  # clean's Traditional → Simplified conversion
LEFT_CONVERTER = "t2s"  # what counts as a Traditional character left in Simplified output
TABLE = Path(__file__).with_name("data") / "opencc_risky.tsv"
PHRASE_ONLY = frozenset("著")
NAME_FORMS = frozenset("昇濛後")
# Name forms a Simplified text writes by choice (後 in one is more often a stray Traditional form).
SIMPLIFIED_NAME_FORMS = frozenset("昇濛")
# A clause: the run of text between these marks (a name form's script context).
_CLAUSE_END = frozenset("，。；：！？、,;:!?\n")
_WORD_MAX = 4
# jieba's dictionary holds some Traditional-script entries at low frequency (标志著 3): a
# form is kept only for a word seen at least this often and twice as often as the converted one.
KEEP_MIN_FREQ = 5


@functools.cache
def risky_forms() -> dict[str, tuple[str, ...]]:
    """{Traditional character: its Simplified forms in TSCharacters} for the risky characters."""
    found: dict[str, tuple[str, ...]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        found[key] = tuple(values.split())
    return found


@functools.cache
def risky_chars() -> frozenset[str]:
    return frozenset(risky_forms()) | PHRASE_ONLY | NAME_FORMS


@functools.cache
def risky_table() -> npt.NDArray[np.bool_]:
    """Code point → whether it is one of ``risky_chars()`` (a vectorised look-up)."""
    table = np.zeros(0x110000, dtype=np.bool_)
    table[[ord(c) for c in risky_chars()]] = True
    table.setflags(write=False)
    return table


def is_traditional(char: str) -> bool:
    """True when OpenCC ``t2s`` converts ``char`` on its own: a Traditional form in any region
    (``tw2s`` also turns Taiwan variants, e.g. 么 → 幺, which Simplified text writes)."""
    return char in py.changed_chars(LEFT_CONVERTER) and py.convert(LEFT_CONVERTER, char) != char


def keep_known(source: str, converted: str, changed: Iterable[int]) -> str:
    """``converted`` (same length as ``source``, differing at the positions ``changed``) with
    the risky conversions reverted where the Traditional form makes a more frequent dictionary
    word than the converted one."""
    chars: list[str] | None = None
    for i in changed:
        before = source[i]
        if before not in risky_chars():
            continue
        chars = chars or list(converted)
        if _keeps(chars, i, before, converted[i]) or (
            before in SIMPLIFIED_NAME_FORMS and in_simplified_clause(source, i)
        ):
            chars[i] = before
    return converted if chars is None else "".join(chars)


def in_simplified_clause(text: str, i: int) -> bool:
    """True when the clause around ``text[i]`` has a character only Simplified writes (腾, 发)
    and no Traditional one but name forms: a Simplified clause, not a machine-converted one."""
    start, end = i, i + 1
    while start > 0 and text[start - 1] not in _CLAUSE_END:
        start -= 1
    while end < len(text) and text[end] not in _CLAUSE_END:
        end += 1
    simplified = False
    for char in text[start:end]:
        if char in NAME_FORMS:
            continue
        if char in py.changed_chars(CONVERTER):
            return False
        simplified = simplified or char in py.changed_chars("s2t")
    return simplified


def _keeps(chars: list[str], i: int, before: str, after: str) -> bool:
    words = _words()
    best_before = best_after = 0
    for size in range(2, _WORD_MAX + 1):
        for start in range(max(0, i - size + 1), min(i, len(chars) - size) + 1):
            around = chars[start : start + size]
            around[i - start] = after
            best_after = max(best_after, words.get("".join(around), 0))
            around[i - start] = before
            best_before = max(best_before, words.get("".join(around), 0))
    return best_before >= KEEP_MIN_FREQ and best_before > 2 * best_after


@functools.cache
def _words() -> dict[str, int]:
    """jieba's dictionary: word → frequency (the words of frequency 0 left out).

    Read from its ``dict.txt`` ("word frequency [tag]" lines, a later line winning, as jieba
    reads it) rather than through ``jieba.initialize``: that builds the segmenter's prefix
    dictionary, which is not needed here, at three times the cost, paid by every worker."""
    import jieba

    words: dict[str, int] = {}
    with jieba.get_dict_file() as file:
        for line in file.read().decode("utf-8").splitlines():
            word, freq = line.strip().split(" ", 2)[:2]
            words[word] = int(freq)
    return {w: f for w, f in words.items() if f > 0}


def opencc_dictionary(name: str) -> list[tuple[str, list[str]]]:
    """The entries of the installed OpenCC dictionary ``name`` (e.g. "TSCharacters"), read
    from its ``.ocd2`` file with the package's ``opencc_dict``."""
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.txt"
        args = [str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2")]
        env = {**os.environ, "LD_LIBRARY_PATH": str(clib / "lib64")}
        subprocess.run([*args, "-o", str(out), "-f", "ocd2", "-t", "text"], check=True, env=env)
        lines = out.read_text(encoding="utf-8").splitlines()
    return [(key, values.split()) for key, _, values in (line.partition("\t") for line in lines)]


def table_lines() -> list[str]:
    """The lines of ``TABLE`` as the installed OpenCC's dictionaries give them."""
    characters = opencc_dictionary("TSCharacters")
    in_simplified = {c for key, _ in opencc_dictionary("STPhrases") for c in key}
    return [
        f"{key}\t{' '.join(values)}"
        for key, values in sorted(characters)
        if (key in values or key in in_simplified) and py.convert(CONVERTER, key) != key
    ]


def write_table() -> None:
    TABLE.write_text("".join(line + "\n" for line in table_lines()), encoding="utf-8")
