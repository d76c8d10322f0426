"""Star clusters: the canonical passage of each group of exact copies (``passages.canonical_id``).

The canonical passage of a group is the earliest (year, then arrival) passage among the group
itself and the groups linked to it directly: stars, never chains (DESIGN.md, "Passage
matching"). ``assign_canonicals`` is that rule written out; a run keeps its result up to date
batch by batch with ``canonical_updates``, from what the batch added (``StarChanges``), and the
tests compare the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


def canonical_updates(session: Session, changes: StarChanges) -> list[tuple[int, int]]:
    """The canonical passage (representative id, canonical id) of each group whose canonical a
    batch set or moved. Before or after the batch's members are written (``links.link`` asks
    before, so that a group born in the batch is written once): their seniority comes from
    ``changes``.

    A star only grows: a batch adds members and links, never removes any. So a group's canonical
    passage can only become more senior, and only through what the batch added: its own new
    members, the groups newly linked to it, and old neighbours whose most senior member is new.
    That keeps the work to the batch's groups and links, where recomputing every touched star
    (``assign_canonicals``) read every link a popular group had gathered, and every member of each
    of its neighbours, once per batch, a cost that grew through a long run. Only a group given a
    more senior member than all it had (an older year filed late) has its old links read. The
    result equals ``assign_canonicals`` over every group (tested).
    """
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
    stored, firsts = _stored_and_firsts(session, direct - born, changes.gained)
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
    stored |= _stored_canonicals(session, looked_at - set(stored) - born)
    # Groups without a canonical yet were born in this batch, so every link they have is new
    # and their whole star is read (as it would be for an older group found without one).
    whole = looked_at - set(stored)
    linked = neighbours(session, whole - born)
    stars = {g: {g} | linked.get(g, set()) for g in whole}
    firsts |= _firsts(session, {n for star in stars.values() for n in star} - set(firsts), changes.gained)
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
        updates.append((group, best[1]))
    return updates


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
