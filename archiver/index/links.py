"""The persistent LSH index and cross-submission links, in the database.

Exact duplicates are collapsed first: the first kept paragraph with a given normalised text is
its group's *representative* (``passages.rep_id``); only representatives carry band keys and
links, so a template copied by a thousand townships is one bucket entry, not a thousand. A
passage matches every passage of its own group (similarity 1.0) and every passage of a group
linked to it (the link's verified Jaccard).

A night's candidates come from one join of its band keys (a temporary table) against
``passage_bands``; each candidate is verified by the exact Jaccard of the shingle sets before a
link is written. Work per night depends on the night's passages and the buckets they hit,
not on the size of the archive.

The band index has three levels (``levels``), like a log-structured merge tree; every lookup
reads all of them.

Buckets are bounded so that no input can make that work quadratic (``buckets``), and each new
passage verifies at most ``max_candidates`` candidates, those sharing the most bands. Passages
of the passage's own submission are never candidates (repeats inside a file are
``match.find_repeats``'s job), which the join excludes by id: a submission's passages have
consecutive ids, filed together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Select,
    SmallInteger,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from archiver.config import FingerprintConfig, MatchConfig
from archiver.errors import ParameterMismatch
from archiver.index import _buckets as buckets
from archiver.index._stars import StarChanges, seniority
from archiver.index.levels import LEVELS, Level
from archiver.records import LinkStats, NewParagraph
from archiver.stages import verify
from archiver.store import db
from archiver.store.bulk import array_rows, chunks, execute_plain, fetch_plain, insert_tuples
from archiver.store.db import MatchRow, Meta, PassageRow, RunBand, SpanRow, table

_temp_metadata = MetaData()
NIGHT = Table(  # the batch's band rows: copied into the run level, and joined for candidates
    "night",
    _temp_metadata,
    Column("band", SmallInteger, nullable=False),
    Column("key", BigInteger, nullable=False),
    Column("passage_id", Integer, nullable=False),
    Column("first_id", Integer, nullable=False),  # first passage id of its submission
    Column("rank", Integer, nullable=False),  # rows of the batch before it in its bucket
    prefixes=["TEMPORARY"],
)


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
) -> tuple[LinkStats, StarChanges]:
    """Group, index and link a batch of new paragraphs (in id order).

    Returns the statistics and what the batch added to the stars whose canonical passage is not
    settled yet: ``update_canonicals`` takes it from there. ``verify_all`` judges the candidates
    (default: in this process).
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
    stats.band_rows = _insert_bands(session, indexed, config, match.max_candidates)
    pairs, anchored = _candidates(session, indexed, match.max_candidates, config.bands)
    stats.candidates = len(set(pairs) | set(anchored))

    def here(tasks: Sequence[verify.Candidates], read: Reader) -> list[verify.Verified]:
        return verify_here(tasks, config, match, read)

    judge = verify_all or here
    links, spans = _verify(session, pairs, anchored, {p.id: p for p in indexed}, judge)
    if links:
        session.execute(insert(table(MatchRow)), links)
    insert_tuples(session.connection(), table(SpanRow), spans, SPAN_COLUMNS)
    stats.spans = len(spans)
    stats.links = len(links)
    linked = {row["passage_id"] for row in links} | {row["other_id"] for row in links}
    alone = {p.id for p in new_reps} - linked
    earliest = _earliest_members(paragraphs, reps)
    # A group born in this batch that no link touches is a star of one group: every member is
    # in the batch, so its canonical passage is its earliest member, known without asking the
    # database. Most groups of new text are such. A copy joining an older group is given that
    # group's canonical passage as stored; ``update_canonicals`` moves the group if need be.
    _write_groups(session, paragraphs, reps, {rep: earliest[rep][1] for rep in alone} | centres)
    gained = {rep: key for rep, key in earliest.items() if rep not in alone}
    return stats, StarChanges(gained, tuple((row["passage_id"], row["other_id"]) for row in links))


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
    knows its group's (the others are left to ``update_canonicals``)."""
    passages = table(PassageRow)
    grouped = update(passages).where(passages.c.id == bindparam("pid"))
    only_rep, with_canonical = [], []
    for paragraph in paragraphs:
        rep = reps[paragraph.exact]
        if rep in canonicals:
            with_canonical.append({"pid": paragraph.id, "rep": rep, "canonical": canonicals[rep]})
        else:
            only_rep.append({"pid": paragraph.id, "rep": rep})
    connection = session.connection()
    execute_plain(connection, grouped.values(rep_id=bindparam("rep")), only_rep)
    with_centre = grouped.values(rep_id=bindparam("rep"), canonical_id=bindparam("canonical"))
    execute_plain(connection, with_centre, with_canonical)


