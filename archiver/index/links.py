"""The persistent LSH index and cross-submission links, in the database.

Exact duplicates are collapsed first: the first kept paragraph with a given normalised text is
its group's *representative* (``passages.rep_id``); only representatives carry band keys and
links, so a template copied by a thousand townships is one bucket entry, not a thousand. A
passage matches every passage of its own group (similarity 1.0) and every passage of a group
linked to it (the link's verified Jaccard).

A batch's candidates are looked up by the lookup tasks (``Lookup``) on the run's workers, each
reading the index's committed rows in its passages' buckets by key and judging which of the
batch's rows the index holds (their bucket has room), then verified by the exact Jaccard of the
shingle sets before a link is written. The coordinator adds to the index the rows the tasks
found fitting, in bulk.
Work per night depends on the night's passages and the buckets they hit, not on the size of the
archive.

The band index has two levels (``levels``), like a log-structured merge tree: the main B-tree
and the batches' blocks; every lookup reads both.

Buckets are bounded so that no input can make that work quadratic (``buckets``), and each new
passage verifies at most ``max_candidates`` candidates, those sharing the most bands. Passages
of the passage's own submission are never candidates (repeats inside a file are
``match.find_repeats``'s job), which the lookup excludes by id: a submission's passages have
consecutive ids, filed together, and a batch's come after every earlier batch's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from archiver.config import FingerprintConfig, MatchConfig
from archiver.errors import ParameterMismatch
from archiver.index import _buckets as buckets
from archiver.index import levels
from archiver.index import spans as stored_spans
from archiver.index._stars import Known, StarChanges, canonical_updates, seniority, write_canonicals
from archiver.records import LinkStats, NewParagraph
from archiver.stages import verify
from archiver.store import db
from archiver.store.bulk import chunks, fetch_sql, insert_tuples, placeholder, update_rows
from archiver.store.db import MATCH_COLUMNS, MatchRow, Meta, PassageBand, PassageRow, table


def pin_parameters(session: Session, parameters: dict[str, Any]) -> None:
    """Record the fingerprint parameters on first use; refuse to mix with different ones."""
    stored = session.get(Meta, "fingerprint")
    if stored is None:
        session.add(Meta(key="fingerprint", value=dict(parameters)))
        session.flush()
        return
    if stored.value != parameters:
        differing = sorted(
            k for k in set(stored.value) | set(parameters) if stored.value.get(k) != parameters.get(k)
        )
        raise ParameterMismatch(
            "the archive was fingerprinted with other settings ("
            + ", ".join(f"{k}: {stored.value.get(k)!r} → {parameters.get(k)!r}" for k in differing)
            + "); run `archiver reindex` to recompute every signature, "
            "or restore the old [fingerprint] settings"
        )


def set_parameters(session: Session, parameters: dict[str, Any]) -> None:
    row = session.get(Meta, "fingerprint")
    if row is None:
        session.add(Meta(key="fingerprint", value=dict(parameters)))
    else:
        row.value = dict(parameters)
    session.flush()


def link(
    session: Session,
    paragraphs: Sequence[NewParagraph],
    config: FingerprintConfig,
    match: MatchConfig,
    verify_all: VerifyAll | None = None,
    firsts: Mapping[int, int] | None = None,
    file_passages: FilePassages | None = None,
    known: Known | None = None,
) -> LinkStats:
    """Group, index and link a batch of new paragraphs (in id order), bringing the canonical
    passages of the stars it added to up to date (``canonical_updates``); returns the statistics.
    ``verify_all`` judges the candidates (default: in this process). ``firsts``: the first
    passage id of each of the paragraphs' submissions where the caller knows them (filing does),
    else read here. ``file_passages``: where the batch's passage rows are not written yet (a
    run's, ``filing.file_passages``), it writes them given each paragraph's group and canonical
    passage; without it the paragraphs' rows are there already (reindex) and are updated.
    ``known``: what the session knows of the stars (``_stars.Known``), kept up to date.
    """
    stats = LinkStats()
    reps, centres = _existing_reps(session, sorted({p.exact for p in paragraphs}))
    new_reps: list[NewParagraph] = []
    for paragraph in paragraphs:
        if reps.setdefault(paragraph.exact, paragraph.id) == paragraph.id:
            new_reps.append(paragraph)
        else:
            stats.copies += 1
    stats.new_groups = len(new_reps)
    indexed = [p for p in new_reps if p.signature is not None]
    night = _night_rows(session, indexed, config, firsts)

    here = partial(find_here, config=config, match=match)
    tasks = placed_lookups(night, indexed, run_token(session))
    found = (verify_all or here)([task for task, _ in tasks], session.connection())
    stats.band_rows = _add_bands(session.connection(), night, [at for _, at in tasks], found)
    stats.candidates = sum(f.candidates for f in found)
    links, spans = _written(found)
    insert_tuples(session.connection(), table(MatchRow), links, MATCH_COLUMNS)
    stored_spans.write(session.connection(), verify.int_rows(spans, len(SPAN_COLUMNS)))
    stats.spans = len(spans)
    stats.links = len(links)
    pairs = tuple((new, other) for new, other, *_ in links)
    linked = {new for new, _ in pairs} | {other for _, other in pairs}
    alone = {p.id for p in new_reps} - linked
    earliest = _earliest_members(paragraphs, reps)
    gained = {rep: key for rep, key in earliest.items() if rep not in alone}
    born = frozenset(p.id for p in new_reps) - alone
    # A group born in this batch that no link touches is a star of one group: every member is
    # in the batch, so its canonical passage is its earliest member, known without asking the
    # database. Most groups of new text are such. The others' canonicals are worked out before
    # the batch's rows are written, so that each member of a group born in the batch (all of
    # them are the batch's) is written once, its canonical with its group; a copy joining an
    # older group is given that group's canonical, as stored or as moved, and the older members
    # of a moved group are updated after.
    moved = canonical_updates(session, StarChanges(gained, pairs, born), known)
    if known is not None:
        lone = {rep: earliest[rep] for rep in alone}
        known.remember(lone, lone)
    canonicals = {rep: earliest[rep][1] for rep in alone} | centres | dict(moved)
    if file_passages is None:
        _write_groups(session, paragraphs, reps, canonicals)
    else:
        file_passages({p.id: (reps[p.exact], canonicals.get(reps[p.exact])) for p in paragraphs})
    write_canonicals(session, [(group, canonical) for group, canonical in moved if group not in born])
    return stats


def _earliest_members(paragraphs: Sequence[NewParagraph], reps: dict[str, int]) -> dict[int, tuple[int, int]]:
    """The ``stars.seniority`` of each group's most senior member among ``paragraphs``."""
    earliest: dict[int, tuple[int, int]] = {}
    for paragraph in paragraphs:
        rep = reps[paragraph.exact]
        key = seniority(paragraph.year, paragraph.id)
        earliest[rep] = min(earliest.get(rep, key), key)
    return earliest


