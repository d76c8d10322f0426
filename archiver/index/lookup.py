"""Where else does this text appear: paragraphs looked up in the persistent LSH index.

``lookup(session, probes, fingerprint, match)`` finds, for each probe paragraph (normalised text
and MinHash signature, as ``fingerprint`` makes them), the archive's representatives it matches:
the same exact hash (similarity 1.0), or a shared band key in any level of the index and a
verified shingle Jaccard ≥ ``match_at``, at most ``max_candidates`` candidates per probe (those
sharing the most bands), as the linker does. With ``sentences`` it also takes the
representatives sharing an anchor (``_buckets.anchor_rows``) whose alignment with the probe has
a copied region (``stages.align``): a sentence copied into a longer paragraph, or the other way
round, far below ``match_at`` as a whole. ``occurrences`` expands representatives to the current
passages of their groups, each with the character spans it shares with its probe. Nothing is
scanned: the work follows the probe's buckets.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.config import FingerprintConfig, MatchConfig
from archiver.index import _buckets as buckets
from archiver.index.links import held_rows, representatives_of, run_token
from archiver.stages import align
from archiver.stages import fingerprint as fp
from archiver.store.bulk import chunks
from archiver.store.db import PassageRow
from archiver.store.db import Submission as SubmissionRow

EVERY_PASSAGE = 2**31  # above every passage id: a probe is looked up against the whole index


@dataclass(frozen=True)
class Probe:
    """A paragraph to look up."""

    key: int  # the caller's id for it (its passage index)
    normalised: str
    exact: str
    signature: bytes | None
    text: str = ""  # as written: spans are given in it


@dataclass(frozen=True)
class Span:
    """Characters a probe shares with an archived passage."""

    start: int  # in the probe's text
    end: int
    other_start: int  # in the archived file's cleaned text
    other_end: int
    matched: int  # equal characters (normalised)


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
    spans: tuple[Span, ...] = ()  # what it shares with the probe (with ``probes`` given)


def lookup(
    session: Session,
    probes: Sequence[Probe],
    config: FingerprintConfig,
    match: MatchConfig,
    sentences: bool = False,
) -> dict[int, dict[int, float]]:
    """Probe key → {representative passage id: similarity} of every verified match; with
    ``sentences`` also the anchor candidates sharing a copied region (their Jaccard, however low)."""
    found: dict[int, dict[int, float]] = defaultdict(dict)
    hashes = sorted({p.exact for p in probes})
    exact = {digest: rep for digest, rep, _ in representatives_of(session.connection(), hashes)}
    for probe in probes:
        if probe.exact in exact:
            found[probe.key][exact[probe.exact]] = 1.0
    signed = [p for p in probes if p.signature is not None]
    candidates, anchored = _candidates(session, signed, config, match.max_candidates, sentences)
    every = {
        k: sorted(set(candidates.get(k, ())) | set(anchored.get(k, ()))) for k in {*candidates, *anchored}
    }
    raw = _texts(session, sorted({c for cs in every.values() for c in cs}))
    texts = {rep: norm for rep, (_, norm) in raw.items()}
    keys = sorted(every)
    by_key = {p.key: p for p in signed}
    involved = [by_key[k].normalised for k in keys] + [texts[c] for c in sorted(texts)]
    sets = fp.shingle_sets(involved, config)
    probe_sets = dict(zip(keys, sets[: len(keys)], strict=True))
    other_sets = dict(zip(sorted(texts), sets[len(keys) :], strict=True))
    for key in keys:
        banded = set(candidates.get(key, ()))
        for rep in every[key]:
            if rep in found[key]:
                continue
            score = fp.jaccard(probe_sets[key], other_sets[rep])
            if (score >= match.match_at and rep in banded) or (
                rep in anchored.get(key, ()) and _regions(by_key[key], *raw[rep])
            ):
                found[key][rep] = round(score, 4)
    return {k: v for k, v in found.items() if v}


def _candidates(
    session: Session, probes: Sequence[Probe], config: FingerprintConfig, per_probe: int, sentences: bool
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Probe key → the representatives sharing the most band keys with it (ties: earliest), and
    (with ``sentences``) those sharing the most anchors."""
    if not probes:
        return {}, {}
    owners: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys = fp.band_keys_bulk([p.signature for p in probes if p.signature is not None], config)
    for probe, row in zip(probes, keys, strict=True):
        for band, key in enumerate(row.tolist()):
            owners[band, int(key)].append(probe.key)
    if sentences:
        for band, key, owner in buckets.anchor_rows([(p.key, p.normalised) for p in probes], config).tolist():
            owners[band, key].append(owner)
    shared: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    anchors: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    wanted = np.array(sorted(owners), dtype=np.int64).reshape(-1, 2)
    held = held_rows(session.connection(), wanted, EVERY_PASSAGE, run_token(session))
    for band, key, passage in held.tolist():
        counts = shared if band < config.bands else anchors
        for owner in owners[band, key]:
            counts[owner][passage] += 1
    return (
        {owner: fp.most_shared(counts, per_probe) for owner, counts in shared.items()},
        {owner: fp.most_shared(counts, per_probe) for owner, counts in anchors.items()},
    )