def _existing_reps(session: Session, hashes: Sequence[str]) -> tuple[dict[str, int], dict[int, int]]:
    """The representative of each exact hash already archived, and the canonical passage of
    each such group where it has one."""
    found: dict[str, int] = {}
    centres: dict[int, int] = {}
    for part in chunks(hashes):
        for exact, id_, canonical in session.execute(representatives_of(part)):
            found[exact] = id_
            if canonical is not None:
                centres[id_] = canonical
    return found, centres


def representatives_of(hashes: Sequence[str]) -> Select[str, int, int | None]:
    """(exact, id, canonical id) of the representatives with these exact hashes. The
    ``rep_id = id`` term is the condition of the partial index ``ix_passages_exact_rep``: with
    it the index answers."""
    return select(PassageRow.exact, PassageRow.id, PassageRow.canonical_id).where(
        PassageRow.exact.in_(hashes), PassageRow.rep_id == PassageRow.id
    )


def _insert_bands(
    session: Session, paragraphs: Sequence[NewParagraph], config: FingerprintConfig, bucket_cap: int
) -> int:
    """Fill the night's table with the batch's band rows and add to the index those whose bucket
    has room (``fitting_rows``, the bucket sizes counted by the database in the same statement).
    Returns the rows added to the index."""
    signed = [p for p in paragraphs if p.signature is not None]
    rows = np.concatenate(
        [
            buckets.band_rows([(p.id, p.signature) for p in signed if p.signature is not None], config),
            buckets.computed_anchor_rows([(p.id, p.anchors) for p in signed], config),
        ]
    )
    connection = session.connection()
    NIGHT.create(connection, checkfirst=True)
    connection.execute(delete(NIGHT))
    if not len(rows):
        return 0
    firsts = _first_passage_ids(session, {p.submission_id for p in paragraphs})
    ids = np.array([p.id for p in paragraphs], dtype=np.int64)
    first_ids = np.array([firsts[p.submission_id] for p in paragraphs], dtype=np.int64)
    order = np.argsort(ids)
    first_of_row = first_ids[order[np.searchsorted(ids, rows[:, 2], sorter=order)]]
    rank = buckets.rank(rows)
    insert_tuples(connection, NIGHT, array_rows(np.column_stack([rows, first_of_row, rank])))
    adding = insert(table(RunBand)).from_select(["band", "key", "passage_id"], fitting_rows(bucket_cap))
    # SQLAlchemy reports an INSERT's rowcount only when asked (psycopg's would be -1).
    added = connection.execute(adding.execution_options(preserve_rowcount=True))
    return int(added.rowcount)


def fitting_rows(bucket_cap: int) -> Select[int, int, int]:
    """The night's rows whose bucket has room, a bucket keeping its earliest ``bucket_cap``
    passages: the passages it already holds, on every level, and the batch's rows before it
    (``buckets.rank``) number fewer than ``bucket_cap``.

    Counted here, in the statement that copies the rows, neither the rows nor the bucket sizes
    pass through Python. Each level is searched by its primary key for the night's keys (most
    are in no bucket yet); a correlated count per row would be planned by PostgreSQL as a loop
    of index searches costly enough to be compiled (JIT) every batch."""
    keys = select(NIGHT.c.band, NIGHT.c.key)
    held_rows = union_all(
        *(select(level.band, level.key).where(tuple_(level.band, level.key).in_(keys)) for level in LEVELS)
    ).subquery()
    held = (
        select(held_rows.c.band, held_rows.c.key, func.count().label("passages"))
        .group_by(held_rows.c.band, held_rows.c.key)
        .subquery()
    )
    return (
        select(NIGHT.c.band, NIGHT.c.key, NIGHT.c.passage_id)
        .outerjoin(held, (held.c.band == NIGHT.c.band) & (held.c.key == NIGHT.c.key))
        .where(NIGHT.c.rank + func.coalesce(held.c.passages, 0) < bucket_cap)
    )


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


