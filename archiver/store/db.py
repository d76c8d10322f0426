"""SQLAlchemy 2.0 models of the archive index, and opening it (migrated to the current schema).

The database is an index over the file store (``vault.py``): everything in it can be rebuilt from
the stored objects. Tables:

runs            one row per ``archiver run`` / ``reindex``: when, which tool version, the summary
documents       one per place in the inbox (object id = path relative to the inbox)
submissions     one per received version of a document (and per rejected file)
sections        GB/T 9704 sections of a submission's cleaned text
passages        paragraphs / headings of the cleaned text; ``rep_id`` is the first passage with the
                same normalised text (exact duplicates are collapsed onto it)
passage_bands   the LSH index's main level: (band, key, passage_id), representatives only
band_blocks     its upper level: one row per batch and band, that band's rows of the batch as one
                sorted array (``levels``); merged into passage_bands by compaction
span_packs      aligned character regions of cross pairs (copied sentences, embedded and edited
                paragraphs), in normalised offsets; representatives only, like matches; packed
                per passage and batch, each region under both its passages
matches         verified links: kind "intra" between passages of one submission (removed or
                warned repeats), kind "cross" between representatives of different submissions
submission_search  the trigram index of current and old cleaned texts, caught up at the start
                of each run (``search_index``): on SQLite an FTS5 table (migrations 0006,
                0007), on PostgreSQL the texts under pg_trgm's GIN index (0010)
events          provenance: what was done to what, by which tool version with which parameters
meta            key/value: the pinned fingerprint parameters
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from archiver.errors import BusyError, StoreError, describe

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    command: Mapped[str] = mapped_column(String(32))
    started: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    tool_version: Mapped[str] = mapped_column(String(32))
    summary: Mapped[dict[str, Any] | None]


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(1024), unique=True)
    authority: Mapped[str | None] = mapped_column(String(255), index=True)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    title: Mapped[str | None] = mapped_column(Text)
    head_version: Mapped[str | None] = mapped_column(String(16))
    head_sha512: Mapped[str | None] = mapped_column(String(128), index=True)  # notes._identical
    current_submission_id: Mapped[int | None] = mapped_column(Integer)


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    relpath: Mapped[str] = mapped_column(String(1024))
    sha512: Mapped[str] = mapped_column(String(128), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # archived | rejected
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    authority: Mapped[str | None] = mapped_column(String(255))
    year: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(16))
    # Not indexed: nearly every row is current, and SQLite preferred such an index to document_id's.
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    cleaned_text: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None]  # repairs, changes, warnings: what the clerk sees
    received: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SectionRow(Base):
    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(SmallInteger)
    number: Mapped[str] = mapped_column(String(32))
    heading: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)


class PassageRow(Base):
    __tablename__ = "passages"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by ix_passages_submission_idx (submission_id, idx) below.
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    idx: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    section_idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[int | None] = mapped_column(Integer)  # span in the archived text; None when removed
    end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    exact: Mapped[str] = mapped_column(String(32))  # indexed for representatives only, below
    chars: Mapped[int] = mapped_column(Integer)  # normalised characters
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    rep_id: Mapped[int | None] = mapped_column(Integer)  # indexed where set, below
    year: Mapped[int | None] = mapped_column(Integer)
    # Not indexed: nothing looks a passage up by its canonical (a star is read from its group's
    # representative), and every canonical move would have rewritten index entries.
    canonical_id: Mapped[int | None] = mapped_column(Integer)


class _BandColumns:
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    passage_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    __table_args__ = ({"sqlite_with_rowid": False},)


class PassageBand(_BandColumns, Base):
    """The main LSH index: every band row but the newest, in one B-tree ordered by key."""

    __tablename__ = "passage_bands"


class BandBlock(Base):
    """The band rows of one batch and band (the band index's upper level, ``levels``): ``data``
    holds the ``rows`` (key, passage id) pairs as little-endian int64s, sorted, of passages
    ``first_passage``…``last_passage``. Written once, in the batch's transaction, never
    changed: merged into ``passage_bands`` and deleted (``levels.compact_if_full``). Ids only
    grow (``sqlite_autoincrement``), so a worker that has read a block by id may keep it.
    """

    __tablename__ = "band_blocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    band: Mapped[int] = mapped_column(SmallInteger)
    rows: Mapped[int] = mapped_column(Integer)
    first_passage: Mapped[int] = mapped_column(Integer)
    last_passage: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = ({"sqlite_autoincrement": True},)


class MatchRow(Base):
    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Not indexed alone: uq_match_pair (passage_id, other_id) answers lookups by it.
    passage_id: Mapped[int] = mapped_column(Integer)  # the later passage
    other_id: Mapped[int] = mapped_column(Integer, index=True)  # the earlier one
    similarity: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(8))  # intra | cross
    action: Mapped[str] = mapped_column(String(8))  # removed | warned | linked
    __table_args__ = (UniqueConstraint("passage_id", "other_id", name="uq_match_pair"),)


# A match row's columns as the bulk writers give them (``bulk.insert_tuples``): the repeats
# inside a submission (filing) and the cross links (the linker).
MATCH_COLUMNS = ("passage_id", "other_id", "similarity", "kind", "action")


class SpanPack(Base):
    """Aligned regions of pairs of representatives from different submissions (``align.align``):
    what of one passage is copied from the other. ``data`` holds the regions of ``passage_id``
    with other representatives, written by one batch, as little-endian int32 rows of
    ``SPAN_PACK_COLUMNS`` seen from ``passage_id``'s side (``start``…``end`` its own range,
    ``other_start``…``other_end`` the other's). Every region is in two packs, one for each of its
    passages, so that one index finds a passage's regions either way round
    (``index.spans.packs``). Offsets are in the normalised text, which every member of a group
    shares; ``align.norm_offsets`` maps them onto each member's cleaned text."""

    __tablename__ = "span_packs"
    id: Mapped[int] = mapped_column(primary_key=True)
    passage_id: Mapped[int] = mapped_column(Integer, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# A span pack's row: the other representative, this one's range, the other's, the equal
# characters in the region and its longest run of them.
SPAN_PACK_COLUMNS = ("other_id", "start", "end", "other_start", "other_end", "matched", "longest")


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


Index("ix_passages_submission_idx", PassageRow.submission_id, PassageRow.idx)
# A new paragraph looks for its group among representatives only (``index._existing_reps``). A
# full index on ``exact`` sent that lookup to every copy of a template, row by row, to test
# ``rep_id = id``; this one holds only representatives, and a copy's insert does not touch it.
_IS_REPRESENTATIVE = PassageRow.rep_id == PassageRow.id
Index(
    "ix_passages_exact_rep",
    PassageRow.exact,
    sqlite_where=_IS_REPRESENTATIVE,
    postgresql_where=_IS_REPRESENTATIVE,
)
# Members are looked up by group (``rep_id IN (…)``, ``rep_id = ?``): about half the passages
# (headings, short and removed ones) have none, and their inserts need not touch this index.
_IN_A_GROUP = PassageRow.rep_id.is_not(None)
Index("ix_passages_rep_id", PassageRow.rep_id, sqlite_where=_IN_A_GROUP, postgresql_where=_IN_A_GROUP)


RowT = TypeVar("RowT", bound=Sequence[Any])


def in_relpath_order(rows: Iterable[RowT]) -> list[RowT]:
    """Rows whose second column is a submission's relpath, in code-point order of it, as SQLite's
    ORDER BY gives them. PostgreSQL's follows the database's collation (under ICU zh, pinyin:
    甲 before 乙), so exports and audits sort here, the same on every backend."""
    return sorted(rows, key=lambda row: str(row[1]))


# The search index (migration 0006) is not a model: FTS5 tables and their shadow tables, and a
# GIN index with an operator class, are beyond what the models describe.
SEARCH_INDEX = "submission_search"
SEARCH_TRGM_INDEX = "ix_submissions_cleaned_trgm"


def modelled(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    """Alembic's ``include_object``: False for the search index, which the models leave out."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_INDEX):
        return False
    return not (type_ == "index" and name == SEARCH_TRGM_INDEX)


def table(model: type[Base]) -> Table:
    """The Core table of a model: bulk inserts and updates skip the ORM's per-row work."""
    return cast(Table, model.__table__)


WAL_AUTOCHECKPOINT_PAGES = 16384  # 64 MB of 4 KiB pages


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A batch writes thousands of pages; at SQLite's default (1,000 pages, 4 MB) nearly every
    # commit would run a checkpoint with its fsyncs. At 64 MB a page rewritten by several
    # batches is checkpointed once (bench/HISTORY.md).
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def write_back(session: Session) -> None:
    """Copy what the write-ahead log holds into the database file now (SQLite; elsewhere a
    no-op): at a moment chosen by the caller rather than at a later commit or the close."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def open_engine(url: str, *, create: bool = True, migrated: bool = True) -> Engine:
    """An engine for ``url`` with the schema migrated to head (Alembic).

    ``create=False`` is for the commands that only read: a database that holds no archive is
    then a StoreError, and nothing is created. Every StoreError names the URL (never its
    password) and says to check ``[store] database``.
    """
    engine = _engine(url)
    if engine.dialect.name == "sqlite":
        _sqlite_file(engine.url.database, create)
        event.listen(engine, "connect", _sqlite_pragmas)
    if not create:
        _require_archive(engine)
    if migrated:
        migrate(engine)
    else:  # the caller migrates once it holds the writer lock; a server that is not there stops now
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            raise unusable(engine, "cannot open", exc) from exc
    return engine


_reading: dict[tuple[int, str], Engine] = {}
_reading_lock = threading.Lock()


def reading_engine(url: str) -> Engine:
    """This process's engine for reading the archive at ``url`` (a worker's: the index's verify
    tasks read the earlier passages they judge), made once per process and kept for its next
    tasks. Keyed by process too: a forked worker must not share its parent's connections.

    Only committed rows are seen (SQLite in WAL mode lets it read beside the coordinator's
    write transaction), and it never writes (``query_only``)."""
    key = (os.getpid(), url)
    with _reading_lock:  # a Dask worker may run tasks in threads
        engine = _reading.get(key)
        if engine is None:
            engine = _reading[key] = _engine(url, SQLITE_READER_STATEMENTS_KEPT)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_query_only)
    return engine


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


# Prepared statements the sqlite3 module keeps per connection (its default is 128). The index's
# lookups send SQL of thousands of literal keys, each text once: kept, 128 of them held tens of
# MB for nothing, more the larger the archive's buckets (bench/README.md, memory).
SQLITE_STATEMENTS_KEPT = 16
# A worker's reading engine keeps none: nearly all it sends is a lookup's one-off SQL, and the
# few statements that repeat cost little to prepare again (bench/README.md, memory).
SQLITE_READER_STATEMENTS_KEPT = 0


def _engine(url: str, statements_kept: int = SQLITE_STATEMENTS_KEPT) -> Engine:
    try:
        if make_url(url).get_backend_name() == "sqlite":
            return create_engine(url, connect_args={"cached_statements": statements_kept})
        return create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(
            f"cannot open database {shown(url)}: {reason(exc)}; check [store] database in config.toml"
        ) from exc


def _sqlite_file(database: str | None, create: bool) -> None:
    """Make the folder of an SQLite file (``create``), or make sure the file is there (not ``create``)."""
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not create:
        if not path.is_file():
            raise StoreError(
                f"no archive at {path}: check [store] database in config.toml or run `archiver run` first"
            )
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the database at {path}: {describe(exc)}; check [store] database in config.toml"
        ) from exc


def _require_archive(engine: Engine) -> None:
    """StoreError unless the database has been made by ``migrate`` (it has an ``alembic_version``)."""
    try:
        with engine.connect() as connection:
            present = inspect(connection).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise unusable(engine, "cannot open", exc) from exc
    if not present:
        raise StoreError(
            f"no archive in database {shown(engine.url)}: check [store] database in config.toml "
            "or run `archiver run` first"
        )


SQLITE_HEADER = b"SQLite format 3\x00"


def probe(url: str) -> str:
    """What the database at ``url`` holds, found without writing anything. StoreError (as
    ``open_engine`` words it) when it cannot be reached or is not a database."""
    engine = _engine(url)
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        try:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read database {path}: {describe(exc)}; check [store] database") from exc
        if header not in (SQLITE_HEADER, b""):
            raise StoreError(f"{path} is not an SQLite database: check [store] database in config.toml")
        return f"an SQLite database at {path}"
    try:
        _require_archive(engine)
    except StoreError as exc:
        if "no archive in database" not in str(exc):
            raise
        return f"an empty database at {shown(engine.url)}: a run creates the archive in it"
    finally:
        engine.dispose()
    return f"an archive at {shown(engine.url)}"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.util import CommandError

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise unusable(engine, "cannot prepare", exc) from exc
    except CommandError as exc:
        # The one such error upgrading meets: a revision this version of archiver does not have.
        raise StoreError(
            f"cannot prepare database {shown(engine.url)}: {exc}; it was made by a newer archiver, "
            "so upgrade archiver (or check [store] database in config.toml)"
        ) from exc


def unusable(engine: Engine, what: str, exc: SQLAlchemyError) -> StoreError:
    """``exc`` as one line naming the database: a ``BusyError`` when it stayed locked past the
    driver's wait (SQLite: 5 s), nothing to fix but to try again."""
    said = reason(exc)
    if "database is locked" in said:
        return BusyError(
            f"the archive's database {shown(engine.url)} is busy ({said}): another command is "
            "writing to it; try again in a moment"
        )
    return StoreError(f"{what} database {shown(engine.url)}: {said}; check [store] database in config.toml")


def shown(url: str | URL) -> str:
    """``url`` as it may be printed: the password masked."""
    try:
        return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def reason(exc: BaseException) -> str:
    """The driver's own message of a database error on one line: not SQLAlchemy's wrapping of it,
    which adds the statement and a line with a link to its documentation."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).split("(Background on this error at:")[0]
    return "; ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
