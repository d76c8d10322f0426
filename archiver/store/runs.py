"""Run bookkeeping for every command that writes an archive (``run``, ``reindex``, ``compact``).

``recorded`` holds the writer lock (``guard.writing``) and keeps the command's row in ``runs``:
``running`` while it works, then ``completed``, or ``failed`` when it stops on an error. The
holder of the lock is the only live writer, so a row still ``running`` when a command takes the
lock was left by a process that died (killed, or the machine went down): it becomes ``interrupted``,
and the staging and empty layout folders such a process can leave in the vault are removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.config import Config
from archiver.store import db
from archiver.store.db import Run
from archiver.store.guard import writing
from archiver.store.vault import Vault


@dataclass
class Recording:
    """What a writing command works with: its session, the vault and its own ``runs`` row."""

    session: Session
    vault: Vault
    run: Run  # its row in ``runs``: ``recorded`` writes its status and ``summary``
    summary: dict[str, Any] | None = None  # what the command did, set by it before the block ends


@contextmanager
def recorded(
    config: Config, command: str, *, create: bool = False, first: Callable[[Session], None] | None = None
) -> Iterator[Recording]:
    """Hold the writer lock and record the block as a run of ``command``.

    ``create`` lets ``archiver run`` create a missing archive (the others need one). ``first``
    runs in the transaction that adds the row: when it raises, no row is left.
    """
    engine = db.open_engine(config.database_url, create=create, migrated=False)
    try:
        vault = Vault(config.resolve(config.store.vault), create=create)
        with writing(vault), Session(engine, expire_on_commit=False) as session:
            # Under the lock: of two first runs, one migrates and the other finds it done.
            db.migrate(engine)
            with session.begin():
                if first is not None:
                    first(session)
                dead = session.scalar(select(func.count()).select_from(Run).where(Run.status == "running"))
                session.execute(update(Run).where(Run.status == "running").values(status="interrupted"))
                row = Run(command=command, tool_version=__version__)
                session.add(row)
            if dead:  # only a writer killed while it stored leaves staging and empty layout folders
                vault.clear_staging()
                vault.remove_empty_folders()
            recording = Recording(session, vault, row)
            try:
                yield recording
            except BaseException:
                _record_failure(session, row)
                raise
            with session.begin():
                row.status, row.finished = "completed", db.utcnow()
                row.summary = recording.summary
    finally:
        engine.dispose()


def _record_failure(session: Session, row: Run) -> None:
    """Mark a command that stopped on an error as failed rather than leave it "running" for ever;
    when the database itself is what failed, the error that stopped it is the one to show."""
    try:
        session.rollback()
        with session.begin():
            row.status, row.finished = "failed", db.utcnow()
    except SQLAlchemyError:
        pass
