"""The frozen records that flow between the stages.

ingest → ``Submission``; decode → ``Decoded`` (or ``Rejection``); clean → ``Cleaned``;
checks → ``Warning_``s; split → ``Section``s and ``Passage``s; fingerprint → ``Fingerprint``s;
the per-submission work ends in a ``Processed`` (or a ``Rejection``), which the coordinator
matches against the archive and files.

Offsets (``start``/``end``) are Python string indices, end exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

RejectReason = Literal["empty", "binary", "decode", "oversize_line", "unreadable"]
PassageKind = Literal["title", "heading", "para", "meta"]


@dataclass(frozen=True)
class Submission:
    """One file as received: its bytes and what its place in the inbox says about it."""

    path: Path  # absolute path on disk
    relpath: str  # posix path relative to the inbox root, e.g. "jtj/2024/2024-report.txt"
    raw: bytes
    sha512: str
    authority: str | None
    year: int | None  # from the path layout; the title line may supply it later
    order: int = 0  # position in the run's sorted listing: the "arrival" tie-break


@dataclass(frozen=True)
class Repair:
    """Something decode had to do to the bytes to get text (never silent)."""

    kind: str  # "bom", "truncated_tail", "mixed_line", ...
    detail: str
    line: int | None = None  # 1-based line number where it applies


@dataclass(frozen=True)
class Decoded:
    submission: Submission
    text: str
    encoding: str  # the codec actually used, e.g. "utf-8", "gb18030", "big5", "utf-16"
    confidence: float  # 1.0 for BOM / strict UTF-8; chardet's confidence otherwise
    repairs: tuple[Repair, ...] = ()


@dataclass(frozen=True)
class Rejection:
    """A submission that cannot be archived as text; its bytes are still kept."""

    submission: Submission
    reason: RejectReason
    detail: str  # one line, for the operator


@dataclass(frozen=True)
class Change:
    """One edit made by clean.

    ``start``/``end`` locate ``before`` in the text as it stood when that step ran (steps
    run in the order of ``clean.STEPS``); ``after`` is what replaced it.
    """

    kind: str  # "pinyin", "t2s", "punctuation", "nfc", "invisible", "newline", "indent", "heading_split"
    step: str
    start: int
    end: int
    before: str
    after: str


@dataclass(frozen=True)
class Cleaned:
    decoded: Decoded
    text: str  # repaired text, before repeats are removed
    changes: tuple[Change, ...]
    converted_script: bool  # True when Traditional → Simplified was applied


@dataclass(frozen=True)
class Warning_:
    """A pre-filing warning for the clerk; never an edit."""

    kind: str  # "placeholder", "no_punctuation", "numbering", "mojibake"
    message: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Section:
    level: int  # 1 一、  2 （一）  3 1.  4 （1）; 0 for the part before the first heading
    number: str  # "一", "（一）", "1", ...; "" for level 0
    heading: str  # the heading line as written
    start: int  # span of the whole section (heading included) in the text
    end: int


@dataclass(frozen=True)
class Passage:
    index: int  # position in the submission
    kind: PassageKind
    start: int
    end: int
    text: str
    section: int  # index into the submission's sections


@dataclass(frozen=True)
class Fingerprint:
    """The hash form of one passage. ``signature`` is None for passages too short to shingle."""

    passage: int  # Passage.index
    exact: str  # hex digest of the normalised text
    normalised_chars: int
    signature: bytes | None  # num_perm little-endian uint32 hash values (datasketch order)
    normalised: str = ""  # the normalised text itself, so later stages need not redo t2s


@dataclass(frozen=True)
class Repeat:
    """A passage of a submission that repeats an earlier passage of the same submission."""

    passage: int
    of: int
    similarity: float
    removed: bool  # True at or above remove_at; below it the clerk is warned instead


@dataclass(frozen=True)
class Processed:
    """Everything the per-submission stages learned; the input to matching and archiving."""

    decoded: Decoded
    cleaned: Cleaned
    warnings: tuple[Warning_, ...]
    sections: tuple[Section, ...]
    passages: tuple[Passage, ...]  # the kept passages, spans in ``text``
    removed: tuple[Passage, ...]  # removed repeats, spans in ``cleaned.text``
    fingerprints: tuple[Fingerprint, ...]  # one per passage, kept and removed, by Passage.index
    repeats: tuple[Repeat, ...]
    text: str  # the archived cleaned text: ``cleaned.text`` without removed repeats
    title: str
    year: int | None
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def submission(self) -> Submission:
        return self.decoded.submission