def _texts(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Passage id → (text, normalised text)."""
    out: dict[int, tuple[str, str]] = {}
    for part in chunks(ids):
        rows = session.execute(select(PassageRow.id, PassageRow.text).where(PassageRow.id.in_(part))).all()
        normalised = fp.normalise_many([r[1] for r in rows])
        out.update((r[0], (r[1], norm)) for r, norm in zip(rows, normalised, strict=True))
    return out


def _regions(probe: Probe, text: str, normalised: str) -> list[Span]:
    """The copied regions of ``probe`` and an archived passage's ``text`` that count
    (``align.SENTENCE_ONLY_BELOW``), as spans of the probe's text and of ``text``."""
    out = []
    mine, theirs = align.norm_offsets(probe.text), align.norm_offsets(text)
    for r in align.align(probe.normalised, normalised):
        lo, hi = align.cleaned_span(probe.text, mine, r.start, r.end)
        other_lo, other_hi = align.cleaned_span(text, theirs, r.other_start, r.other_end)
        if align.counts(r.matched, (probe.text, lo, hi), (text, other_lo, other_hi)):
            out.append(Span(lo, hi, other_lo, other_hi, r.matched))
    return out


def occurrences(
    session: Session, matched: dict[int, dict[int, float]], probes: Sequence[Probe] = ()
) -> list[Occurrence]:
    """The current kept passages of every matched representative's group, by probe then file;
    each with the spans it shares with its probe when ``probes`` (with their texts) are given."""
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
    by_key = {probe.key: probe for probe in probes}
    out = []
    for key in sorted(matched):
        for rep, similarity in matched[key].items():
            for member in members.get(rep, ()):
                found = Occurrence(key, *member, similarity)  # type: ignore[call-arg]
                if key in by_key:
                    found = dataclasses.replace(found, spans=_spans(by_key[key], found))
                out.append(found)
    return sorted(out, key=lambda o: (o.key, -o.similarity, o.file, o.passage_id))


def _spans(probe: Probe, found: Occurrence) -> tuple[Span, ...]:
    """What ``found`` shares with ``probe``, in its file's offsets; a match by Jaccard without a
    copied region shares the whole of both."""
    at = found.start or 0
    spans = _regions(probe, found.text, fp.normalise_many([found.text])[0])
    if not spans:
        return (Span(0, len(probe.text), at, at + len(found.text), 0),)
    return tuple(Span(s.start, s.end, at + s.other_start, at + s.other_end, s.matched) for s in spans)


__all__ = ["Occurrence", "Probe", "Span", "lookup", "occurrences"]
