"""decode: a ``Submission``'s bytes → ``Decoded`` text, or a ``Rejection`` with a reason.

Order (first answer wins):

1. 0 bytes → ``empty``.
2. A byte-order mark (UTF-8, UTF-32 LE/BE, then UTF-16 LE/BE) → that codec, ``Repair("bom")``.
3. A file signature (PNG, PDF, ZIP, GZIP, JPEG, GIF) or NUL bytes → ``binary`` (unless the bytes
   read as plausible text in UTF-16 LE or BE: BOM-less UTF-16, see ``utf16``).
4. Strict UTF-8: the fast path (confidence 1.0).  A UTF-8 file with a few damaged characters
   (a byte lost in transfer, see ``utf8_damage``) has each replaced by U+FFFD
   (``Repair("damaged_utf8")`` with its byte offset).  A UTF-8 file whose other lines are valid
   but some lines are GB18030/Big5 is decoded line by line (``Repair("mixed_line")``).
5. The detector (``detect``: chardet on a bounded prefix, again on the whole file if that
   answer fails), GB2312/GBK/HZ answers decoded as GB18030, Big5 as big5 → cp950 → big5hkscs; strict decode.

Every codec may drop an incomplete multi-byte character at the very end
(``Repair("truncated_tail")``); nothing else is ever replaced or dropped but a damaged UTF-8
character, each with its repair.  Decoded text that
looks like random bytes is ``binary``; empty-after-decoding text is ``empty`` (``decode`` when
it is empty only because an incomplete last character was dropped); a line longer
than ``max_line_chars`` is ``oversize_line``; a file of more than ``max_bytes`` is ``oversize``
(checked first).  Bytes that would be rejected as ``binary`` or
``decode`` but are well-formed EUC-TW are rejected as ``decode`` saying that EUC-TW is not supported.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

from archiver.config import DecodeConfig
from archiver.records import Decoded, Rejection, RejectReason, Repair, Submission
from archiver.stages._detect import chardet_detect
from archiver.stages._utf8_damage import damage_repairs, damaged_spans, decoded_share, replaced
from archiver.stages._utf16 import bomless_codec

Detector = Callable[[bytes], tuple[str | None, float]]

# chardet answers on a 16 KB prefix as on the whole file (checked on the bench inbox and the
# encoded corpus), at a fraction of the cost on large files; a wrong prefix answer is caught by
# the strict full decode and retried on the whole file.
DETECT_PREFIX = 16_384
# Share of the non-ASCII lines that must be valid UTF-8 before the rest are read as pasted-in
# GB18030/Big5 lines.  A non-ASCII line of GB18030 or Big5 is practically never valid UTF-8, so
# a majority of such lines already says "UTF-8 document"; chardet cannot tell (it says cp737).
MIXED_MIN_UTF8_SHARE = 0.5
MIXED_LINE_CODECS = ("gb18030", "big5")
# Decoded text with more than this share of control / private-use / unassigned characters is
# random bytes that happen to decode, not a submission.
MAX_JUNK_SHARE = 0.02
# Below this detector confidence a single-byte code page for mostly high bytes is noise.
NOISE_CONFIDENCE = 0.5

_BOMS: tuple[tuple[bytes, str, str, str], ...] = (  # mark, reported name, body codec, label
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8", "UTF-8"),
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be", "UTF-16 BE"),
)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b", "GZIP archive"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
)
_FAMILIES: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "gb18030": ("gb18030",),
    "cp936": ("gb18030",),
    "hz-gb-2312": ("gb18030",),
    "hz": ("gb18030",),
    "euc-cn": ("gb18030",),
    "big5": ("big5", "cp950", "big5hkscs"),
    "cp950": ("cp950", "big5hkscs"),
    "big5hkscs": ("big5hkscs",),
    "big5-hkscs": ("big5hkscs",),
}
_UNICODE = ("utf-8", "utf-16", "utf-32")
_ASCII_BYTES = bytes(range(128))
# EUC-TW (CNS 11643): ASCII, two bytes A1–FE, or SS2 8E, a plane byte A1–B0 and two bytes A1–FE.
# Python has no codec for it and chardet does not name it; read as GB18030 its frequent rows
# (A4–AF) are kana, Greek and unassigned codes, which is how such a file reaches a rejection.
# The first byte tells the three apart, and the repetition is possessive: no backtracking.
_EUC_TW = re.compile(rb"(?:[\x00-\x7f]|[\xa1-\xfe]{2}|\x8e[\xa1-\xb0][\xa1-\xfe]{2})*+")
_NOT_EUC_TW = bytes(b for b in range(0x80, 0xA1) if b != 0x8E) + b"\xff"
EUC_TW_MIN_CHARS = 4
EUC_TW_UNSUPPORTED = (
    "EUC-TW is not supported: convert the file to UTF-8 (iconv -f EUC-TW -t UTF-8) and submit it again"
)
_JUNK = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")


class _Text(NamedTuple):
    text: str
    encoding: str
    confidence: float
    repairs: tuple[Repair, ...] = ()


class _Fail(NamedTuple):
    reason: RejectReason
    detail: str


def decode(
    submission: Submission, config: DecodeConfig, detect: Detector = chardet_detect
) -> Decoded | Rejection:
    """The text of ``submission`` with the codec used and every repair, or why there is none."""
    raw = submission.raw
    if len(raw) > config.max_bytes:  # decoding, cleaning and checking it would hold up the run
        detail = f"{len(raw)} bytes (limit {config.max_bytes}, [decode] max_bytes): kept as received"
        return Rejection(submission, "oversize", detail)
    found = _Fail("empty", "the file has 0 bytes") if not raw else _decode_bytes(raw, detect)
    if isinstance(found, _Text):
        found = _vet(found, raw, config)
    if isinstance(found, _Fail) and found.reason in ("binary", "decode") and is_euc_tw(raw):
        found = _Fail("decode", EUC_TW_UNSUPPORTED)
    if isinstance(found, _Fail):
        return Rejection(submission, found.reason, found.detail)
    return Decoded(submission, found.text, found.encoding, found.confidence, found.repairs)


def _vet(found: _Text, raw: bytes, config: DecodeConfig) -> _Text | _Fail:
    """Reject decoded text that is blank, random, too long a line or too unsure."""
    if not found.text.strip():
        return _blank(found, raw)
    if not found.encoding.startswith("utf-8") and _looks_random(found.text):
        return _Fail("binary", f"decodes as {found.encoding} only to control/unassigned characters")
    longest = _longest_line(found.text, config.max_line_chars)
    if longest > config.max_line_chars:
        return _Fail("oversize_line", f"a line of {longest} characters (limit {config.max_line_chars})")
    if found.confidence < config.min_confidence:
        unsure = f"{found.encoding} at confidence {found.confidence:.2f}"
        return _Fail("decode", f"{unsure}, below min_confidence {config.min_confidence}")
    return found


def _blank(found: _Text, raw: bytes) -> _Fail:
    """Why text that is only whitespace is rejected: ``empty``, unless bytes were dropped to get
    it (a lone truncated character, e.g. the single byte E4): then no encoding reads the file."""
    if "truncated_tail" not in [r.kind for r in found.repairs]:
        return _Fail("empty", f"only whitespace ({len(raw)} bytes)")
    blank = "whitespace and " if found.text else ""
    what = f"no text, only {blank}an incomplete {found.encoding} character at the end"
    return _Fail("decode", f"{what} ({len(raw)} bytes)")


def unsure_single_byte(decoded: Decoded) -> bool:
    """True when ``decoded`` is an unsure (below ``NOISE_CONFIDENCE``) guess of a single-byte
    code page for bytes that are not all ASCII: code pages differ exactly in those letters
    (Latin-1 ``naïve`` reads as cp1250 ``naďve``), so the reading stands but needs a look."""
    raw = decoded.submission.raw
    single_byte = len(decoded.text) == len(raw) and not decoded.encoding.startswith(_UNICODE)
    return single_byte and decoded.confidence < NOISE_CONFIDENCE and not raw.isascii()


def _decode_bytes(raw: bytes, detect: Detector) -> _Text | _Fail:
    for mark, name, codec, label in _BOMS:
        if raw.startswith(mark):
            return _with_bom(raw[len(mark) :], name, codec, label)
    for signature, what in _SIGNATURES:
        if raw.startswith(signature):
            return _Fail("binary", f"starts with the signature of a {what}")
    if b"\x00" in raw:
        return _bomless_utf16(raw) or _Fail("binary", f"{raw.count(0)} NUL bytes and no UTF-16/32 BOM")
    return _utf8(raw) or _detected(raw, detect)


def _with_bom(body: bytes, name: str, codec: str, label: str) -> _Text | _Fail:
    found = _utf8(body, len(codecs.BOM_UTF8)) if codec == "utf-8" else _strict(body, codec)
    if found is None:
        return _Fail("decode", f"has a {label} byte-order mark but the rest is not {label}")
    bom = Repair("bom", f"{label} byte-order mark removed")
    return _Text(found.text, name, 1.0, (bom, *found.repairs))


def _strict(data: bytes, codec: str, confidence: float = 1.0) -> _Text | None:
    """``data`` decoded strictly; only an incomplete character at the very end may be dropped."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        text = decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return None
    pending = decoder.getstate()[0]
    if not pending:
        return _Text(text, codec, confidence, _reversible(text, data, codec))
    if codec.startswith(("big5", "cp950", "gb")) and not 0x81 <= pending[0] <= 0xFE:
        return None  # the CJK decoders buffer any trailing high byte, even one that starts nothing
    what = f"dropped {len(pending)} byte(s) of an incomplete {codec} character at the end"
    repair = Repair("truncated_tail", what)
    return _Text(text, codec, confidence, (repair,))


