"""``archiver find``: the archive's passages that a given text's paragraphs match.

The text goes through the same stages as a submission (decode, clean, split, fingerprint), so a
paragraph is found as the nightly run would link it; each paragraph that counts as reuse
(``fingerprint.reusable``) is looked up in the persistent LSH index (``index.lookup``), never by a
scan, sentences included: a paragraph that shares only a copied sentence with an archived passage
(either way round) is found through the index's anchors and the two aligned. Each occurrence
carries the character spans it shares with the paragraph. A match is either way round: the
archive's passage may be the source of the text or a copy of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.errors import InputError
from archiver.index.lookup import Occurrence, Probe, lookup, occurrences
from archiver.records import Passage, Processed, Submission
from archiver.stages import fingerprint
from archiver.stages.process import process_submission


@dataclass(frozen=True)
class Found:
    """A paragraph of the given text and where the archive has it."""

    passage: Passage
    occurrences: tuple[Occurrence, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.passage.text,
            "start": self.passage.start,
            "end": self.passage.end,
            "occurrences": [
                {
                    "file": o.file,
                    "authority": o.authority,
                    "year": o.year,
                    "similarity": o.similarity,
                    "start": o.start,
                    "end": o.end,
                    "text": o.text,
                    "spans": [
                        {
                            "start": self.passage.start + s.start,
                            "end": self.passage.start + s.end,
                            "other_start": s.other_start,
                            "other_end": s.other_end,
                            "matched": s.matched,
                            "text": o.text[s.other_start - (o.start or 0) : s.other_end - (o.start or 0)],
                        }
                        for s in o.spans
                    ],
                }
                for o in self.occurrences
            ],
        }


def prepare(raw: bytes, name: str, config: Config) -> Processed:
    """``raw`` processed as a submission named ``name``; InputError when it has no text."""
    submission = Submission(Path(name), name, raw, hashlib.sha512(raw).hexdigest(), None, None)
    outcome = process_submission(submission, config)
    if not isinstance(outcome, Processed):
        raise InputError(f"{name}: no text to look up ({outcome.reason}: {outcome.detail})")
    return outcome


def probes(outcome: Processed, config: Config) -> list[Probe]:
    """The paragraphs of ``outcome`` that can be reuse, as lookup probes keyed by passage index."""
    prints = {f.passage: f for f in outcome.fingerprints}
    return [
        Probe(p.index, prints[p.index].normalised, prints[p.index].exact, prints[p.index].signature, p.text)
        for p in outcome.passages
        if fingerprint.reusable(p.kind, prints[p.index].normalised_chars, config.fingerprint.min_chars)
    ]


def find(session: Session, outcome: Processed, config: Config) -> list[Found]:
    """Every reusable paragraph of ``outcome`` with the archive's matching passages (those
    without a match too, with none), in text order."""
    asked = probes(outcome, config)
    matched = lookup(session, asked, config.fingerprint, config.match, sentences=True)
    by_key: dict[int, list[Occurrence]] = {}
    for occurrence in occurrences(session, matched, asked):
        by_key.setdefault(occurrence.key, []).append(occurrence)
    passages = {p.index: p for p in outcome.passages}
    return [Found(passages[probe.key], tuple(by_key.get(probe.key, ()))) for probe in asked]


__all__ = ["Found", "find", "prepare", "probes"]
