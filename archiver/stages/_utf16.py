"""utf16: which byte order, if any, reads BOM-less bytes as plausible UTF-16 text.

``bomless_codec(raw) -> "utf-16-le" | "utf-16-be" | None``.  Only the NUL bytes send a file
here (``decode``), and a NUL pattern alone cannot tell UTF-16 from binary: ASCII in UTF-16 has
NUL in the high byte of each pair, but Chinese text has NUL in the *low* byte of characters such
as 一 (U+4E00) and no NUL in most others.  So both byte orders are decoded strictly (an unpaired
surrogate fails) and judged as text: nearly every character must be one a report is written in.
Random bytes read as UTF-16 spread over the whole BMP (at most 66% such characters over 2000
random files), UTF-32 and runs of NUL give U+0000 for every other character or all of them.
"""

from __future__ import annotations

import re

# Share of characters that must be text characters (``_TEXT``).  Every report in the corpus
# is above 0.997 (○ and private-use characters are the rest); random bytes stay below 0.7.
MIN_TEXT_SHARE = 0.95

# What reports are written in: ASCII, Latin-1, general punctuation, letter-like symbols and
# number forms, ①-style numbers, ○ and other geometric shapes, CJK punctuation, CJK (and
# extension A), full-width forms.  C0 controls other than tab and line breaks are not text.
_TEXT = re.compile(
    "[\t\n\r -~\u00a0-\u00ff\u2000-\u206f\u2100-\u218f\u2460-\u24ff\u25a0-\u25ff"
    "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"
)
# The characters a byte swap cannot produce from CJK text: ASCII, CJK and full-width
# punctuation.  Swapped ASCII letters are CJK (a = U+0061 → U+6100 愀), so the byte order
# with more of these wins a tie, and text needs at least one of them.
_COMMON = re.compile("[\t\n\r -~\u3000-\u303f\uff00-\uffef]")


def bomless_codec(raw: bytes) -> str | None:
    """The UTF-16 codec (LE or BE) under which ``raw`` reads as plausible text, or None.

    A trailing odd byte is ignored here (``decode`` reports it as a truncated tail).
    """
    even = raw[: len(raw) - len(raw) % 2]
    scored = [(_commonness(even, codec), codec) for codec in ("utf-16-le", "utf-16-be")]
    best = max(scored)
    return best[1] if best[0] > 0 else None


def _commonness(data: bytes, codec: str) -> int:
    """How many common characters ``data`` has as ``codec`` text; 0 unless it is plausible text."""
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return 0  # an unpaired surrogate: not UTF-16 in this byte order
    if not text or len(_TEXT.findall(text)) < MIN_TEXT_SHARE * len(text):
        return 0
    return len(_COMMON.findall(text))
