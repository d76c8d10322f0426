"""``archiver reindex`` and ``archiver compact``, the commands that rewrite the index alone.

``reindex`` recomputes every signature, band key, link and cluster with the current
``[fingerprint]`` settings, from the passages already archived.

The cleaned texts and the repeats removed inside submissions stay as they were filed (they do
not depend on fingerprint settings beyond normalisation); what is rebuilt is everything that
compares passages across submissions. Paragraphs are replayed in arrival (id) order through
the same linker a nightly run uses, so a reindexed archive equals one built from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.errors import StoreError
from archiver.index import links as index
from archiver.index.indexer import Indexer
from archiver.records import NewParagraph, Passage, ReindexSummary
from archiver.stages import fingerprint
from archiver.store import db
from archiver.store.db import MatchRow, Meta, PassageRow, SpanPack
from archiver.store.runs import recorded
from archiver.store.vault import Tick

BATCH = 2000
# Set with the new settings in reindex's first transaction and removed in its last: while it is
# there the index is half rebuilt, and run, export, audit and find refuse (``refuse_if_pending``).
PENDING = "reindex_pending"


def reindex(config: Config, tick: Tick | None = None) -> ReindexSummary:
    """Rebuild the cross-submission index; ``tick(done, total)`` follows the passages."""
    summary = ReindexSummary()
    # Under the writer lock: a run filing while the index is rebuilt would link against half an index.
    with recorded(config, "reindex") as recording:
        session = recording.session
        indexer = Indexer(session, config)
        with session.begin():
            session.execute(delete(db.PassageBand))
            session.execute(delete(db.BandBlock))
            session.execute(delete(MatchRow).where(MatchRow.kind == "cross"))
            session.execute(delete(SpanPack))
            session.execute(update(PassageRow).values(rep_id=None, canonical_id=None))
            index.set_parameters(session, fingerprint.parameters(config.fingerprint))
            session.merge(Meta(key=PENDING, value={"since": db.utcnow().isoformat()}))
            total = session.scalar(select(func.count()).select_from(PassageRow)) or 0
        last = 0
        while True:
            with session.begin():
                rows = session.execute(
                    select(
                        PassageRow.id,
                        PassageRow.submission_id,
                        PassageRow.idx,
                        PassageRow.kind,
                        PassageRow.text,
                        PassageRow.removed,
                        PassageRow.year,
                    )
                    .where(PassageRow.id > last)
                    .order_by(PassageRow.id)
                    .limit(BATCH)
                ).all()
                if not rows:
                    break
                last = rows[-1].id
                _reindex_batch(session, rows, config, summary, indexer)
            if indexer.merge_due():  # the blocks every lookup holds stay within the limit
                indexer.merge()
            if tick is not None:
                tick(summary.passages, total)
        with session.begin():
            indexer.compact()  # the rebuilt index is one level, as after `archiver compact`
            session.execute(delete(Meta).where(Meta.key == PENDING))
        recording.summary = asdict(summary)
    return summary


def refuse_if_pending(session: Session) -> None:
    """StoreError when a reindex was interrupted: the index is then half rebuilt, and a run
    linking against it, or an export or audit reading it, would miss links without a word."""
    if session.get(Meta, PENDING) is not None:
        raise StoreError(
            "an `archiver reindex` was interrupted and the index is half rebuilt: "
            "run `archiver reindex` again to finish it"
        )


def compact(config: Config) -> int:
    """``archiver compact``: merge the upper levels of the band index into the main one;
    returns the rows moved."""
    with recorded(config, "compact") as recording, recording.session.begin():
        moved = Indexer(recording.session, config).compact()
        recording.summary = {"merged": moved}
    return moved


def _reindex_batch(
    session: Session, rows: Sequence[Any], config: Config, summary: ReindexSummary, indexer: Indexer
) -> None:
    passages = [Passage(r.idx, r.kind, 0, 0, r.text, 0) for r in rows]
    prints = fingerprint.fingerprint(passages, config.fingerprint)
    session.execute(
        update(PassageRow),
        [
            {"id": r.id, "exact": f.exact, "chars": f.normalised_chars, "signature": f.signature}
            for r, f in zip(rows, prints, strict=True)
        ],
    )
    paragraphs = [
        NewParagraph(r.id, r.submission_id, f.exact, f.signature, f.normalised, r.year, f.anchors)
        for r, f in zip(rows, prints, strict=True)
        if not r.removed and fingerprint.reusable(r.kind, f.normalised_chars, config.fingerprint.min_chars)
    ]
    stats = indexer.add(paragraphs)
    summary.passages += len(rows)
    summary.signed += sum(f.signature is not None for f in prints)
    summary.links += stats.links