def _reversible(text: str, data: bytes, codec: str) -> tuple[Repair, ...]:
    """Nothing, or a note when the codec maps two byte sequences to one character (cp932, big5)."""
    if codec == "utf-8" or text.encode(codec, errors="replace") == data:
        return ()
    return (Repair("irreversible", f"{codec} reads some byte sequences as characters it writes differently"),)


def _utf8(data: bytes, base: int = 0) -> _Text | None:
    """``data`` as UTF-8: strict, with damaged characters, or with pasted-in lines; ``base`` is
    the offset of ``data`` in the file (after a BOM), for the offsets repairs report."""
    return _strict(data, "utf-8") or _damaged_utf8(data, base) or _mixed_lines(data)


def _damaged_utf8(data: bytes, base: int) -> _Text | None:
    """A UTF-8 file with a few damaged characters (``utf8_damage``), each replaced by U+FFFD.

    Repaired, not rejected, like a truncated tail: one bad byte does not cost a report, the
    repair names its byte offset and line, and the U+FFFD marks the place in the text (where
    ``checks`` warns the clerk); dropping the bytes would hide that a character is missing.
    At least ``MIXED_MIN_UTF8_SHARE`` of the non-ASCII bytes must decode, so that a short line
    in another encoding is not taken for damage.
    """
    spans = damaged_spans(data)
    tail = _strict(data[spans[-1][1] :], "utf-8") if spans else None
    if not spans or tail is None:
        return None
    share = decoded_share(data, spans)
    if share < MIXED_MIN_UTF8_SHARE:
        return None
    text = replaced(data, spans) + tail.text
    return _Text(text, "utf-8", share, damage_repairs(data, spans, base) + tail.repairs)