def _write_groups(
    session: Session, paragraphs: Sequence[NewParagraph], reps: dict[str, int], canonicals: dict[int, int]
) -> None:
    """Set each paragraph's group (``rep_id``), and its canonical passage where ``canonicals``
    knows its group's."""
    only_rep: list[tuple[int, ...]] = []
    with_canonical: list[tuple[int, ...]] = []
    for paragraph in paragraphs:
        rep = reps[paragraph.exact]
        if rep in canonicals:
            with_canonical.append((paragraph.id, rep, canonicals[rep]))
        else:
            only_rep.append((paragraph.id, rep))
    connection, passages = session.connection(), table(PassageRow)
    update_rows(connection, passages, only_rep, ("id", "rep_id"))
    update_rows(connection, passages, with_canonical, ("id", "rep_id", "canonical_id"))


def _existing_reps(session: Session, hashes: Sequence[str]) -> tuple[dict[str, int], dict[int, int]]:
    """The representative of each exact hash already archived, and the canonical passage of
    each such group where it has one."""
    found: dict[str, int] = {}
    centres: dict[int, int] = {}
    for exact, id_, canonical in representatives_of(session.connection(), hashes):
        found[exact] = id_
        if canonical is not None:
            centres[id_] = canonical
    return found, centres


# The ``rep_id = id`` term is the condition of the partial index ``ix_passages_exact_rep``:
# with it the index answers.
REPRESENTATIVES_SQL = (
    f"SELECT exact, id, canonical_id FROM {PassageRow.__tablename__} "
    "WHERE exact IN ({listed}) AND rep_id = id"
)


