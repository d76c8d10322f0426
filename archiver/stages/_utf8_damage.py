"""utf8_damage: the damaged characters of a UTF-8 file that is otherwise valid.

``damaged_spans(data) -> [(start, end), ...] | None``; ``decoded_share``, ``replaced`` and
``damage_repairs`` say how much of the file that leaves, the text and the ``Repair``s.

A byte lost, cut or overwritten in transfer leaves one damaged character: a lead byte with fewer
continuation bytes than it needs (its last byte lost, or the file cut there and more text
appended later), or one to three continuation bytes whose lead byte was lost. Text in another
encoding fails UTF-8 differently: a GBK/Big5/GB18030 pair such as ``D5 FE`` is a lead byte
followed by a byte that can neither continue nor start a character, and such failures come one
after another, so their runs of undecodable bytes do not have the shape of one damaged
character, or are too many.
"""

from __future__ import annotations

import codecs
import re

from archiver.records import Repair

# More damaged characters than this and the file is not "UTF-8 with a damaged character" but
# something else (another encoding, a pasted-in line): the later readings get their turn.
MAX_DAMAGED = 8
_ASCII_BYTES = bytes(range(128))
# One damaged character: a lead byte and fewer continuation bytes than it needs, or the
# continuation bytes of a character whose lead byte was lost.
_ONE_DAMAGED = re.compile(
    rb"[\xc2-\xdf]|[\xe0-\xef][\x80-\xbf]?|[\xf0-\xf4][\x80-\xbf]{0,2}"  # a lead, too few after it
    rb"|[\x80-\xbf]{1,3}"  # the rest of a character whose lead was lost
)


def damaged_spans(data: bytes) -> list[tuple[int, int]] | None:
    """Byte spans of the damaged characters in ``data``, in order; None when a run of
    undecodable bytes is not one damaged character or there are more than ``MAX_DAMAGED``.

    An incomplete character at the very end is not a span: that is the truncated tail.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    while len(spans) <= MAX_DAMAGED:
        try:
            codecs.utf_8_decode(memoryview(data)[pos:], "strict", False)  # final=False: tail pends
        except UnicodeDecodeError as exc:
            start, pos = pos + exc.start, pos + exc.end
            if spans and spans[-1][1] == start:
                start = spans.pop()[0]  # CPython reports a lost lead's continuation bytes one by one
            spans.append((start, pos))
            continue
        return spans if all(_ONE_DAMAGED.fullmatch(data, s, e) for s, e in spans) else None
    return None


def decoded_share(data: bytes, spans: list[tuple[int, int]]) -> float:
    """Share of the non-ASCII bytes of ``data`` outside the damaged ``spans``."""
    damaged = sum(end - start for start, end in spans)
    return 1 - damaged / max(len(data.translate(None, _ASCII_BYTES)), 1)


def replaced(data: bytes, spans: list[tuple[int, int]]) -> str:
    """``data`` up to the end of the last span decoded, each span replaced by U+FFFD."""
    starts = [0, *(end for _, end in spans)]  # each piece runs from a span's end to the next start
    pieces = (data[start:end].decode("utf-8") for start, (end, _) in zip(starts, spans, strict=False))
    return "".join(piece + "\ufffd" for piece in pieces)


def damage_repairs(data: bytes, spans: list[tuple[int, int]], base: int = 0) -> tuple[Repair, ...]:
    """One ``Repair("damaged_utf8")`` per span, with its byte offset (``base`` + offset in ``data``)
    and line."""
    return tuple(
        Repair(
            "damaged_utf8",
            f"byte offset {base + start}: {end - start} byte(s) of a damaged UTF-8 character"
            " replaced by U+FFFD",
            data.count(b"\n", 0, start) + 1,
        )
        for start, end in spans
    )
