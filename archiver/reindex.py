"""``archiver reindex``: recompute every signature, band key, link and cluster with the
current ``[fingerprint]`` settings, from the passages already archived.

The cleaned texts and the repeats removed inside submissions stay as they were filed (they do
not depend on fingerprint settings beyond normalisation); what is rebuilt is everything that
compares passages across submissions. Paragraphs are replayed in arrival (id) order through
the same linker a nightly run uses, so a reindexed archive equals one built from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.config import Config
from archiver.index import levels, stars
from archiver.index import links as index
from archiver.records import NewParagraph, Passage, ReindexSummary
from archiver.stages import fingerprint
from archiver.store import db
from archiver.store.db import MatchRow, PassageRow, Run
from archiver.store.guard import writing
from archiver.store.vault import Tick, Vault

BATCH = 2000


def reindex(config: Config, tick: Tick | None = None) -> ReindexSummary:
    """Rebuild the cross-submission index; ``tick(done, total)`` follows the passages."""
    engine = db.open_engine(config.database_url, create=False)
    summary = ReindexSummary()
    # A run filing while the index is rebuilt would link against half an index.
    with (
        writing(Vault(config.resolve(config.store.vault), create=False)),
        Session(engine, expire_on_commit=False) as session,
    ):
        with session.begin():
            run_row = Run(command="reindex", tool_version=__version__)
            session.add(run_row)
            for level in levels.LEVELS:
                session.execute(delete(level))
            session.execute(delete(MatchRow).where(MatchRow.kind == "cross"))
            session.execute(update(PassageRow).values(rep_id=None, canonical_id=None))
            index.set_parameters(session, fingerprint.parameters(config.fingerprint))
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
                _reindex_batch(session, rows, config, summary)
            if tick is not None:
                tick(summary.passages, total)
        with session.begin():
            levels.compact(session)  # the rebuilt index is one level, as after `archiver compact`
            run_row.status, run_row.finished = "completed", db.utcnow()
            run_row.summary = {"passages": summary.passages, "signed": summary.signed, "links": summary.links}
    engine.dispose()
    return summary


def _reindex_batch(session: Session, rows: Sequence[Any], config: Config, summary: ReindexSummary) -> None:
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
        NewParagraph(r.id, r.submission_id, f.exact, f.signature, f.normalised, r.year)
        for r, f in zip(rows, prints, strict=True)
        if not r.removed and index.reusable(r.kind, f.normalised_chars, config.fingerprint.min_chars)
    ]
    stats, changes = index.link(session, paragraphs, config.fingerprint, config.match)
    stars.update_canonicals(session, changes)
    summary.passages += len(rows)
    summary.signed += sum(f.signature is not None for f in prints)
    summary.links += stats.links