def representatives_of(connection: Connection, hashes: Sequence[str]) -> list[tuple[str, int, int | None]]:
    """(exact, id, canonical id) of the representatives with these exact hashes, through the
    driver (``REPRESENTATIVES_SQL``; a batch asks for thousands)."""
    found: list[tuple[str, int, int | None]] = []
    for part in chunks(hashes):
        listed = ", ".join([placeholder(connection)] * len(part))
        found += fetch_sql(connection, REPRESENTATIVES_SQL.format(listed=listed), part)
    return found


def _night_rows(
    session: Session,
    paragraphs: Sequence[NewParagraph],
    config: FingerprintConfig,
    firsts: Mapping[int, int] | None = None,
) -> npt.NDArray[np.int64]:
    """The batch's band rows, sorted like the index, as the lookup tasks take them (``Lookup``):
    (band, key, passage id, first passage id of its submission, rank: rows of the batch before
    it in its bucket)."""
    signed = [p for p in paragraphs if p.signature is not None]
    rows = np.concatenate(
        [
            buckets.band_rows([(p.id, p.signature) for p in signed if p.signature is not None], config),
            buckets.computed_anchor_rows([(p.id, p.anchors) for p in signed], config),
        ]
    )
    if not len(rows):
        return np.empty((0, 5), np.int64)
    if firsts is None:
        firsts = _first_passage_ids(session, {p.submission_id for p in paragraphs})
    ids = np.array([p.id for p in paragraphs], dtype=np.int64)
    first_ids = np.array([firsts[p.submission_id] for p in paragraphs], dtype=np.int64)
    first_of_row = first_ids[positions(ids, rows[:, 2])]
    return np.column_stack([rows, first_of_row, buckets.rank(rows)])


# ``positions`` looks up through a table over the ids' range when it is at most this many times
# their number (a batch's passages are nearly consecutive), else by binary search.
POSITIONS_SPREAD = 64