def _candidates(
    session: Session, paragraphs: Sequence[NewParagraph], per_passage: int, bands: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(new, earlier) representative pairs from other submissions that share a band key, and
    those that share an anchor (``buckets.anchor_rows``): for each new passage, the
    ``per_passage`` of each sharing the most keys (ties: the earliest).

    The join's rows are counted and ranked in NumPy: grouped in the database, they cost it a
    sort of every row. A row of the night whose bucket holds no other passage finds only itself
    (its own submission's): joined like the others, it adds nothing."""
    if not paragraphs:
        return [], []
    connection = session.connection()
    found = [
        np.array(fetch_plain(connection, _sharing(level)), dtype=np.int64).reshape(-1, 3) for level in LEVELS
    ]
    session.execute(delete(NIGHT))
    joined = np.concatenate(found)
    pair = (joined[:, 0] << 32) | joined[:, 1]  # passage ids are below 2³²
    is_band = joined[:, 2] < bands
    return _most_shared(pair[is_band], per_passage), _most_shared(pair[~is_band], per_passage)


def _sharing(level: Level) -> Select[int, int, int]:
    """(new passage, earlier passage, band) of every key a night's row shares on ``level``."""
    return (
        select(NIGHT.c.passage_id, level.passage_id, NIGHT.c.band)
        .join(level, (level.band == NIGHT.c.band) & (level.key == NIGHT.c.key))
        .where(level.passage_id < NIGHT.c.first_id)
    )


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

# Reads (submission id, text as stored) of some archived passages: ``stored_texts`` over a
# connection.
Reader = Callable[[Sequence[int]], dict[int, tuple[int, str]]]
# Judges a batch's verification tasks, wherever they run (``Indexer``: the run's workers);
# where they run in this process, they read the texts they need with the reader given.
VerifyAll = Callable[[Sequence[verify.Candidates], Reader], list[verify.Verified]]


def verify_here(
    tasks: Sequence[verify.Candidates], config: FingerprintConfig, match: MatchConfig, read: Reader
) -> list[verify.Verified]:
    """``verify_read`` of each task, in this process."""
    return [verify_read(task, config, match, read) for task in tasks]


def verify_stored(
    task: verify.Candidates, config: FingerprintConfig, match: MatchConfig, database_url: str
) -> verify.Verified:
    """A worker's task: ``verify_read`` with the texts read through this process's own
    read-only engine of ``database_url`` (``db.reading_engine``)."""
    return verify_read(task, config, match, partial(_read, db.reading_engine(database_url)))


def verify_read(
    task: verify.Candidates, config: FingerprintConfig, match: MatchConfig, read: Reader
) -> verify.Verified:
    """``verify.verify`` of ``task`` once ``read`` has given it its earlier passages' texts; the
    reading is part of the task's time."""
    started = time.perf_counter()
    verified = verify.verify(with_stored(task, read), config, match)
    return replace(verified, seconds=time.perf_counter() - started)


def with_stored(task: verify.Candidates, read: Reader) -> verify.Candidates:
    """``task`` with the stored texts of its ``earlier`` passages read."""
    if not task.earlier:
        return task
    return replace(task, stored={**task.stored, **read(task.earlier)}, earlier=())


def _verify(
    session: Session,
    pairs: Sequence[tuple[int, int]],
    anchored: Sequence[tuple[int, int]],
    new: dict[int, NewParagraph],
    verify_all: VerifyAll,
) -> tuple[list[dict[str, Any]], list[tuple[int, ...]]]:
    """Link rows and aligned regions of the candidates (``verify.verify``). The earlier
    passages' texts are not read here: a task carries their ids and reads them where it runs
    (those of earlier batches, committed; the batch's own passages, not committed yet, travel
    in the task as ``new``)."""
    texts = {pid: (p.submission_id, p.normalised) for pid, p in new.items()}
    read = partial(stored_texts, session.connection())
    links, spans = verify.merged(verify_all(verify.tasks(pairs, anchored, texts), read))
    return [_link_row(a, b, score) for a, b, score in links], list(spans)


def _link_row(a: int, b: int, score: float) -> dict[str, Any]:
    """A verified cross link from ``a`` (the new representative) to ``b`` (the earlier one)."""
    similarity = round(score, 4)
    return {"passage_id": a, "other_id": b, "similarity": similarity, "kind": "cross", "action": "linked"}


def _read(engine: Engine, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    with engine.connect() as connection:
        return stored_texts(connection, ids)


def stored_texts(connection: Connection, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(submission id, text as stored) of the passages ``ids``."""
    loaded: dict[int, tuple[int, str]] = {}
    for part in chunks(ids):
        statement = select(PassageRow.id, PassageRow.submission_id, PassageRow.text).where(
            PassageRow.id.in_(part)
        )
        loaded.update({id_: (sub, text) for id_, sub, text in fetch_plain(connection, statement)})
    return loaded
