"""The records that flow between the stages, and the results the commands return.

ingest → ``Submission``; decode → ``Decoded`` (or ``Rejection``); clean → ``Cleaned``;
checks → ``Warning_``s; split → ``Section``s and ``Passage``s; fingerprint → ``Fingerprint``s;
the per-submission work ends in a ``Processed`` (or a ``Rejection``), which a worker stores in
the vault (``Stored``; ``Unchanged`` when the file is already its document's head). The
coordinator files a batch of results (``Filed``, with its ``NewParagraph``s), links them
(``LinkStats``) and sums a run up in a ``RunSummary`` (``ReindexSummary`` for a reindex).

Offsets (``start``/``end``) are Python string indices, end exclusive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from archiver import runlog

if TYPE_CHECKING:  # ingest imports this module
    from archiver.stages.ingest import Located

RejectReason = Literal["empty", "binary", "decode", "oversize", "oversize_line", "unreadable"]
# "chrome": a web-page leftover line (buttons, 原文链接：…, breadcrumbs, URLs), not content: it is
# never fingerprinted, so it never counts as reuse (see ``split.is_chrome``).
PassageKind = Literal["title", "heading", "para", "meta", "chrome"]

_Record = TypeVar("_Record")


def built(cls: type[_Record], fields: dict[str, Any]) -> _Record:
    """``cls(**fields)`` without the frozen dataclass's ``__init__``, which sets each field
    through ``object.__setattr__``: given its ``__dict__`` at once it is the same object (equal,
    same hash, repr and pickle), made for less (bench/README.md). For the records made by the hundred
    thousand (``Change``, ``Passage``, ``Fingerprint``), which have no ``__post_init__`` or
    slots; ``fields`` must name every field, defaults included (tests/test_records.py)."""
    made = object.__new__(cls)
    object.__setattr__(made, "__dict__", fields)
    return made


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
    """A pre-filing warning for the clerk; never an edit.

    ``message`` is English, for tools and logs; ``message_zh`` says in Chinese what was found
    and ``advice_zh`` what the clerk should do about it.
    """

    kind: str  # "placeholder", "no_punctuation", "numbering", "mojibake", "script", "chrome", ...
    message: str
    text: str
    start: int
    end: int
    message_zh: str = ""
    advice_zh: str = ""


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
    # A signed passage's anchors (``fingerprint.anchors``) as little-endian uint32: computed
    # here, on the workers, the coordinator only writes their rows.
    anchors: bytes = b""


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


@dataclass(frozen=True)
class Unchanged:
    """The file's bytes are already the head version of its document: nothing to do."""

    located: Located
    sha512: str
    size: int


@dataclass(frozen=True)
class Prepared:
    """A processed submission's rows as ``store.filing`` writes them, made by the worker
    (``filing.prepare``) so that the coordinator only adds ids: without the submission's id and
    its passages' ids, which the coordinator takes. Positions count the passages in index order."""

    passages: tuple[tuple[Any, ...], ...]  # ``filing.PASSAGE_COLUMNS`` after submission_id
    sections: tuple[tuple[Any, ...], ...]  # ``filing.SECTION_COLUMNS`` after submission_id
    repeats: tuple[tuple[int, int, float, str], ...]  # positions of passage and of, similarity, action
    # The reusable kept paragraphs: position, exact, signature, normalised, anchors.
    paragraphs: tuple[tuple[int, str, bytes | None, str, bytes], ...]
    year: int | None  # ``Processed.year``


@dataclass(frozen=True)
class Stored:
    """A processed submission whose object version is in the vault; its bytes stay behind."""

    # Slimmed for the trip back to the coordinator (``objects._for_filing``): the submission's
    # bytes, the decoded and repaired texts and the list of changes are in the vault, not here.
    outcome: Processed | Rejection
    size: int
    version: str
    written: bool  # False when the vault already held exactly this content
    # The clerk's report without its changes (archived submissions only), as the JSON text the
    # column's type would make of it (``bulk.JSONText``): encoded by the worker, not the coordinator.
    report: str | None
    # Its share of its group commit's wall time (staging; in a Dask worker also both barriers and
    # the renames, which a run's coordinator otherwise makes: its "land" stage): the run's
    # "archive" stage. A group commit is one unit of work, so it is split evenly.
    archive_seconds: float = 0.0
    rows: Prepared | None = None  # an archived submission's (``filing.prepare``)


Result = Stored | Unchanged  # what a worker returns for each file


