"""Where else does this text appear: paragraphs looked up in the persistent LSH index.

``lookup(session, probes, fingerprint, match)`` finds, for each probe paragraph (normalised text
and MinHash signature, as ``fingerprint`` makes them), the archive's representatives it matches:
the same exact hash (similarity 1.0), or a shared band key in any level of the index and a
verified shingle Jaccard ≥ ``match_at``, at most ``max_candidates`` candidates per probe (those
sharing the most bands), as the linker does. ``occurrences`` expands representatives to the
current passages of their groups. Nothing is scanned: the work follows the probe's buckets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archiver.config import FingerprintConfig, MatchConfig
from archiver.index.levels import LEVELS
from archiver.index.links import representatives_of
from archiver.stages import fingerprint as fp
from archiver.store.bulk import chunks
from archiver.store.db import PassageRow
from archiver.store.db import Submission as SubmissionRow


@dataclass(frozen=True)
class Probe:
    """A paragraph to look up."""

    key: int  # the caller's id for it (its passage index)
    normalised: str
    exact: str
    signature: bytes | None


@dataclass(frozen=True)
class Occurrence:
    """A current archived passage a probe matches."""

    key: int  # the probe's
    passage_id: int
    submission_id: int
    file: str
    authority: str | None
    year: int | None
    text: str
    start: int | None
    end: int | None
    similarity: float


def lookup(
    session: Session, probes: Sequence[Probe], config: FingerprintConfig, match: MatchConfig
) -> dict[int, dict[int, float]]:
    """Probe key → {representative passage id: similarity} of every verified match."""
    found: dict[int, dict[int, float]] = defaultdict(dict)
    exact: dict[str, int] = {}
    for part in chunks(sorted({p.exact for p in probes})):
        exact.update((digest, rep) for digest, rep, _ in session.execute(representatives_of(part)))
    for probe in probes:
        if probe.exact in exact:
            found[probe.key][exact[probe.exact]] = 1.0
    signed = [p for p in probes if p.signature is not None]
    candidates = _candidates(session, signed, config, match.max_candidates)
    texts = _normalised(session, sorted({c for cs in candidates.values() for c in cs}))
    keys = sorted(candidates)
    by_key = {p.key: p for p in signed}
    involved = [by_key[k].normalised for k in keys] + [texts[c] for c in sorted(texts)]
    sets = fp.shingle_sets(involved, config)
    probe_sets = dict(zip(keys, sets[: len(keys)], strict=True))
    other_sets = dict(zip(sorted(texts), sets[len(keys) :], strict=True))
    for key in keys:
        for rep in candidates[key]:
            if rep in found[key]:
                continue
            score = fp.jaccard(probe_sets[key], other_sets[rep])
            if score >= match.match_at:
                found[key][rep] = round(score, 4)
    return {k: v for k, v in found.items() if v}


def _candidates(
    session: Session, probes: Sequence[Probe], config: FingerprintConfig, per_probe: int
) -> dict[int, list[int]]:
    """Probe key → the representatives sharing the most band keys with it (ties: earliest)."""
    if not probes:
        return {}
    owners: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys = fp.band_keys_bulk([p.signature for p in probes if p.signature is not None], config)
    for probe, row in zip(probes, keys, strict=True):
        for band, key in enumerate(row.tolist()):
            owners[band, int(key)].append(probe.key)
    shared: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    buckets = sorted(owners)
    for level in LEVELS:
        for part in chunks(buckets):
            rows = session.execute(
                select(level.band, level.key, level.passage_id).where(tuple_(level.band, level.key).in_(part))
            )
            for band, key, passage in rows:
                for owner in owners[band, key]:
                    shared[owner][passage] += 1
    return {owner: fp.most_shared(counts, per_probe) for owner, counts in shared.items()}


def _normalised(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in chunks(ids):
        rows = session.execute(select(PassageRow.id, PassageRow.text).where(PassageRow.id.in_(part))).all()
        out.update(zip([r[0] for r in rows], fp.normalise_many([r[1] for r in rows]), strict=True))
    return out


def occurrences(session: Session, matched: dict[int, dict[int, float]]) -> list[Occurrence]:
    """The current kept passages of every matched representative's group, by probe then file."""
    reps = sorted({rep for found in matched.values() for rep in found})
    members: dict[int, list[Any]] = defaultdict(list)
    s, p = SubmissionRow, PassageRow
    for part in chunks(reps):
        rows = session.execute(
            select(p.rep_id, p.id, p.submission_id, s.relpath, s.authority, s.year, p.text, p.start, p.end)
            .join(s, s.id == p.submission_id)
            .where(p.rep_id.in_(part), p.removed.is_(False), s.current.is_(True), s.status == "archived")
        )
        for row in rows:
            members[row[0] or 0].append(row[1:])
    out = [
        Occurrence(key, *member, similarity)  # type: ignore[call-arg]
        for key in sorted(matched)
        for rep, similarity in matched[key].items()
        for member in members.get(rep, ())
    ]
    return sorted(out, key=lambda o: (o.key, -o.similarity, o.file, o.passage_id))


__all__ = ["Occurrence", "Probe", "lookup", "occurrences"]
