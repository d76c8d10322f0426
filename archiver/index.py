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

The index has three levels, like a log-structured merge tree. A night's keys are random:
inserted straight into a B-tree of tens of millions of rows, each dirties a page of its own, so
a night's writes would grow with the archive. Instead a run's batches write into ``run_bands``,
no bigger than the run itself; ``settle`` moves those into ``recent_bands`` in key order at the
start of the next run (and now and then during a long one); and the recent level is merged into
the big ``passage_bands`` in key order. ``compact`` (``archiver compact``) merges all of it; a
run merges only as much as keeps the recent level within ``[store] recent_band_rows``, a band at
a time (``compact_if_full``), so that no single night rewrites the whole main level. A run
settles the last run's rows and merges first thing, while its workers process the first batch
(``flow.run``), so that neither is left for the end of a run, when everything would wait for
it. Every lookup reads all levels; a row is in exactly one.

Buckets are bounded so that no input can make that work quadratic: a bucket holds at most
``max_candidates`` passages (the earliest: later passages still *find* them, they are just not
added), and each new passage verifies at most ``max_candidates`` candidates, those sharing the
most bands. Passages of the passage's own submission are never candidates (repeats inside a
file are ``match.find_repeats``'s job), which the join excludes by id: a submission's passages
have consecutive ids, filed together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

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
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from archiver import fingerprint as fp
from archiver.config import FingerprintConfig, MatchConfig
from archiver.db import (
    MatchRow,
    Meta,
    PassageBand,
    PassageRow,
    RecentBand,
    RunBand,
    array_rows,
    execute_plain,
    insert_tuples,
    table,
)
from archiver.errors import ParameterMismatch

T = TypeVar("T")
LEVELS = (PassageBand, RecentBand, RunBand)  # the band index: main, recent, this run's
CHUNK = 500  # ids per IN (...) list: far below every backend's parameter limit