@dataclass(frozen=True)
class NewParagraph:
    """A kept paragraph just inserted, as the linker needs it."""

    id: int
    submission_id: int
    exact: str
    signature: bytes | None
    normalised: str
    year: int | None  # the submission's: a group's canonical passage is its earliest by year
    anchors: bytes  # ``Fingerprint.anchors``


@dataclass(frozen=True)
class Filed:
    new_documents: int
    new_versions: int  # changed files at known places
    paragraphs: tuple[NewParagraph, ...]  # kept paragraphs for the cross-submission linker
    first_passage_ids: dict[int, int] = field(default_factory=dict)  # submission id → its first passage's
    # The passages' rows, their ids taken but not yet written (``filing.file_passages``): for
    # each submission, its first passage's id, its id and its ``Prepared.passages``.
    passages: tuple[tuple[int, int, tuple[tuple[Any, ...], ...]], ...] = ()


@dataclass
class LinkStats:
    candidates: int = 0
    links: int = 0
    new_groups: int = 0
    copies: int = 0
    band_rows: int = 0  # added to the index, as blocks (``levels.write_blocks``)
    spans: int = 0  # aligned regions of pairs (linked or not)


@dataclass
class RunSummary:
    run_id: int = 0
    files: int = 0
    bytes: int = 0
    new: int = 0  # documents seen for the first time
    new_versions: int = 0  # a changed file at a known place
    unchanged: int = 0
    archived: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    clashes: int = 0  # files skipped: the same path as a file of an earlier inbox of the run
    repeats_removed: int = 0
    repeats_warned: int = 0
    passages: int = 0
    links: int = 0
    compacted: int = 0  # band rows merged from the recent level into the main index
    rejected_files: list[str] = field(default_factory=list)  # the first flow.REJECTED_SHOWN, "path (reason)"
    warned: dict[str, int] = field(default_factory=dict)  # warning kind → files with it
    warned_files: dict[str, list[str]] = field(default_factory=dict)  # kind → the first runlog.SHOWN_NAMES
    layout_problems: int = 0  # files the [ingest] layout takes no authority or year from
    identical: int = 0  # new files byte-identical to a document archived under another path
    withdrawn: int = 0  # documents whose file has left the inbox since the last run
    returned: int = 0  # documents whose file is back
    restored: int = 0  # known, unchanged files whose object was missing from the vault
    seconds: float = 0.0
    # CPU seconds of the run's own process (its threads, not its worker processes): with
    # workers, the coordinator's busy time, none of the time it waits for them.
    cpu_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stage_seconds"] = {k: round(v, 3) for k, v in sorted(self.stage_seconds.items())}
        data["seconds"] = round(self.seconds, 3)
        data["cpu_seconds"] = round(self.cpu_seconds, 3)
        return data

    def lines(self) -> list[str]:
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(self.rejected.items())) or "none"
        lines = [
            f"run {self.run_id}: {self.files} files, {self.bytes / 1e6:.2f} MB in {self.seconds:.1f} s",
            f"  new {self.new}, new versions {self.new_versions}, unchanged {self.unchanged}",
            f"  archived {self.archived}, rejected {sum(self.rejected.values())} ({rejected})",
        ]
        if self.rejected_files:
            see = f"see `archiver runs show {self.run_id}` or logs/run-{self.run_id}.log"
            lines.append(
                f"    rejected: {runlog.names(self.rejected_files, sum(self.rejected.values()), see)}"
            )
        lines += [
            f"  passages {self.passages}, repeats removed {self.repeats_removed}, "
            f"warned {self.repeats_warned}, cross links {self.links}",
        ]
        if self.compacted:
            lines.append(f"  compacted the band index: {self.compacted} rows merged")
        if self.restored:
            lines.append(
                f"  restored {self.restored} objects missing from the vault, from their unchanged "
                "files in the inbox (`archiver verify` names any earlier versions lost)"
            )
        see = f"see `archiver runs show {self.run_id}`"
        if self.layout_problems:
            lines.append(
                f"  layout: {self.layout_problems} files without an authority or year from their path ({see})"
            )
        if self.identical:
            lines.append(f"  identical: {self.identical} new files are copies of archived documents ({see})")
        if self.withdrawn or self.returned:
            lines.append(f"  left the inbox {self.withdrawn}, back in it {self.returned} ({see})")
        if self.clashes:
            lines.append(f"  skipped {self.clashes}: path also in an earlier inbox (see the run's events)")
        return lines


@dataclass
class ReindexSummary:
    passages: int = 0
    signed: int = 0
    links: int = 0
