"""The per-submission stages, ingest → repeats, as one pure function a worker can run.

``process_submission`` touches nothing outside its arguments; ``process_located`` also reads the
file. A worker runs them over a chunk of files and stores the results in the vault
(``store.worker.process_chunk``).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from archiver.config import Config
from archiver.records import (
    Cleaned,
    Decoded,
    Passage,
    Processed,
    Rejection,
    Repeat,
    Section,
    Submission,
    Unchanged,
    Warning_,
)
from archiver.stages import checks, clean, decode, fingerprint, ingest, script_checks, split
from archiver.stages import repeats as match
from archiver.stages.origin import Origin

T = TypeVar("T")
NEAR_REPEAT_MAX = 20  # near_repeat warnings listed per file; the last one counts the rest
_NON_ASCII = re.compile("[^\x00-\x7f]")


Outcome = Processed | Rejection | Unchanged


def process_located(located: ingest.Located, config: Config, known_sha512: str | None = None) -> Outcome:
    """Read one file and run every per-submission stage on it."""
    try:
        submission = ingest.read(located, config.ingest)
    except OSError as exc:
        empty = Submission(located.path, located.relpath, b"", "", None, None, located.order)
        return Rejection(empty, "unreadable", f"cannot read the file: {exc.strerror or exc}")
    if known_sha512 is not None and submission.sha512 == known_sha512:
        return Unchanged(located, submission.sha512, len(submission.raw))
    return process_submission(submission, config)


def process_submission(submission: Submission, config: Config) -> Processed | Rejection:
    """decode → clean → split → fingerprint → repeats, with the time each stage took; a
    ``Rejection`` when decode rejects the bytes or clean leaves no text."""
    timings: dict[str, float] = {}

    def timed(stage: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = call()
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
        return result

    decoded = timed("decode", lambda: decode.decode(submission, config.decode))
    if isinstance(decoded, Rejection):
        return decoded
    cleaned = timed("clean", lambda: clean.clean(decoded, config.clean))
    if not cleaned.text.strip():
        return _nothing_left(cleaned)
    sections, passages = timed("split", lambda: split.split(cleaned.text, config.split))
    prints = timed("fingerprint", lambda: fingerprint.fingerprint(passages, config.fingerprint))
    repeats = timed("match", lambda: match.find_repeats(passages, prints, config.match, config.fingerprint))
    text = match.remove_repeats(cleaned.text, passages, repeats)
    removed = {r.passage for r in repeats if r.removed}
    kept = [p for p in passages if p.index not in removed]
    if removed:
        sections, kept = timed("split", lambda: _resplit(text, kept, config))
    warnings = timed("checks", lambda: checks.check(text, sections, config.checks))
    warnings += _repeat_warnings(repeats, kept)  # both copies of a warned repeat are kept
    warnings += _encoding_warnings(decoded, text)
    removed_passages = [p for p in passages if p.index in removed]
    warnings += timed("checks", lambda: _script_warnings(cleaned, removed_passages, text))
    title = split.title_of(passages)
    return Processed(
        decoded=decoded,
        cleaned=cleaned,
        warnings=warnings,
        sections=sections,
        passages=tuple(kept),
        removed=tuple(p for p in passages if p.index in removed),
        fingerprints=prints,
        repeats=repeats,
        text=text,
        title=title,
        year=submission.year or ingest.year_from_title(title, config.ingest.years),
        timings=timings,
    )


def _nothing_left(cleaned: Cleaned) -> Rejection:
    """The rejection of a submission whose text clean removed entirely. Decode saw characters
    that are not whitespace, so they were invisible ones (zero-width, C0/C1 controls, BOMs):
    no text to archive, only the bytes, like an ``empty`` file."""
    submission = cleaned.decoded.submission
    detail = f"no text after cleaning: only zero-width/control characters ({len(submission.raw)} bytes)"
    return Rejection(submission, "empty", detail)


def _resplit(text: str, kept: Sequence[Passage], config: Config) -> tuple[tuple[Section, ...], list[Passage]]:
    """Sections of the archived text, and the kept passages re-based onto it (same indices)."""
    sections, again = split.split(text, config.split)
    if [p.text for p in again] == [p.text for p in kept]:
        return sections, [dataclasses.replace(p, index=k.index) for p, k in zip(again, kept, strict=True)]
    # The split is not stable around a removal: locate each kept passage in order instead.
    starts = [s.start for s in sections]
    rebased, cursor = [], 0
    for passage in kept:
        start = text.find(passage.text, cursor)
        start = cursor if start < 0 else start
        cursor = start + len(passage.text)
        section = _deepest(sections, bisect.bisect_right(starts, start) - 1, start)
        rebased.append(dataclasses.replace(passage, start=start, end=cursor, section=section))
    return sections, rebased


def _deepest(sections: Sequence[Section], last_started: int, offset: int) -> int:
    """The innermost section whose span holds ``offset``, searching back from ``last_started``."""
    for index in range(last_started, -1, -1):
        if sections[index].start <= offset < sections[index].end:
            return index
    return max(last_started, 0)


def _script_warnings(cleaned: Cleaned, removed: Sequence[Passage], text: str) -> tuple[Warning_, ...]:
    """``script_checks``' warnings, when the text could have any (the offset maps cost a pass)."""
    legacy_question = "?" in cleaned.decoded.text and not cleaned.decoded.encoding.startswith("utf")
    dropped = next(script_checks.dropped_places(cleaned.decoded.encoding, text), None)
    if not (cleaned.converted_script or legacy_question or dropped or clean.has_traditional(text)):
        return ()
    origin = Origin.shared(cleaned.changes, match.removal_spans(cleaned.text, removed))
    return script_checks.script_warnings(cleaned, origin, text)


def _encoding_warnings(decoded: Decoded, text: str) -> tuple[Warning_, ...]:
    """A warning at the first non-ASCII character when decode's reading is an unsure guess of a
    single-byte code page (``decode.unsure_single_byte``): the decision stands, the clerk checks."""
    first = _NON_ASCII.search(text)
    if first is None or not decode.unsure_single_byte(decoded):
        return ()
    message = f"read as {decoded.encoding} at confidence {decoded.confidence:.2f}, a guess; check the letters"
    zh = f"文件按 {decoded.encoding} 编码读取，只是推测（把握 {decoded.confidence:.0%}）"
    advice = "核对文中的字母和符号是否与原件一致。"
    return (Warning_("encoding", message, first.group(), first.start(), first.end(), zh, advice),)


def _repeat_warnings(repeats: Sequence[Repeat], passages: Sequence[Passage]) -> tuple[Warning_, ...]:
    """A warning for every near repeat that was kept (spans in the archived text): the clerk
    decides; at most ``NEAR_REPEAT_MAX``, as a log-like file of alike lines has thousands."""
    by_index = {p.index: p for p in passages}
    warned = [_near_repeat(r, by_index[r.passage], by_index[r.of]) for r in repeats if not r.removed]
    return tuple(checks.capped(warned, NEAR_REPEAT_MAX))


def _near_repeat(repeat: Repeat, passage: Passage, of: Passage) -> Warning_:
    quote = of.text if len(of.text) <= 20 else of.text[:20] + "…"
    return Warning_(
        "near_repeat",
        f"passage {repeat.passage} is {repeat.similarity:.0%} similar to passage {repeat.of}; kept, check it",
        passage.text,
        passage.start,
        passage.end,
        f"这一段与前文“{quote}”有{repeat.similarity:.0%}相同，两段都保留了",
        "确认是否重复粘贴；如是，删去多余的一段。",
    )