def positions(ids: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """The index in ``ids`` (distinct) of each of ``values``, every one of which is in ``ids``.

    Through a table indexed by id where their range is narrow: ``np.searchsorted``'s binary
    search of each of a batch's tens of thousands of band rows cost more than the rest of
    ``_night_rows`` and ``lookups`` (``_plain_positions``: the tests compare the two)."""
    if not len(ids):
        return np.empty(0, dtype=np.intp)
    low, high = int(ids.min()), int(ids.max())
    if high - low >= POSITIONS_SPREAD * len(ids) + 1024:
        return _plain_positions(ids, values)
    table = np.empty(high - low + 1, dtype=np.intp)
    table[ids - low] = np.arange(len(ids))
    return np.asarray(table[values - low])


def _plain_positions(ids: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """``positions`` by binary search."""
    order = np.argsort(ids)
    return np.asarray(order[np.searchsorted(ids, values, sorter=order)])


def _add_bands(
    connection: Connection,
    night: npt.NDArray[np.int64],
    at: Sequence[npt.NDArray[np.intp]],
    found: Sequence[Found],
) -> int:
    """Add to the index, as the batch's blocks (``levels.write_blocks``), the band rows the lookup
    tasks found to fit their bucket (``Found.fitting``: every row of the batch is one task's),
    sorted like the index; returns how many. ``at``: where each task's rows are in ``night``
    (``placed_lookups``).

    The rows are taken from ``night`` itself, which is sorted like the index: no sort of the
    tasks' rows on the serial path, only a mark of each one found fitting."""
    if not found:
        return 0
    fits = np.zeros(len(night), dtype=bool)
    for positions, f in zip(at, found, strict=True):
        fits[positions[f.fitting]] = True
    rows = night[fits, :3]
    levels.write_blocks(connection, rows)
    return len(rows)


def _first_passage_ids(session: Session, submissions: set[int]) -> dict[int, int]:
    firsts: dict[int, int] = {}
    for part in chunks(sorted(submissions)):
        rows = session.execute(
            select(PassageRow.submission_id, func.min(PassageRow.id))
            .where(PassageRow.submission_id.in_(part))
            .group_by(PassageRow.submission_id)
        )
        firsts.update({int(sub): int(first) for sub, first in rows})
    return firsts


TASK_PASSAGES = 200  # new passages a lookup task looks up, verifies and aligns the candidates of


@dataclass(frozen=True, eq=False)
class Lookup:
    """A task's share of a batch's candidate lookup: some new passages (``passages``, in id
    order), the night's rows (``_night_rows``' columns) of every passage of the batch that
    shares a key with them, theirs included, and those passages' normalised texts (with
    submission ids). The index's rows below ``before`` (the batch's first indexed passage) are
    the committed ones; the batch's own rows it holds are those of ``rows`` that fit their
    bucket. ``run`` names the writing session (``run_token``): what a worker remembers of the
    archive holds for that session only (``earlier_texts``)."""

    passages: tuple[int, ...]
    rows: npt.NDArray[np.int64]
    texts: dict[int, tuple[int, str]]
    before: int
    run: str


@dataclass(frozen=True, eq=False)
class Found:
    """What a lookup task found: its verified candidates (``verify.tasks``' cut, in order), how
    many candidate pairs it had, which of its rows (``Lookup.rows``) are its own passages' that
    fit their bucket (the coordinator adds them to the index), and the seconds it took where it
    ran."""

    verified: tuple[verify.Verified, ...]
    candidates: int
    fitting: npt.NDArray[np.bool_]
    seconds: float


def run_token(session: Session) -> str:
    """A name for ``session`` no other session of any process shares: the scope of what a
    worker remembers of the archive (``earlier_texts``)."""
    token: str = session.info.setdefault("lookup_run", uuid.uuid4().hex)
    return token


def lookups(night: npt.NDArray[np.int64], indexed: Sequence[NewParagraph], run: str) -> list[Lookup]:
    """The batch's lookup tasks of the writing session ``run``: ``TASK_PASSAGES`` new passages
    each, in id order, each with the night's rows of every bucket its passages' rows fall in."""
    return [task for task, _ in placed_lookups(night, indexed, run)]


def placed_lookups(
    night: npt.NDArray[np.int64], indexed: Sequence[NewParagraph], run: str
) -> list[tuple[Lookup, npt.NDArray[np.intp]]]:
    """``lookups``, each task with the positions of its rows in ``night`` (``_add_bands``)."""
    if not len(night):
        return []
    ids = np.array([p.id for p in indexed], dtype=np.int64)
    task_of_row = positions(ids, night[:, 2]) // TASK_PASSAGES
    bucket = buckets.bucket_codes(night)
    wanted = np.zeros((int(bucket[-1]) + 1, int(task_of_row.max()) + 1), dtype=bool)
    wanted[bucket, task_of_row] = True  # bucket → the tasks that look it up
    texts = {p.id: (p.submission_id, p.normalised) for p in indexed}
    before = int(ids[0])
    out: list[tuple[Lookup, npt.NDArray[np.intp]]] = []
    for task in range(wanted.shape[1]):
        at = np.flatnonzero(wanted[bucket, task])
        rows = night[at]
        mine = ids[task * TASK_PASSAGES : (task + 1) * TASK_PASSAGES]
        involved = np.unique(rows[:, 2]).tolist()
        lookup = Lookup(tuple(mine.tolist()), rows, {pid: texts[pid] for pid in involved}, before, run)
        out.append((lookup, at))
    return out


def find_and_verify_stored(
    lookup: Lookup, config: FingerprintConfig, match: MatchConfig, database_url: str
) -> Found:
    """A worker's task: ``find_and_verify`` through this process's own read-only engine of
    ``database_url`` (``db.reading_engine``)."""
    with db.reading_engine(database_url).connect() as connection:
        return find_and_verify(lookup, config, match, connection)


def find_and_verify(
    lookup: Lookup, config: FingerprintConfig, match: MatchConfig, connection: Connection
) -> Found:
    """The candidates of ``lookup``'s passages, verified (``verify_here``): the archived passages
    sharing a key with them, read from the index's committed rows, and the batch's passages
    sharing one whose row the index holds, each new passage's ``max_candidates`` sharing the most
    band keys, and as many sharing the most anchors (``_most_shared``); the texts of the archived
    ones are read through ``connection``."""
    started = time.perf_counter()
    fitting, (new, earlier, band) = look_up(lookup, connection, match.max_candidates)
    pair = (new << 32) | earlier  # passage ids are below 2³²
    is_band = band < config.bands
    pairs = _most_shared(pair[is_band], match.max_candidates)
    anchored = _most_shared(pair[~is_band], match.max_candidates)
    tasks = verify.tasks(pairs, anchored, lookup.texts)
    verified = verify_here(tasks, config, match, partial(earlier_texts, connection, lookup.run))
    candidates = len(set(pairs) | set(anchored))
    return Found(tuple(verified), candidates, fitting, time.perf_counter() - started)


Shared = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]  # new, earlier, band


def look_up(lookup: Lookup, connection: Connection, bucket_cap: int) -> tuple[npt.NDArray[np.bool_], Shared]:
    """A lookup task's reading of the index: which of its rows are its passages' that fit their
    bucket (``Found.fitting``) and the keys they share with earlier passages (``_sharing``)."""
    rows = lookup.rows
    mine = np.isin(rows[:, 2], lookup.passages)
    own = rows[mine]
    # The rows are sorted like the index: a bucket's first row gives its (band, key) once.
    held = held_rows(connection, own[buckets.bucket_starts(own), :2], lookup.before, lookup.run)
    fits, shared = _sharing(own, rows, held, bucket_cap)
    return mine & fits, shared


def held_rows(
    connection: Connection, keys: npt.NDArray[np.int64], before: int, scope: str
) -> npt.NDArray[np.int64]:
    """(band, key, passage id) of the index's rows, on both levels, in the buckets ``keys``
    (band, key) and of passages before ``before``: the main level's by SQL (``_main_rows``), the
    blocks' from this process's copy of them for ``scope`` (``levels.upper_rows``).

    A merge moves a band's rows from its blocks to the main level in one transaction. The block
    ids are read before and after the main level: when they differ a merge came between, and the
    reading starts again, so a bucket is never seen both merged and not, or neither. (Merges run
    between batches, never during a batch's lookups, so it does not happen in a run.)"""
    if not len(keys):
        return np.empty((0, 3), np.int64)
    keys = keys[np.argsort(keys[:, 0], kind="stable")]
    live = levels.block_ids(connection)
    while True:
        upper = levels.upper_rows(connection, scope, live, keys, before)
        main = _main_rows(connection, keys, before)
        now = levels.block_ids(connection)
        if now == live:
            return np.concatenate([main, upper])
        live = now


def _main_rows(connection: Connection, keys: npt.NDArray[np.int64], before: int) -> npt.NDArray[np.int64]:
    """``held_rows``' rows of the main level, ``keys`` sorted by band. A SELECT a band, a search
    of its primary key per key; the SQL is written here, of integers only, read by ``fetch_sql``
    (the rows are many and narrow, the keys thousands)."""
    parts: list[str] = []
    for band, part in buckets.by_band(keys):
        written = ",".join(map(str, part[:, 1].tolist()))
        parts.append(
            f"SELECT band, key, passage_id FROM {PassageBand.__tablename__} WHERE band = {band} "
            f"AND passage_id < {before} AND key IN ({written})"
        )
    found: list[tuple[int, int, int]] = []
    for chunk in chunks(parts, SELECTS_PER_STATEMENT):
        found += fetch_sql(connection, " UNION ALL ".join(chunk))
    return verify.int_rows(found, 3)


SELECTS_PER_STATEMENT = 100  # below SQLite's 500 terms of a compound SELECT


def _sharing(
    own: npt.NDArray[np.int64], batch: npt.NDArray[np.int64], held: npt.NDArray[np.int64], bucket_cap: int
) -> tuple[npt.NDArray[np.bool_], Shared]:
    """Which of ``batch``'s rows fit their bucket, and (new passage, earlier passage, band) of
    every key a row of ``own`` shares with an earlier submission's passage: one of ``held`` (the
    index's committed rows), or one of the batch's rows that the index holds.

    A bucket keeps its earliest ``bucket_cap`` passages: a row of the batch fits when the
    passages the bucket holds (``held``, every level) and the batch's rows before it in the
    bucket (its rank) number fewer. ``held`` has every row of the buckets of ``own``, and
    ``batch`` every row of the batch in them, so the rule is judged right for ``own``'s rows."""
    code = _codes(own, batch, held)
    own_code, batch_code, held_code = np.split(code, [len(own), len(own) + len(batch)])
    in_bucket = np.bincount(held_code, minlength=int(code.max(initial=-1)) + 1)
    fits = batch[:, 4] + in_bucket[batch_code] < bucket_cap
    new, earlier, band = [], [], []
    for others, other_code in ((held, held_code), (batch[fits], batch_code[fits])):
        left, right = _equal_pairs(own_code, other_code)
        before = others[right, 2] < own[left, 3]  # the earlier submissions' only
        new.append(own[left[before], 2])
        earlier.append(others[right[before], 2])
        band.append(own[left[before], 0])
    return fits, (np.concatenate(new), np.concatenate(earlier), np.concatenate(band))


def _codes(*arrays: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A number for each (band, key) of the rows of ``arrays``, concatenated: equal numbers for
    equal buckets."""
    both = np.concatenate([a[:, :2] for a in arrays])
    order = np.lexsort((both[:, 1], both[:, 0]))
    code = np.empty(len(both), dtype=np.int64)
    code[order] = buckets.bucket_codes(both[order])
    return code


def _equal_pairs(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The indices (i, j) of every left[i] == right[j]."""
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    low = np.searchsorted(ordered, left, "left")
    count = np.searchsorted(ordered, left, "right") - low
    return np.repeat(np.arange(len(left)), count), order[buckets.ranges(low, count)]


def _most_shared(pairs: npt.NDArray[np.int64], per_passage: int) -> list[tuple[int, int]]:
    """Of the (new << 32 | earlier) of every shared key, the ``per_passage`` earlier passages
    sharing the most with each new one, ties to the earliest (``fingerprint.most_shared``'s
    rule), as (new, earlier) pairs in id order."""
    unique, shared = np.unique(pairs, return_counts=True)
    new = unique >> 32
    order = np.lexsort((unique, -shared, new))
    starts = np.flatnonzero(np.r_[True, new[order][1:] != new[order][:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    kept = np.sort(unique[order[rank < per_passage]])
    return list(zip((kept >> 32).tolist(), (kept & 0xFFFFFFFF).tolist(), strict=True))


SPAN_COLUMNS = ("passage_id", "other_id", "start", "end", "other_start", "other_end", "matched", "longest")

# Writes a batch's passage rows given each paragraph's (rep_id, canonical_id) by id
# (``filing.file_passages``).
FilePassages = Callable[[dict[int, tuple[int, int | None]]], None]
# Reads (submission id, normalised text) of some archived passages: ``earlier_texts`` over a
# connection.
Reader = Callable[[Sequence[int]], dict[int, tuple[int, str]]]
# Runs a batch's lookup tasks, wherever they run (``Indexer``: the run's workers); where they
# run in this process, they read the index and the texts through the connection given.
VerifyAll = Callable[[Sequence[Lookup], Connection], list[Found]]


def verify_here(
    tasks: Sequence[verify.Candidates], config: FingerprintConfig, match: MatchConfig, read: Reader
) -> list[verify.Verified]:
    """``verify.verify`` of each task, in this process, once ``read`` has given it its earlier
    passages' texts."""
    return [verify.verify(with_stored(task, read), config, match) for task in tasks]


def find_here(
    lookups: Sequence[Lookup], connection: Connection, config: FingerprintConfig, match: MatchConfig
) -> list[Found]:
    """``find_and_verify`` of each lookup task, in this process, reading through ``connection``."""
    return [find_and_verify(lookup, config, match, connection) for lookup in lookups]


def with_stored(task: verify.Candidates, read: Reader) -> verify.Candidates:
    """``task`` with the normalised texts of its ``earlier`` passages read."""
    if not task.earlier:
        return task
    return replace(task, texts={**task.texts, **read(task.earlier)}, earlier=())


def _written(found: Sequence[Found]) -> tuple[list[tuple[Any, ...]], list[tuple[int, ...]]]:
    """Link rows (``MATCH_COLUMNS``: verified cross links from the new representative to the
    earlier one) and aligned regions of what the lookup tasks found, in the order one task of
    the whole batch gives them (``verify.merged``)."""
    links, spans = verify.merged(v for f in found for v in f.verified)
    return [(a, b, round(score, 4), "cross", "linked") for a, b, score in links], list(spans)


def stored_texts(connection: Connection, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(submission id, text as stored) of the passages ``ids``. The SQL is written here, of
    integer ids only: compiling a statement of hundreds of bound literals cost more than reading."""
    loaded: dict[int, tuple[int, str]] = {}
    for part in chunks([int(pid) for pid in ids]):
        listed = ",".join(map(str, part))
        sql = f"SELECT id, submission_id, text FROM {PassageRow.__tablename__} WHERE id IN ({listed})"
        loaded.update({id_: (sub, text) for id_, sub, text in fetch_sql(connection, sql)})
    return loaded


def earlier_texts(connection: Connection, run: str, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(submission id, normalised text) of the archived passages ``ids`` for a lookup task of the
    writing session ``run``: those this process remembers for it (``verify.earlier_texts``), the
    others read through ``connection``."""
    return verify.earlier_texts(run, ids, partial(stored_texts, connection))