def _mixed_lines(data: bytes) -> _Text | None:
    """A UTF-8 file with some lines in GB18030/Big5, each such line decoded on its own."""
    lines = data.split(b"\n")
    texts: list[str] = []
    repairs: list[Repair] = []
    used: list[str] = []
    non_ascii = sum(1 for line in lines if not line.isascii())
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        found = _strict(line, "utf-8") if last else _utf8_line(line)
        if found is None:
            found = _other_line(line, last)
            if found is None:
                return None
            used.append(found.encoding)
            if (non_ascii - len(used)) < MIXED_MIN_UTF8_SHARE * non_ascii:
                return None  # already too few UTF-8 lines (the test below), e.g. a GB18030 file
            what = f"line {number} is not UTF-8; decoded as {found.encoding}"
            repairs.append(Repair("mixed_line", what, number))
        texts.append(found.text)
        repairs.extend(found.repairs)
    if not used or (non_ascii - len(used)) < MIXED_MIN_UTF8_SHARE * non_ascii:
        return None
    encoding = "+".join(["utf-8", *sorted(set(used), key=MIXED_LINE_CODECS.index)])
    return _Text("\n".join(texts), encoding, (non_ascii - len(used)) / non_ascii, tuple(repairs))


def _utf8_line(line: bytes) -> _Text | None:
    try:
        return _Text(line.decode("utf-8"), "utf-8", 1.0)
    except UnicodeDecodeError:
        return None


