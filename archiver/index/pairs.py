"""Passage pairs across submissions, derived from groups and links (see ``index.py``).

A paragraph P matches Q (in another submission) when both have the same representative
(identical normalised text, similarity 1.0) or when their representatives are linked (the
link's verified Jaccard). Only current submissions (the head version of each document) count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiver.store.bulk import chunks
from archiver.store.db import MatchRow, PassageRow
from archiver.store.db import Submission as SubmissionRow


@dataclass(frozen=True)
class Pair:
    passage_id: int
    other_id: int
    similarity: float


def pairs_of(session: Session, submission_id: int, earlier_only: bool = True) -> Iterator[Pair]:
    """Every (passage of ``submission_id``, passage elsewhere) pair, each once.

    With ``earlier_only`` the other passage arrived earlier (lower id): reporting every pair
    from its later side lists each pair of the archive exactly once.
    """
    mine: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(PassageRow.id, PassageRow.rep_id).where(
                PassageRow.submission_id == submission_id, PassageRow.rep_id.is_not(None)
            )
        ).all()
    )
    if not mine:
        return
    groups = sorted(set(mine.values()))
    similar: dict[int, dict[int, float]] = {g: {g: 1.0} for g in groups}
    for part in chunks(groups):
        rows = session.execute(
            select(MatchRow.passage_id, MatchRow.other_id, MatchRow.similarity).where(
                MatchRow.kind == "cross", or_(MatchRow.passage_id.in_(part), MatchRow.other_id.in_(part))
            )
        )
        for a, b, score in rows:
            for group, linked_group in ((a, b), (b, a)):
                if group in similar:
                    similar[group][linked_group] = score
    wanted = sorted({g for linked in similar.values() for g in linked})
    # Members by group first, then which of their submissions are current: two small indexed
    # lookups. (Joined, a planner without statistics starts from every current submission.)
    found: list[tuple[int, int, int]] = []
    for part in chunks(wanted):
        found += [
            (group, id_, sub_id)
            for group, id_, sub_id in session.execute(
                select(PassageRow.rep_id, PassageRow.id, PassageRow.submission_id).where(
                    PassageRow.rep_id.in_(part), PassageRow.submission_id != submission_id
                )
            )
            if group is not None
        ]
    current = current_of(session, {sub_id for _, _, sub_id in found})
    members: dict[int, list[int]] = {}
    for group, id_, sub_id in found:
        if sub_id in current:
            members.setdefault(group, []).append(id_)
    for passage_id in sorted(mine):
        linked = similar[mine[passage_id]]
        for group in sorted(linked):
            for other_id in sorted(members.get(group, ())):
                if not earlier_only or other_id < passage_id:
                    yield Pair(passage_id, other_id, linked[group])


def current_of(session: Session, submission_ids: set[int]) -> set[int]:
    """Those of ``submission_ids`` that are the current version of their document."""
    current: set[int] = set()
    for part in chunks(sorted(submission_ids)):
        current.update(
            session.scalars(
                select(SubmissionRow.id).where(SubmissionRow.id.in_(part), SubmissionRow.current.is_(True))
            )
        )
    return current


__all__ = ["Pair", "current_of", "pairs_of"]