_temp_metadata = MetaData()
NIGHT_BANDS = Table(
    "night_bands",
    _temp_metadata,
    Column("band", SmallInteger, nullable=False),
    Column("key", BigInteger, nullable=False),
    Column("passage_id", Integer, nullable=False),
    Column("first_id", Integer, nullable=False),  # first passage id of its submission
    prefixes=["TEMPORARY"],
)
NIGHT_ROWS = Table(  # the batch's band rows: what bucket sizes are asked for, and copied from
    "night_rows",
    _temp_metadata,
    Column("band", SmallInteger, nullable=False),
    Column("key", BigInteger, nullable=False),
    Column("passage_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def reusable(kind: str, normalised_chars: int, min_chars: int) -> bool:
    """Whether a kept passage can be reuse across submissions: a paragraph long enough to
    mean something. Headings, titles, signature lines and "各位代表！" are not reuse."""
    return kind == "para" and normalised_chars >= min_chars


@dataclass(frozen=True)
class NewParagraph:
    """A kept paragraph just inserted, as the linker needs it."""

    id: int
    submission_id: int
    exact: str
    signature: bytes | None
    normalised: str
    year: int | None  # the submission's: a group's canonical passage is its earliest by year


@dataclass
class LinkStats:
    candidates: int = 0
    links: int = 0
    new_groups: int = 0
    copies: int = 0
    band_rows: int = 0  # added to the run level


@dataclass(frozen=True)
class StarChanges:
    """What a batch added to the stars, for ``update_canonicals``: the groups it gave members
    (each with the ``_seniority`` of its most senior new member) and the links it made."""

    gained: dict[int, tuple[int, int]]
    links: tuple[tuple[int, int], ...]  # (new representative, earlier representative)


def link(
    session: Session,
    paragraphs: Sequence[NewParagraph],
    config: FingerprintConfig,
    match: MatchConfig,
) -> tuple[LinkStats, StarChanges]:
    """Group, index and link a batch of new paragraphs (in id order).

    Returns the statistics and what the batch added to the stars whose canonical passage is not
    settled yet: ``update_canonicals`` takes it from there.
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
    pairs = _candidates(session, indexed, match.max_candidates)
    stats.candidates = len(pairs)
    links = _verify(session, pairs, {p.id: p for p in indexed}, config, match)
    if links:
        session.execute(insert(table(MatchRow)), links)
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


UNKNOWN_YEAR = 9999  # sorts after every real year
ID_SPAN = 1 << 32  # passage ids are 32-bit integers


def _seniority(year: int | None, passage_id: int) -> tuple[int, int]:
    """Sort key of a group's members for its canonical passage: the earliest year (unknown
    years last), then the earliest arrival. ``_group_firsts`` computes it in SQL."""
    return (year if year is not None else UNKNOWN_YEAR, passage_id)


def _earliest_members(paragraphs: Sequence[NewParagraph], reps: dict[str, int]) -> dict[int, tuple[int, int]]:
    """The ``_seniority`` of each group's most senior member among ``paragraphs``."""
    earliest: dict[int, tuple[int, int]] = {}
    for paragraph in paragraphs:
        rep = reps[paragraph.exact]
        key = _seniority(paragraph.year, paragraph.id)
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


def _band_rows(paragraphs: Sequence[NewParagraph], config: FingerprintConfig) -> npt.NDArray[np.int64]:
    """(band, key, passage id) for every band of every signed paragraph, an ``(n, 3)`` array sorted
    like the index: inserts in key order touch each B-tree page once instead of once per row."""
    signed = [(p.id, p.signature) for p in paragraphs if p.signature is not None]
    if not signed:
        return np.empty((0, 3), np.int64)
    keys = fp.band_keys_bulk([signature for _, signature in signed], config)
    count, bands = keys.shape
    band = np.tile(np.arange(bands, dtype=np.int64), count)
    key = keys.ravel()
    ids = np.repeat(np.array([id_ for id_, _ in signed], dtype=np.int64), bands)
    order = np.lexsort((ids, key, band))
    return np.stack([band[order], key[order], ids[order]], axis=1)


class _Buckets(NamedTuple):
    """Per row of a batch's band rows (sorted by band, key, id): its place in its bucket."""

    rank: npt.NDArray[np.intp]  # rows of the batch before it in its bucket
    in_batch: npt.NDArray[np.intp]  # rows of the batch in its bucket
    held: npt.NDArray[np.int64]  # passages its bucket already holds in the index


def _bucket_starts(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True on the first row of each bucket of ``rows`` (sorted by band, key)."""
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = (rows[1:, 0] != rows[:-1, 0]) | (rows[1:, 1] != rows[:-1, 1])
    return starts


def _buckets(rows: npt.NDArray[np.int64], held: dict[tuple[int, int], int]) -> _Buckets:
    starts_bucket = _bucket_starts(rows)
    starts = np.flatnonzero(starts_bucket)
    bucket = np.cumsum(starts_bucket) - 1
    already = np.zeros(len(starts), dtype=np.int64)
    if held:
        keys = zip(rows[starts, 0].tolist(), rows[starts, 1].tolist(), strict=True)
        for b, key in enumerate(keys):
            already[b] = held.get(key, 0)
    in_batch = np.diff(np.append(starts, len(rows)))
    return _Buckets(np.arange(len(rows)) - starts[bucket], in_batch[bucket], already[bucket])


def _fits(buckets: _Buckets, cap: int) -> npt.NDArray[np.bool_]:
    return np.asarray(buckets.held + buckets.rank < cap)


def _shares(buckets: _Buckets) -> npt.NDArray[np.bool_]:
    return np.asarray((buckets.in_batch > 1) | (buckets.held > 0))


def with_room(
    rows: npt.NDArray[np.int64], held: dict[tuple[int, int], int], cap: int
) -> npt.NDArray[np.bool_]:
    """Which of ``rows`` (band, key, id; sorted) fit their bucket, which already holds ``held``
    passages (absent: none): a bucket keeps its earliest ``cap``."""
    return _fits(_buckets(rows, held), cap)


def may_share(rows: npt.NDArray[np.int64], held: dict[tuple[int, int], int]) -> npt.NDArray[np.bool_]:
    """Which of ``rows`` (sorted) can have a candidate at all: their bucket already holds a
    passage, or holds another row of this batch. Only these are joined against the index."""
    return _shares(_buckets(rows, held))


def _insert_bands(
    session: Session, paragraphs: Sequence[NewParagraph], config: FingerprintConfig, bucket_cap: int
) -> int:
    """Add to the index the band rows whose bucket has room, and fill the night's table with
    the rows that can find a candidate there (most keys of new text are in no other bucket).
    Returns the rows added to the index."""
    rows = _band_rows(paragraphs, config)
    connection = session.connection()
    for temporary in (NIGHT_ROWS, NIGHT_BANDS):
        temporary.create(connection, checkfirst=True)
        connection.execute(delete(temporary))
    if not len(rows):
        return 0
    insert_tuples(connection, NIGHT_ROWS, array_rows(rows))
    buckets = _buckets(rows, _bucket_sizes(session))
    fits = _fits(buckets, bucket_cap)
    # The rows reach the run level from the night's table in one statement, not as a second
    # pass of Python rows through the driver (250,000 rows: 0.33 s for both tables against
    # 0.50 s); the few whose bucket is full are deleted again.
    run_level = table(RunBand)
    connection.execute(insert(run_level).from_select(["band", "key", "passage_id"], select(NIGHT_ROWS)))
    execute_plain(
        connection,
        delete(run_level).where(
            run_level.c.band == bindparam("b"),
            run_level.c.key == bindparam("k"),
            run_level.c.passage_id == bindparam("p"),
        ),
        [{"b": b, "k": k, "p": p} for b, k, p in array_rows(rows[~fits])],
    )
    firsts = _first_passage_ids(session, {p.submission_id for p in paragraphs})
    ids = np.array([p.id for p in paragraphs], dtype=np.int64)
    first_ids = np.array([firsts[p.submission_id] for p in paragraphs], dtype=np.int64)
    order = np.argsort(ids)
    sharing = rows[_shares(buckets)]
    first_of_row = first_ids[order[np.searchsorted(ids, sharing[:, 2], sorter=order)]]
    night = np.column_stack([sharing, first_of_row])
    insert_tuples(connection, NIGHT_BANDS, array_rows(night))
    return int(fits.sum())


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


def _bucket_sizes(session: Session) -> dict[tuple[int, int], int]:
    """How many archived passages each of the night's buckets already holds (≤ the cap)."""
    night = NIGHT_ROWS
    sizes: dict[tuple[int, int], int] = {}
    for level in LEVELS:
        # (band, key) IN (subquery) is answered by primary-key searches; a join against the
        # keys makes SQLite scan the whole index instead (17 s a night at 1M passages).
        query = (
            select(level.band, level.key, func.count())
            .where(tuple_(level.band, level.key).in_(select(night.c.band, night.c.key)))
            .group_by(level.band, level.key)
        )
        for b, k, n in session.execute(query):
            sizes[(int(b), int(k))] = sizes.get((int(b), int(k)), 0) + int(n)
    return sizes


def _candidates(
    session: Session, paragraphs: Sequence[NewParagraph], per_passage: int
) -> list[tuple[int, int]]:
    """(new, earlier) representative pairs from other submissions that share a band key: for each
    new passage, the ``per_passage`` sharing the most bands (ties: the earliest)."""
    if not paragraphs:
        return []
    night = NIGHT_BANDS
    shared_by_new: dict[int, dict[int, int]] = {}
    for level in LEVELS:
        query = (
            select(night.c.passage_id, level.passage_id, func.count())
            .join(level, (level.band == night.c.band) & (level.key == night.c.key))
            .where(level.passage_id < night.c.first_id)
            .group_by(night.c.passage_id, level.passage_id)
        )
        for new, other, count in session.execute(query):
            shared = shared_by_new.setdefault(int(new), {})
            shared[int(other)] = shared.get(int(other), 0) + int(count)
    session.execute(delete(NIGHT_BANDS))
    session.execute(delete(NIGHT_ROWS))
    return sorted(
        (new, other) for new, shared in shared_by_new.items() for other in fp.most_shared(shared, per_passage)
    )


def recent_rows(session: Session) -> int:
    """Band rows in the recent level, not yet merged into the main index."""
    return level_rows(session, RecentBand)


def level_rows(session: Session, level: type[PassageBand | RecentBand | RunBand]) -> int:
    """Band rows in one level of the index."""
    return int(session.execute(select(func.count()).select_from(level)).scalar_one())


def settle(session: Session) -> int:
    """Move the run level's rows into the recent level, in key order; returns how many.

    At the start of the run after (and during a long one, ``flow.RUN_LEVEL_SHARE``): each page
    of the recent level is then written once a night, not once per batch.
    """
    return _move(session, RunBand, RecentBand, level_rows(session, RunBand))


def compact(session: Session) -> int:
    """Merge the upper levels into the main index, in key order; returns the rows moved.

    In key order, the merge writes each page of the main B-tree at most once, where the same
    rows inserted night by night would each have dirtied a page of their own.
    """
    settle(session)
    return _move(session, RecentBand, PassageBand, recent_rows(session))


def compact_if_full(session: Session, recent_limit: int) -> int:
    """Merge the recent level's fullest bands into the main one, a band at a time, until it
    holds at most ``recent_limit`` rows; returns the rows moved.

    The main B-tree is ordered by band first, so one band's merge rewrites only that band's
    share of it. Every band gains rows at the same rate, so the fullest band is the one merged
    longest ago: a night that outgrows the limit merges about one band, and the whole main
    level is rewritten over as many nights as there are bands, not on one of them.
    """
    counted = session.execute(select(RecentBand.band, func.count()).group_by(RecentBand.band))
    per_band = {int(band): int(rows) for band, rows in counted}
    held, moved = sum(per_band.values()), 0
    for band, rows in sorted(per_band.items(), key=lambda item: (-item[1], item[0])):
        if held <= recent_limit:
            break
        moved += _move(session, RecentBand, PassageBand, rows, band)
        held -= rows
    return moved


def _move(
    session: Session,
    source: type[RecentBand | RunBand],
    target: type[PassageBand | RecentBand],
    rows: int,
    band: int | None = None,
) -> int:
    """Move the rows of level ``source`` (``rows`` of them, already counted), or of one
    ``band`` of it, into ``target``, in key order."""
    if rows:
        moving = table(source)
        columns = [moving.c.band, moving.c.key, moving.c.passage_id]
        chosen = moving.c.band == band if band is not None else true()
        session.execute(
            insert(table(target)).from_select(
                [c.name for c in columns], select(*columns).where(chosen).order_by(*columns)
            )
        )
        session.execute(delete(moving).where(chosen))
    return rows


def _verify(
    session: Session,
    pairs: Sequence[tuple[int, int]],
    new: dict[int, NewParagraph],
    config: FingerprintConfig,
    match: MatchConfig,
) -> list[dict[str, Any]]:
    """Link rows for the candidate pairs whose exact shingle Jaccard reaches ``match_at``."""
    others = _load(session, sorted({b for _, b in pairs} - set(new)))
    texts = {pid: (p.submission_id, p.normalised) for pid, p in new.items()} | others
    # The candidates' shingle sets, hashed in bulk: most passages are in several pairs. Held
    # like ``texts``, for at most (the batch's new paragraphs × max_candidates) passages.
    involved = sorted({pid for pair in pairs for pid in pair})
    shingles = dict(zip(involved, fp.shingle_sets([texts[pid][1] for pid in involved], config), strict=True))

    rows: list[dict[str, Any]] = []
    for a, b in pairs:
        if texts[a][0] == texts[b][0]:
            continue  # same submission: judged by match.find_repeats
        score = fp.jaccard(shingles[a], shingles[b])
        if score >= match.match_at:
            rows.append(
                {
                    "passage_id": a,
                    "other_id": b,
                    "similarity": round(score, 4),
                    "kind": "cross",
                    "action": "linked",
                }
            )
    return rows


def _load(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    loaded: dict[int, tuple[int, str]] = {}
    for part in chunks(ids):
        rows = session.execute(
            select(PassageRow.id, PassageRow.submission_id, PassageRow.text).where(PassageRow.id.in_(part))
        ).all()
        normalised = fp.normalise_many([text for _, _, text in rows])
        loaded.update({id_: (sub, norm) for (id_, sub, _), norm in zip(rows, normalised, strict=True)})
    return loaded


def neighbours(session: Session, reps: Iterable[int]) -> dict[int, set[int]]:
    """Representative → the representatives it is linked to (either direction)."""
    out: dict[int, set[int]] = {}
    ids = sorted(set(reps))
    for part in chunks(ids):
        rows = session.execute(
            select(MatchRow.passage_id, MatchRow.other_id).where(
                MatchRow.kind == "cross", (MatchRow.passage_id.in_(part)) | (MatchRow.other_id.in_(part))
            )
        )
        for a, b in rows:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def assign_canonicals(session: Session, touched: set[int]) -> int:
    """Recompute ``canonical_id`` of ``touched`` and their neighbours from scratch; returns how many.

    The canonical passage of a group is the earliest (year, then arrival) passage among the
    group itself and the groups linked to it directly: stars, never chains. This is the rule
    written out; runs keep its result up to date batch by batch with ``update_canonicals``, and
    the tests compare the two.
    """
    if not touched:
        return 0
    links = neighbours(session, touched)  # complete for every touched group
    affected = touched | {n for t in touched for n in links.get(t, ())}
    for group, linked in neighbours(session, affected - touched).items():
        links.setdefault(group, set()).update(linked)
    firsts = _group_firsts(session, affected | {n for a in affected for n in links.get(a, ())})
    updates = []
    for group in sorted(affected):
        candidates = [firsts[g] for g in {group, *links.get(group, ())} if g in firsts]
        if candidates:
            updates.append({"group": group, "canonical": min(candidates)[1]})
    _write_canonicals(session, updates)
    return len(updates)


def _write_canonicals(session: Session, updates: Sequence[dict[str, int]]) -> None:
    """Point every member of each ``group`` at its ``canonical`` passage."""
    passages = table(PassageRow)
    statement = (
        update(passages)
        .where(passages.c.rep_id == bindparam("group"))
        # Rows already pointing at the right centre are left alone: most stars do not move.
        .where(passages.c.canonical_id.is_distinct_from(bindparam("canonical")))
        .values(canonical_id=bindparam("canonical"))
    )
    execute_plain(session.connection(), statement, updates)


def update_canonicals(session: Session, changes: StarChanges) -> int:
    """Bring ``canonical_id`` up to date after a batch, from the canonicals already stored;
    returns how many groups were looked at.

    A star only grows: a batch adds members and links, never removes any. So a group's canonical
    passage can only become more senior, and only through what the batch added: its own new
    members, the groups newly linked to it, and old neighbours whose most senior member is new.
    That keeps the work to the batch's groups and links, where recomputing every touched star
    (``assign_canonicals``) read every link a popular group had gathered, and every member of each
    of its neighbours, once per batch: at bench scale 70 that grew from 0.05 s to 0.5 s a batch
    over the run. Only a group given a more senior member than all it had (an older year filed
    late) has its old links read. The result equals ``assign_canonicals`` over every group (tested).
    """
    partners: dict[int, set[int]] = {}
    for new, other in changes.links:
        partners.setdefault(new, set()).add(other)
        partners.setdefault(other, set()).add(new)
    direct = set(changes.gained) | set(partners)
    if not direct:
        return 0
    stored = _stored_canonicals(session, direct)
    firsts = _group_firsts(session, direct)
    # An old group whose most senior member is now one of this batch's: each of its old
    # neighbours may take that member as canonical.
    raised = {g for g in changes.gained if g in stored and firsts[g] == changes.gained[g]}
    offers: dict[int, list[tuple[int, int]]] = {}
    reached = neighbours(session, raised)
    for group in raised:
        for neighbour in reached.get(group, ()):
            offers.setdefault(neighbour, []).append(firsts[group])
    looked_at = direct | set(offers)
    stored |= _stored_canonicals(session, looked_at - set(stored))
    # Groups without a canonical yet were born in this batch, so every link they have is new
    # and their whole star is read (as it would be for an older group found without one).
    whole = looked_at - set(stored)
    linked = neighbours(session, whole)
    stars = {g: {g} | linked.get(g, set()) for g in whole}
    firsts |= _group_firsts(session, {n for star in stars.values() for n in star} - set(firsts))
    updates = []
    for group in sorted(looked_at):
        if group in whole:
            best = min(firsts[g] for g in stars[group] | partners.get(group, set()))
        else:
            candidates = [stored[group], *offers.get(group, ())]
            candidates += [firsts[g] for g in partners.get(group, ())]
            if group in changes.gained:
                candidates.append(changes.gained[group])
            best = min(candidates)
            if best == stored[group]:
                continue  # the star grew, its centre did not move (new copies were given it)
        updates.append({"group": group, "canonical": best[1]})
    _write_canonicals(session, updates)
    return len(looked_at)


def _stored_canonicals(session: Session, groups: set[int]) -> dict[int, tuple[int, int]]:
    """The ``_seniority`` of each group's canonical passage, where it has one (read from the
    representative's row: every member of a group has the same)."""
    canonical = aliased(PassageRow)
    year = func.coalesce(canonical.year, UNKNOWN_YEAR)
    found: dict[int, tuple[int, int]] = {}
    for part in chunks(sorted(groups)):
        rows = session.execute(
            select(PassageRow.id, year, canonical.id)
            .join(canonical, canonical.id == PassageRow.canonical_id)
            .where(PassageRow.id.in_(part))
        )
        found.update({int(group): (int(y), int(c)) for group, y, c in rows})
    return found


def _group_firsts(session: Session, groups: set[int]) -> dict[int, tuple[int, int]]:
    """The ``_seniority`` key of each group's most senior member, one row per group from the
    database: with ids below 2³², the least ``year × 2³² + id`` is the least ``(year, id)``."""
    year = cast(func.coalesce(PassageRow.year, UNKNOWN_YEAR), BigInteger)
    senior = func.min(year * literal(ID_SPAN, BigInteger) + PassageRow.id)
    firsts: dict[int, tuple[int, int]] = {}
    for part in chunks(sorted(groups)):
        rows = session.execute(
            select(PassageRow.rep_id, senior).where(PassageRow.rep_id.in_(part)).group_by(PassageRow.rep_id)
        )
        for group, key in rows:
            assert group is not None and key is not None  # grouped by rep_id IN (...)
            firsts[group] = divmod(int(key), ID_SPAN)
    return firsts