def _other_line(line: bytes, last: bool) -> _Text | None:
    for codec in MIXED_LINE_CODECS:
        found = _strict(line, codec)
        if found is not None and (last or not found.repairs):
            return found
    return None


def _bomless_utf16(raw: bytes) -> _Text | None:
    """UTF-16 without a BOM, in the byte order that reads as plausible text (``utf16``)."""
    codec = bomless_codec(raw)
    return None if codec is None else _strict(raw, codec, confidence=0.9)


def _detected(raw: bytes, detect: Detector) -> _Text | _Fail:
    """Ask the detector on a prefix, then on everything; decode strictly with its answer."""
    guess: str | None = None
    for sample in (raw[:DETECT_PREFIX], raw) if len(raw) > DETECT_PREFIX else (raw,):
        name, confidence = detect(sample)
        if name is None:
            continue
        guess = name
        for codec in _codecs_for(name):
            found = _strict(raw, codec, confidence)
            if found is not None:
                return _unless_noise(found, raw)
    if guess is None:
        return _Fail("binary", "no text encoding fits these bytes (the detector found none)")
    return _Fail("decode", f"not valid in any encoding tried; best guess {guess}")


def _unless_noise(found: _Text, raw: bytes) -> _Text | _Fail:
    """An unsure single-byte code page for mostly high bytes (chardet's answer for noise and
    for CJK it cannot place, e.g. cp737) is not a reading of the text: no Han can come of it."""
    single_byte = len(found.text) == len(raw)
    high = len(raw.translate(None, _ASCII_BYTES))
    if single_byte and found.confidence < NOISE_CONFIDENCE and high > 0.3 * len(raw):
        return _Fail("binary", f"{found.encoding} at confidence {found.confidence:.2f} for mostly high bytes")
    return found


def _codecs_for(name: str) -> tuple[str, ...]:
    key = name.lower().replace("_", "-")
    if key in _FAMILIES:
        return _FAMILIES[key]
    try:
        codec = codecs.lookup(key).name
    except LookupError:
        return ()
    if codec.startswith(_UNICODE) and codec.endswith("-sig"):
        return (codec.removesuffix("-sig"),)
    return (codec,)


def is_euc_tw(raw: bytes) -> bool:
    """True when every non-ASCII byte of ``raw`` is part of an EUC-TW character and there are at
    least ``EUC_TW_MIN_CHARS`` of them (a byte or two fit too many encodings to name one)."""
    high = len(raw.translate(None, _ASCII_BYTES))
    if high < 2 * EUC_TW_MIN_CHARS or len(raw.translate(None, _NOT_EUC_TW)) < len(raw):
        return False
    return _EUC_TW.fullmatch(raw) is not None


def _looks_random(text: str) -> bool:
    """Control, private-use, unassigned or replacement characters: bytes, not a text."""
    if not text:
        return False
    junk = len(_JUNK.findall(text))
    head = text[:4096]
    # Categories looked up once per distinct character (a few hundred in 4096), not per character.
    junk_head = sum(head.count(ch) for ch in set(head) if unicodedata.category(ch) in ("Cn", "Cs"))
    return junk / len(text) > MAX_JUNK_SHARE or junk_head / len(head) > MAX_JUNK_SHARE


def _longest_line(text: str, limit: int) -> int:
    """Length of the longest line, looked at only when the text could hold a longer one."""
    if len(text) <= limit:
        return len(text)
    return max(map(len, text.splitlines()))
