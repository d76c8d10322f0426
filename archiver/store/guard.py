"""What keeps a run from harming its own archive, and its readers from seeing it half done:
one writer at a time, one snapshot per read, and never archiving the archive's own files.

``writing(vault)`` is the writer lock that ``archiver run``, ``reindex`` and ``compact`` hold
(``runs.recorded`` takes it); ``reading(engine)`` is the session of a command that only reads
(``export``, ``audit``, ``find``, ``search``, ``runs``); ``store_paths(config)`` are the paths
``ingest.locate`` leaves out.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.errors import BusyError, StoreError, describe
from archiver.runlog import logs_folder
from archiver.store import db
from archiver.store.vault import Vault

# In an extension folder of its own: OCFL allows only folders directly in `extensions/` (E086).
LOCK_FILE = "extensions/archiver-lock/run.lock"
# Where versions before 0.2 kept it; removed once the new lock is held, so old storage roots validate.
LEGACY_LOCK_FILE = "extensions/archiver-run.lock"


@contextmanager
def writing(vault: Vault) -> Iterator[None]:
    """Hold the archive's writer lock (a lock file in the vault) while the block runs.

    Two runs writing one archive at once would each file the other's new documents again and
    sweep each other's staged writes. The lock is the kernel's (``flock``): it goes with the
    process, so a crashed run never leaves it behind.
    """
    path = vault.root / LOCK_FILE
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot take the writer lock {path}: {describe(exc)}; check [store] vault") from exc
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(
                f"another archiver run, reindex or compact is writing to this archive ({path} is locked); "
                "wait for it to finish, then run again"
            ) from None
        (vault.root / LEGACY_LOCK_FILE).unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session whose every statement reads one snapshot of the archive: a read that runs
    while a run commits batch after batch sees all of a commit or none of it.

    SQLite (in WAL mode) pins the snapshot at the first read of a transaction, but its Python
    driver opens none before a SELECT, so each statement would see the newest commit: the
    ``BEGIN`` is ours. PostgreSQL: one REPEATABLE READ READ ONLY transaction. A failure of the
    database is one line (``db.unusable``: busy, or what to check), never the statement or its
    parameters.
    """
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN")
            else:
                connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with Session(bind=connection) as session:
                yield session
            connection.rollback()
    except OperationalError as exc:
        raise db.unusable(engine, "cannot read", exc) from exc


def store_paths(config: Config) -> set[Path]:
    """The real paths of the archive's own files: the vault, the runs' logs and an SQLite
    database with its journals. ``ingest.locate`` never lists them, so an archive kept inside an
    inbox (the default ``archive/`` when a run is given ``.``) is not archived into itself."""
    paths = {config.resolve(config.store.vault).resolve(), logs_folder(config).resolve()}
    url = config.database_url
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///")).resolve()
        paths |= {database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")}
    return paths
