"""Star clusters: the canonical passage of each group of exact copies (``passages.canonical_id``).

The canonical passage of a group is the earliest (year, then arrival) passage among the group
itself and the groups linked to it directly: stars, never chains (DESIGN.md, "Passage
matching"). ``assign_canonicals`` is that rule written out; a run keeps its result up to date
batch by batch with ``canonical_updates``, from what the batch added (``StarChanges``), and the
tests compare the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy.orm import Session

from archiver.store.bulk import fetch_by_ids, update_rows
from archiver.store.db import MatchRow, PassageRow, table

UNKNOWN_YEAR = 9999  # sorts after every real year
ID_SPAN = 1 << 32  # passage ids are 32-bit integers


@dataclass(frozen=True)
class StarChanges:
    """What a batch added to the stars, for ``canonical_updates``: the groups it gave members
    (each with the ``seniority`` of its most senior new member), the links it made, and which of
    those groups it founded (every member and every link of such a group is the batch's)."""

    gained: dict[int, tuple[int, int]]
    links: tuple[tuple[int, int], ...]  # (new representative, earlier representative)
    born: frozenset[int]


# Groups ``Known`` remembers at most: a scale-20 run makes fewer; a long one keeps those touched last.
KNOWN_GROUPS = 1 << 16


@dataclass
class Known:
    """What one writing session has learnt of the stars, kept exact as it writes them: each
    group's most senior member and its canonical passage (``seniority`` keys packed as
    ``year × 2³² + id``), for the groups it read, founded or changed last, at most ``limit`` of
    each. The coordinator is the archive's only writer (``guard``), so what it wrote stays true
    until it writes again; ``canonical_updates`` takes these instead of reading them again, where
    a run's later batches kept asking the database about the groups its earlier ones founded.
    Emptied whenever the session rolls back (``Indexer``)."""

    limit: int = KNOWN_GROUPS
    firsts: dict[int, int] = field(default_factory=dict)
    canonicals: dict[int, int] = field(default_factory=dict)

    def remember(
        self, firsts: Mapping[int, tuple[int, int]], canonicals: Mapping[int, tuple[int, int]]
    ) -> None:
        """Note groups' most senior members and canonical passages as the batch leaves them."""
        if not self.limit:
            return
        for memo, given in ((self.firsts, firsts), (self.canonicals, canonicals)):
            for group, (year, passage) in given.items():
                memo.pop(group, None)  # re-inserted last: the least recently noted go first
                memo[group] = year * ID_SPAN + passage
            for group in list(islice(memo, max(0, len(memo) - self.limit))):
                del memo[group]

    def clear(self) -> None:
        self.firsts.clear()
        self.canonicals.clear()


def seniority(year: int | None, passage_id: int) -> tuple[int, int]:
    """Sort key of a group's members for its canonical passage: the earliest year (unknown
    years last), then the earliest arrival. ``_group_firsts`` computes it in SQL."""
    return (year if year is not None else UNKNOWN_YEAR, passage_id)


def neighbours(session: Session, reps: Iterable[int]) -> dict[int, set[int]]:
    """Representative → the representatives it is linked to (either direction)."""
    out: dict[int, set[int]] = {}
    sql = (
        f"SELECT passage_id, other_id FROM {MatchRow.__tablename__} "
        "WHERE kind = 'cross' AND (passage_id IN ({ids}) OR other_id IN ({ids}))"
    )
    for a, b in fetch_by_ids(session.connection(), sql, reps):
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def assign_canonicals(session: Session, touched: set[int]) -> int:
    """Recompute ``canonical_id`` of ``touched`` and their neighbours from scratch; returns how many.

    The canonical passage of a group is the earliest (year, then arrival) passage among the
    group itself and the groups linked to it directly: stars, never chains. This is the rule
    written out; runs keep its result up to date batch by batch with ``canonical_updates``, and
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
            updates.append((group, min(candidates)[1]))
    write_canonicals(session, updates)
    return len(updates)


def write_canonicals(session: Session, updates: Sequence[tuple[int, int]]) -> None:
    """Point every member of each group (representative id) at its canonical passage (id)."""
    # Rows already pointing at the right centre are left alone: most stars do not move.
    update_rows(
        session.connection(), table(PassageRow), updates, ("rep_id", "canonical_id"), changed_only=True
    )


def canonical_updates(
    session: Session, changes: StarChanges, known: Known | None = None
) -> list[tuple[int, int]]:
    """The canonical passage (representative id, canonical id) of each group whose canonical a
    batch set or moved. Before or after the batch's members are written (``links.link`` asks
    before, so that a group born in the batch is written once): their seniority comes from
    ``changes``. What ``known`` holds is not read from the database, and what the batch leaves
    is noted in it.

    A star only grows: a batch adds members and links, never removes any. So a group's canonical
    passage can only become more senior, and only through what the batch added: its own new
    members, the groups newly linked to it, and old neighbours whose most senior member is new.
    That keeps the work to the batch's groups and links, where recomputing every touched star
    (``assign_canonicals``) read every link a popular group had gathered, and every member of each
    of its neighbours, once per batch, a cost that grew through a long run. Only a group given a
    more senior member than all it had (an older year filed late) has its old links read. The
    result equals ``assign_canonicals`` over every group (tested).
    """
    known = Known(limit=0) if known is None else known
    partners: dict[int, set[int]] = {}
    for new, other in changes.links:
        partners.setdefault(new, set()).add(other)
        partners.setdefault(other, set()).add(new)
    direct = set(changes.gained) | set(partners)
    if not direct:
        return []
    # A group the batch founded has no canonical yet, its most senior member is the batch's and
    # its links are the batch's: nothing about it is read from the database.
    born = changes.born
    asked = direct - born
    remembered = {g for g in asked if g in known.firsts and g in known.canonicals}
    stored, firsts = _stored_and_firsts(session, asked - remembered, changes.gained)
    stored |= _recalled(known.canonicals, remembered, {})
    firsts |= _recalled(known.firsts, remembered, changes.gained)
    firsts |= {g: changes.gained[g] for g in born}
    # An old group whose most senior member is now one of this batch's: each of its old
    # neighbours may take that member as canonical.
    raised = {g for g in changes.gained if g in stored and firsts[g] == changes.gained[g]}
    offers: dict[int, list[tuple[int, int]]] = {}
    reached = neighbours(session, raised)
    for group in raised:
        for neighbour in reached.get(group, ()):
            offers.setdefault(neighbour, []).append(firsts[group])
    looked_at = direct | set(offers)
    unread = looked_at - set(stored) - born
    stored |= _recalled(known.canonicals, unread & known.canonicals.keys(), {})
    stored |= _stored_canonicals(session, unread - known.canonicals.keys())
    # Groups without a canonical yet were born in this batch, so every link they have is new
    # and their whole star is read (as it would be for an older group found without one).
    whole = looked_at - set(stored)
    linked = neighbours(session, whole - born)
    stars = {g: {g} | linked.get(g, set()) for g in whole}
    members = {n for star in stars.values() for n in star} - set(firsts)
    firsts |= _recalled(known.firsts, members & known.firsts.keys(), changes.gained)
    firsts |= _firsts(session, members - known.firsts.keys(), changes.gained)
    updates = []
    centres: dict[int, tuple[int, int]] = {}
    for group in sorted(looked_at):
        if group in whole:
            best = min(firsts[g] for g in stars[group] | partners.get(group, set()))
        else:
            candidates = [stored[group], *offers.get(group, ())]
            candidates += [firsts[g] for g in partners.get(group, ())]
            if group in changes.gained:
                candidates.append(changes.gained[group])
            best = min(candidates)
        centres[group] = best
        if group not in whole and best == stored[group]:
            continue  # the star grew, its centre did not move (new copies were given it)
        updates.append((group, best[1]))
    known.remember(firsts, centres)
    return updates


def _recalled(
    memo: Mapping[int, int], groups: Iterable[int], gained: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """The ``seniority`` keys ``memo`` (``Known``'s) holds for ``groups``, lowered to the member
    the batch gave each (``gained``) where that one is more senior (``_counting``)."""
    return _counting({group: divmod(memo[group], ID_SPAN) for group in groups}, gained)


def _firsts(
    session: Session, groups: set[int], gained: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """``_group_firsts`` of archived ``groups``, counting the members a batch gave them
    (``gained``) whether or not they are written yet."""
    return _counting(_group_firsts(session, groups), gained)


def _counting(
    firsts: dict[int, tuple[int, int]], gained: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """``firsts`` read from the database, each group's lowered to the member the batch gave it
    (``gained``) where that one is more senior."""
    return {group: min(key, gained[group]) if group in gained else key for group, key in firsts.items()}


def _stored_and_firsts(
    session: Session, groups: set[int], gained: dict[int, tuple[int, int]]
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """``_stored_canonicals`` and ``_firsts`` of archived ``groups``, read by one statement a slice
    of ids: every group a batch touches needs both, and on PostgreSQL a statement's planning and
    round trip cost about what running it does."""
    passages = PassageRow.__tablename__
    sql = (
        f"SELECT p.id, coalesce(c.year, {UNKNOWN_YEAR}), c.id, m.first FROM {passages} p "
        f"LEFT JOIN {passages} c ON c.id = p.canonical_id "
        f"JOIN ({_GROUP_FIRSTS}) m ON m.rep_id = p.id WHERE p.id IN ({{ids}})"
    )
    stored: dict[int, tuple[int, int]] = {}
    firsts: dict[int, tuple[int, int]] = {}
    for group, year, canonical, first in fetch_by_ids(session.connection(), sql, groups):
        if canonical is not None:
            stored[int(group)] = (int(year), int(canonical))
        firsts[int(group)] = divmod(int(first), ID_SPAN)
    return stored, _counting(firsts, gained)


def _stored_canonicals(session: Session, groups: set[int]) -> dict[int, tuple[int, int]]:
    """The ``seniority`` of each group's canonical passage, where it has one (read from the
    representative's row: every member of a group has the same)."""
    passages = PassageRow.__tablename__
    sql = (
        f"SELECT p.id, coalesce(c.year, {UNKNOWN_YEAR}), c.id FROM {passages} p "
        f"JOIN {passages} c ON c.id = p.canonical_id WHERE p.id IN ({{ids}})"
    )
    return {int(group): (int(y), int(c)) for group, y, c in fetch_by_ids(session.connection(), sql, groups)}


def _group_firsts(session: Session, groups: set[int]) -> dict[int, tuple[int, int]]:
    """The ``seniority`` key of each group's most senior member, one row per group from the
    database: with ids below 2³², the least ``year × 2³² + id`` is the least ``(year, id)``."""
    return {
        int(group): divmod(int(key), ID_SPAN)
        for group, key in fetch_by_ids(session.connection(), _GROUP_FIRSTS, groups)
    }


# Each group's least ``year × 2³² + id`` (``_group_firsts``), for the groups ``{ids}``.
_GROUP_FIRSTS = (
    f"SELECT rep_id, min(CAST(coalesce(year, {UNKNOWN_YEAR}) AS BIGINT) * {ID_SPAN} + id) AS first "
    f"FROM {PassageRow.__tablename__} WHERE rep_id IN ({{ids}}) GROUP BY rep_id"
)
