"""clean: repair a decoded submission's text, recording every edit as a ``records.Change``.

``clean(decoded, config) -> Cleaned``; ``clean_text(text, config) -> (text, changes, converted)``.
The steps run in the order of ``STEPS``; each step's changes locate ``before`` in the text as
it stood when that step ran. Cleaning is idempotent: ``clean_text(clean_text(x)) == clean_text(x)``.

1. ``invisible``: BOM, zero-width characters, C0/C1 controls (except ``\\n``, ``\\t``) removed;
   ``\\r\\n`` and ``\\r`` become ``\\n``.   ``nfc``: Unicode NFC.
2. ``pinyin``: ``X(pīnyīn)`` / ``X（pinyin）`` removed only where the Latin text is a reading of the
   Han character X before it (``pinyin.is_reading``; X may be Traditional).
3. ``script``: Traditional → Simplified with OpenCC ``tw2s`` (its phrase tables restore 着 from
   著 in 著眼 etc., which ``t2s`` gets wrong); a risky character keeps its form where it makes a
   known word (见微知著, see ``risky.keep_known``). Mode ``traditional``:
   "always", "never", or "auto", which converts only when the damage shows the text was
   machine-converted from Simplified:
     (a) step 2 removed at least one pinyin annotation (annotated Traditional is the seed's
         damage), or
     (b) the text has Traditional characters and its Han characters are a fixed point of
         OpenCC ``s2tw(t2s(·))``: the round trip reproduces machine s2tw output exactly, but
         changes genuine Hong Kong/Taiwan writing, which uses forms s2tw never produces
         (裏, 綫, 着, 台 beside 臺 ...). Simplified text fails it too (s2tw changes it).
4. ``punctuation``: ASCII ``, ; : ? ! ( )`` next to CJK text become full width (see ``_punct``).
5. ``whitespace``: ``　　`` paragraph marks inside a line become line breaks; indentation and
   trailing blanks, blank lines and the final newline are removed.
6. ``headings``: a numbered heading run into its body (``（一）标题。正文`` / ``五、标题 正文``) is
   put on its own line (``config.split_runin_headings``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from archiver.config import CleanConfig
from archiver.records import Change, Cleaned, Decoded, built
from archiver.stages import _pinyin as py
from archiver.stages import risky

STEPS: tuple[str, ...] = ("invisible", "nfc", "pinyin", "script", "punctuation", "whitespace", "headings")
SCRIPT_CONVERTER = risky.CONVERTER

_INVISIBLE = re.compile("\r\n?|[\ufeff\u200b-\u200d\u2060\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
_MAYBE_INVISIBLE = re.compile("[\r\ufeff\u200b-\u200d\u2060\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
# Starts at the bracket (a fast literal scan); the Han character before it is checked in _pinyin.
_PINYIN = re.compile(f"[(（]([a-zA-Zü{py.LATIN_TONED}]{{1,7}})[)）]")
_HAN_CHAR = re.compile(f"[{py.HAN}]")
# CJK context: Han, CJK symbols and punctuation, full-width forms, curly quotes, … and —.
_CJK = f"{py.HAN}\u3000-\u303f\uff00-\uffef\u2018\u2019\u201c\u201d\u2026\u2014"
# The leading lookahead (implied by both branches) lets the engine skip to ASCII marks fast.
_PUNCT_RUN = re.compile(f"(?=[,;:?!()])(?:(?<=[{_CJK}])[,;:?!()]+|[,;:?!()]+(?=[{_CJK}]))")
_ASCII_PUNCT = re.compile("[,;:?!()]")
_PAREN_PAIR = re.compile(r"\(([^()\n]*)\)")
_FULL = str.maketrans(",;:?!()", "，；：？！（）")
# The lookahead lets the engine skip non-space positions fast.
_WHITESPACE = re.compile(r"(?=\s)(?:\A\s+|[^\S\n]*(?:\n|\u3000\u3000)\s*|\s+\Z)")
_CN = "一二三四五六七八九十"
_RUNIN_STOP = re.compile(
    rf"(?:[（(][{_CN}]{{1,3}}[)）]|[（(]\d{{1,2}}[)）]|\d{{1,2}}[.．、](?!\d))"
    r"([^。！？；\n]{2,25})。[ \u3000]*(?=\S)"
)
_RUNIN_SPACE = re.compile(
    rf"(?:[{_CN}]{{1,3}}、|[（(][{_CN}]{{1,3}}[)）]|\d{{1,2}}[.．、](?!\d))"
    r"([^\s。！？；，,：:]{2,25})[ \u3000]+(?=\S)"
)

_LINE = re.compile(r"^.+$", re.MULTILINE)

Edit = tuple[int, int, str]  # start, end, replacement (spans in the step's input text)


def clean(decoded: Decoded, config: CleanConfig) -> Cleaned:
    """The repaired text of ``decoded`` with every change made and whether the script was converted."""
    text, changes, converted = clean_text(decoded.text, config)
    return Cleaned(decoded=decoded, text=text, changes=changes, converted_script=converted)


def clean_text(text: str, config: CleanConfig) -> tuple[str, tuple[Change, ...], bool]:
    """Run every step over ``text``: (cleaned text, changes in step order, script converted)."""
    changes: list[Change] = []

    def run(step: str, kind: str, edits: Iterator[Edit] | list[Edit], text: str) -> str:
        new, made = _apply(text, list(edits), kind, step)
        changes.extend(made)
        return new

    text = run("invisible", "invisible", _invisible(text), text)
    text = run("nfc", "nfc", _nfc(text), text)
    stripped = 0
    if config.strip_pinyin:
        edits = list(_pinyin(text))
        stripped = len(edits)
        text = run("pinyin", "pinyin", edits, text)
    converted = _wants_script(text, config.traditional, stripped)
    if converted:
        text = run("script", "t2s", _script(text), text)
    if config.fullwidth_punctuation:
        text = run("punctuation", "punctuation", _diff(text, _punct(text)), text)
    text = run("whitespace", "indent", _whitespace(text), text)
    if config.split_runin_headings:
        text = run("headings", "heading_split", _runin(text), text)
    return text, tuple(changes), converted


def _apply(text: str, edits: list[Edit], kind: str, step: str) -> tuple[str, list[Change]]:
    """Apply non-overlapping ``edits`` (sorted by start) to ``text``; the changes they make."""
    if not edits:
        return text, []
    parts: list[str] = []
    made: list[Change] = []
    pos = 0
    # The invisible step reports line-end edits as "newline"; other steps keep their kind.
    newline = kind == "invisible"
    for start, end, after in edits:
        before = text[start:end]
        parts.append(text[pos:start])
        parts.append(after)
        what = "newline" if newline and before[:1] == "\r" else kind
        # ``built``: the 10⁵ changes of a converted Traditional text, each without ``__init__``.
        fields = {"kind": what, "step": step, "start": start, "end": end, "before": before, "after": after}
        made.append(built(Change, fields))
        pos = end
    parts.append(text[pos:])
    return "".join(parts), made


def _invisible(text: str) -> Iterator[Edit]:
    if not _MAYBE_INVISIBLE.search(text):  # one character-class scan: most texts have none
        return
    for m in _INVISIBLE.finditer(text):
        yield m.start(), m.end(), "\n" if m.group().startswith("\r") else ""


def _nfc(text: str) -> Iterator[Edit]:
    """One edit per line that NFC changes, narrowed to the differing middle of the line."""
    if unicodedata.is_normalized("NFC", text):
        return
    pos = 0
    for line in text.split("\n"):
        fixed = unicodedata.normalize("NFC", line)
        if fixed != line:
            head = len(_common_prefix(line, fixed))
            tail = len(_common_prefix(line[head:][::-1], fixed[head:][::-1]))
            yield pos + head, pos + len(line) - tail, fixed[head : len(fixed) - tail]
        pos += len(line) + 1


def _common_prefix(a: str, b: str) -> str:
    """The longest common prefix (only called on the rare lines that NFC changes)."""
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return a[:n]


def _pinyin(text: str) -> Iterator[Edit]:
    """The ``(pinyin)`` part of every annotation that is a reading of the character before it."""
    removed_end, removed_char = -1, ""
    for m in _PINYIN.finditer(text):
        start = m.start()
        # Right after a removed annotation the character annotated is still the one before it.
        char = removed_char if start == removed_end else text[start - 1 : start]
        if char and _HAN_CHAR.match(char) and py.is_reading(char, m.group(1)):
            removed_end, removed_char = m.end(), char
            yield start, m.end(), ""


def _wants_script(text: str, mode: str, stripped: int) -> bool:
    """Whether step 3 converts ``text`` (see the module docstring for the auto rule)."""
    if mode == "never" or not py.trad_pattern(SCRIPT_CONVERTER).search(text):
        return False
    if mode == "always" or stripped > 0:
        return True
    han = py.han_only(text)
    # A share of the Han characters, which the later steps never change: of the whole text, a
    # blank the whitespace step strips could tip a second cleaning the other way.
    if len(py.trad_pattern(SCRIPT_CONVERTER).findall(text)) < 0.02 * len(han):
        return False  # a Simplified text with a few Traditional forms (著作, a quoted name)
    back = py.han_only(py.convert("s2tw", py.convert("t2s", text)))
    if len(back) != len(han):
        return False
    return _mismatches(han, back) <= len(han) // 1000


def has_traditional(text: str) -> bool:
    """True when ``text`` has a character the script step could convert."""
    return py.trad_pattern(SCRIPT_CONVERTER).search(text) is not None


def _mismatches(a: str, b: str) -> int:
    """How many positions differ between two strings of equal length."""
    return sum(end - start for start, end, _ in _diff(a, b))


def _script(text: str) -> list[Edit]:
    """Runs of characters that OpenCC changes, line by line when the conversion changes length."""
    new = py.convert(SCRIPT_CONVERTER, text)
    if len(new) == len(text):
        return list(_diff(text, _keep_known(text, new)))
    edits: list[Edit] = []
    pos = 0
    for line in text.split("\n"):
        fixed = py.convert(SCRIPT_CONVERTER, line)
        if len(fixed) == len(line):
            edits += [(s + pos, e + pos, a) for s, e, a in _diff(line, _keep_known(line, fixed))]
        elif fixed != line:
            edits.append((pos, pos + len(line), fixed))
        pos += len(line) + 1
    return edits


def _keep_known(text: str, converted: str) -> str:
    """``converted`` with the known words that keep a Traditional form restored (``risky``)."""
    # Only the risky characters converted can be kept: found at once, not by a loop over every change.
    old, new = _codepoints(text), _codepoints(converted)
    changed = np.flatnonzero((old != new) & risky.risky_table()[old]).tolist()
    return risky.keep_known(text, converted, changed)


def _codepoints(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _diff(old: str, new: str) -> list[Edit]:
    """Runs of differing characters between two strings of equal length (vectorised)."""
    if old == new:
        return []
    diff = np.concatenate(([False], _codepoints(old) != _codepoints(new), [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(diff))
    starts, ends = edges[::2].tolist(), edges[1::2].tolist()
    return [(start, end, new[start:end]) for start, end in zip(starts, ends, strict=True)]


def _punct(text: str) -> str:
    """``text`` with ASCII punctuation in CJK context made full width (same length).

    A ``( )`` pair turns (both halves, so pairs stay balanced) when its content has CJK text
    or a CJK character touches it outside: ``(一)``, ``中(2020)``, ``组织(WHO)发布``; ``f(x)``,
    ``(a)`` in Latin text stay. ``, ; : ? !`` runs turn when a CJK character touches the run,
    so ``1,000``, ``2.5``, ``3:00`` and URLs stay. Repeated to a fixed point because turning
    one mark can put the next one in CJK context.
    """
    if not _ASCII_PUNCT.search(text):
        return text
    while True:  # ends: every round turns at least one mark and never turns one back
        new = _turn_runs(_PAREN_PAIR.sub(_pair, text))
        if new == text:
            return text
        text = new


_CJK_CHAR = re.compile(f"[{_CJK}]")


def _turn_runs(text: str) -> str:
    """Runs of ASCII marks touching CJK text made full width, except parens of a pair (``_pair``)."""
    paired = {i for m in _PAREN_PAIR.finditer(text) for i in (m.start(), m.end() - 1)}

    def turn(m: re.Match[str]) -> str:
        run = m.group()
        if "(" not in run and ")" not in run:  # most runs: nothing in them can be paired
            return run.translate(_FULL)
        return "".join(c if m.start() + i in paired else c.translate(_FULL) for i, c in enumerate(run))

    return _PUNCT_RUN.sub(turn, text)


def _pair(m: re.Match[str]) -> str:
    text, start, end = m.string, m.start(), m.end()
    outside = text[start - 1 : start] + text[end : end + 1]
    if _CJK_CHAR.search(m.group(1)) or _CJK_CHAR.search(outside):
        return "（" + m.group(1) + "）"
    return m.group()


def _whitespace(text: str) -> Iterator[Edit]:
    for m in _WHITESPACE.finditer(text):
        at_edge = m.start() == 0 or m.end() == len(text)
        after = "" if at_edge else "\n"
        if m.group() != after:
            yield m.start(), m.end(), after


def _runin(text: str) -> list[Edit]:
    """Line breaks between run-in headings and their bodies, repeated on each new line."""
    edits: list[Edit] = []
    for line in _LINE.finditer(text):
        pos = line.start()
        while (edit := _runin_at(text, pos)) is not None and edit[1] <= line.end():
            edits.append(edit)
            pos = edit[1]
    return edits


def _runin_at(text: str, pos: int) -> Edit | None:
    """The split after a heading starting at ``pos``: after its 。, or in place of its spaces."""
    m = _RUNIN_STOP.match(text, pos)
    if m:
        return m.end(1) + 1, m.end(), "\n"
    m = _RUNIN_SPACE.match(text, pos)
    if m:
        return m.end(1), m.end(), "\n"
    return None
