"""The archive database: migrations agree with the models; opening twice is a no-op."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from archiver.errors import StoreError
from archiver.index import levels
from archiver.index import links as index
from archiver.store import db


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return cfg


HEAD = ScriptDirectory.from_config(_alembic_config()).get_current_head()
CHECK = "; check [store] database in config.toml"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A new SQLite archive at the newest schema."""
    made = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    yield made
    made.dispose()


def test_the_migrations_build_exactly_the_schema_of_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert (
            compare_metadata(
                MigrationContext.configure(connection, opts={"include_object": db.modelled}), db.Base.metadata
            )
            == []
        )
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_every_sqlite_connection_checkpoints_at_64_mb_not_at_sqlites_4_mb(engine: Engine) -> None:
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 16384


def _sqlite_library() -> ctypes.CDLL:
    """The SQLite library the sqlite3 module runs on, for its memory counter."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        library.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError):
        pytest.skip("the SQLite library's memory counter is not reachable through ctypes here")
    return library


def _one_off_lookups(engine: Engine, library: ctypes.CDLL) -> tuple[int, int]:
    """SQLite's memory held after one one-off lookup, and after 59 (each SQL text sent once)."""

    def lookup(n: int) -> str:
        keys = ",".join(str(n * 100_000 + k) for k in range(3000))
        return f"SELECT passage_id FROM passage_bands WHERE band = 0 AND key IN ({keys})"

    with engine.connect() as connection:
        connection.exec_driver_sql(lookup(0)).all()
        before = library.sqlite3_memory_used()
        connection.exec_driver_sql(lookup(1)).all()
        one = library.sqlite3_memory_used() - before
        for n in range(2, 60):
            connection.exec_driver_sql(lookup(n)).all()
        kept = library.sqlite3_memory_used() - before
    return one, kept


def test_an_sqlite_connection_does_not_keep_every_one_off_statement_prepared(tmp_path: Path) -> None:
    # The index's lookups are SQL of thousands of literal keys, each sent once: the sqlite3
    # module's default cache keeps 128 of them prepared, tens of MB at scale.
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = db.open_engine(url)
    one, kept = _one_off_lookups(engine, _sqlite_library())
    engine.dispose()
    assert one > 0
    assert kept < (db.SQLITE_STATEMENTS_KEPT + 4) * one, (kept, one)


def test_a_workers_reading_engine_keeps_no_statement_prepared(tmp_path: Path) -> None:
    # A worker's engine sends little else than one-off lookups: it keeps none of them.
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = db.open_engine(url)
    library = _sqlite_library()
    one, _ = _one_off_lookups(engine, library)
    engine.dispose()
    reading = db.reading_engine(url)
    _, kept = _one_off_lookups(reading, library)
    reading.dispose()
    assert one > 0
    assert kept < one, (kept, one)


def test_opening_an_existing_archive_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = db.open_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO meta (key, value) VALUES ('probe', '{}')"))
    engine.dispose()
    again = db.open_engine(url)
    with again.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM meta")).scalar() == 1
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    assert "passage_bands" in inspect(again).get_table_names()
    again.dispose()


def test_an_archive_made_at_revision_0001_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    old = create_engine(url)
    cfg = _alembic_config()
    with old.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
        connection.execute(text("INSERT INTO meta (key, value) VALUES ('probe', '{}')"))
        connection.execute(text("INSERT INTO passage_bands (band, key, passage_id) VALUES (3, -7, 1)"))
    assert "ix_submissions_current" in {i["name"] for i in inspect(old).get_indexes("submissions")}
    assert "recent_bands" not in inspect(old).get_table_names()
    old.dispose()
    engine = db.open_engine(url)
    with engine.connect() as connection:
        assert HEAD is not None and HEAD >= "0003"
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert connection.execute(text("SELECT count(*) FROM meta")).scalar() == 1
        assert connection.execute(text("SELECT band, key, passage_id FROM passage_bands")).all() == [
            (3, -7, 1)
        ]
        assert connection.execute(text("SELECT count(*) FROM band_blocks")).scalar() == 0
        assert (
            compare_metadata(
                MigrationContext.configure(connection, opts={"include_object": db.modelled}), db.Base.metadata
            )
            == []
        )
    assert "ix_submissions_current" not in {i["name"] for i in inspect(engine).get_indexes("submissions")}
    passage_indexes = {i["name"] for i in inspect(engine).get_indexes("passages")}
    assert "ix_passages_exact_rep" in passage_indexes and "ix_passages_exact" not in passage_indexes
    engine.dispose()


POSTGRES_URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "")


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not POSTGRES_URL, reason="set ARCHIVER_TEST_POSTGRES_URL"),
            ],
        ),
    ],
)
def test_the_band_levels_of_revision_0011_are_merged_into_the_main_one_and_back(
    tmp_path: Path, backend: str
) -> None:
    """Revision 0012: the rows of every old level end in passage_bands, in key order, and the
    blocks written after it go back there on a downgrade: nothing lost either way."""
    url = POSTGRES_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    old = create_engine(url)
    if backend == "postgresql":
        with old.begin() as connection:  # a clean schema for this test
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    cfg = _alembic_config()
    levels_0011 = {"passage_bands": [(0, 5, 1), (1, -2, 3)], "recent_bands": [(0, 5, 2), (0, -9, 4)]}
    levels_0011["run_bands"] = [(1, -2, 7), (0, 1, 6), (2, 2**40, 5)]
    with old.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0011")
        for name, rows in levels_0011.items():
            for row in rows:
                connection.execute(text(f"INSERT INTO {name} (band, key, passage_id) VALUES {row}"))
    old.dispose()
    every = sorted(row for rows in levels_0011.values() for row in rows)
    engine = db.open_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert [
            tuple(r)
            for r in connection.execute(
                text("SELECT band, key, passage_id FROM passage_bands ORDER BY 1, 2, 3")
            )
        ] == every
        assert not {"recent_bands", "run_bands"} & set(inspect(connection).get_table_names())
        levels.write_blocks(connection, np.array([(0, 3, 9), (0, 8, 8), (3, 1, 9)], dtype=np.int64))
        connection.commit()
    engine.dispose()
    with create_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0011")
        back = [
            tuple(r)
            for r in connection.execute(
                text("SELECT band, key, passage_id FROM passage_bands ORDER BY 1, 2, 3")
            )
        ]
        assert back == sorted([*every, (0, 3, 9), (0, 8, 8), (3, 1, 9)])
        assert connection.execute(text("SELECT count(*) FROM recent_bands")).scalar() == 0
        assert "band_blocks" not in inspect(connection).get_table_names()


def _plan(engine: Engine, sql: str, parameters: tuple[object, ...] = ()) -> str:
    """SQLite's query plan of ``sql``, its steps in one line."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
        return " ".join(str(row[-1]) for row in rows)


def test_the_representative_lookup_is_answered_by_the_partial_index_of_representatives(
    engine: Engine,
) -> None:
    sql = index.REPRESENTATIVES_SQL.format(listed="?, ?")
    assert "USING INDEX ix_passages_exact_rep" in _plan(engine, sql, ("0" * 32, "f" * 32))


def test_the_lookups_of_a_groups_members_are_answered_by_the_partial_index_of_grouped_passages(
    engine: Engine,
) -> None:
    # As the stars read a group's most senior member and move its canonical passage (_stars).
    firsts = (
        "SELECT rep_id, min(year * 4294967296 + id) FROM passages WHERE rep_id IN (1, 2, 3) GROUP BY rep_id"
    )
    moved = "UPDATE passages SET canonical_id = ? WHERE rep_id = ?"
    for sql, parameters in ((firsts, ()), (moved, (1, 2))):
        assert "USING INDEX ix_passages_rep_id" in _plan(engine, sql, parameters), sql
    with engine.connect() as connection:
        found = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'passages'")
        indexes = {str(name): str(sql) for name, sql in found}
    assert "ix_passages_canonical_id" not in indexes
    assert indexes["ix_passages_rep_id"].endswith("WHERE rep_id IS NOT NULL")


def test_the_lookups_of_matches_by_either_side_are_answered_by_the_pair_key_and_other_id(
    engine: Engine,
) -> None:
    # As the stars read a representative's neighbours (_stars.neighbours), either way round.
    sql = (
        "SELECT passage_id, other_id FROM matches "
        "WHERE kind = 'cross' AND (passage_id IN (1, 2) OR other_id IN (1, 2))"
    )
    plan = _plan(engine, sql)
    # SQLite names the index of the constraint uq_match_pair sqlite_autoindex_matches_1.
    assert "USING INDEX sqlite_autoindex_matches_1 (passage_id=?)" in plan, plan
    assert "USING INDEX ix_matches_other_id (other_id=?)" in plan, plan
    assert "ix_matches_passage_id" not in {i["name"] for i in inspect(engine).get_indexes("matches")}


def test_revision_0013_drops_the_unread_indexes_and_the_downgrade_puts_them_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    engine = db.open_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO matches (passage_id, other_id, similarity, kind, action) "
                "VALUES (2, 1, 0.9, 'cross', 'linked')"
            )
        )

    def indexes() -> set[str]:
        found = inspect(engine)
        return {str(i["name"]) for t in ("passages", "matches") for i in found.get_indexes(t)}

    dropped = {"ix_passages_canonical_id", "ix_matches_passage_id"}
    assert not dropped & indexes() and "ix_passages_rep_id" in indexes()
    cfg = _alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0012")
    assert dropped <= indexes() and "ix_passages_rep_id" in indexes()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        assert connection.execute(text("SELECT passage_id, other_id FROM matches")).all() == [(2, 1)]
    assert not dropped & indexes()
    engine.dispose()


def test_the_identical_documents_lookup_is_answered_by_the_head_sha512_index(engine: Engine) -> None:
    from archiver import notes

    sql = str(
        notes.holders_of(["0" * 128, "f" * 128]).compile(engine, compile_kwargs={"literal_binds": True})
    )
    assert "USING INDEX ix_documents_head_sha512" in _plan(engine, sql)


def test_a_file_where_the_databases_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"x")
    where = tmp_path / "a-file" / "db.sqlite3"
    message = f"cannot create the database at {where}: '{tmp_path / 'a-file'}' is a file, not a folder{CHECK}"
    with pytest.raises(StoreError, match=re.escape(message)):
        db.open_engine(f"sqlite:///{where}")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "unable to open database file"),
        (lambda p: p.write_bytes("一、总体情况\n".encode() * 100), "file is not a database"),
    ],
    ids=["a folder", "a text file"],
)
def test_an_unusable_sqlite_file_is_one_line_with_sqlites_own_message(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    where = tmp_path / "archive.sqlite3"
    make(where)
    with pytest.raises(StoreError) as raised:
        db.open_engine(f"sqlite:///{where}")
    assert str(raised.value) == f"cannot prepare database sqlite:///{where}: {reason}{CHECK}"


def test_an_unreachable_server_is_one_line_naming_the_url_without_its_password() -> None:
    with pytest.raises(StoreError) as raised:
        db.open_engine("postgresql+psycopg://clerk:s3cret@127.0.0.1:1/archive")
    message = str(raised.value)
    assert message.startswith("cannot prepare database postgresql+psycopg://clerk:***@127.0.0.1:1/archive: ")
    assert "Connection refused" in message and message.endswith(CHECK)
    assert "\n" not in message and "s3cret" not in message and "sqlalche.me" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://clerk:s3cret@host:port/archive", "postgresql://clerk:***@host:port/archive"),
        ("nosuchdb://clerk:s3cret@host/archive", "nosuchdb://clerk:***@host/archive"),
    ],
)
def test_an_unusable_url_is_a_store_error_without_its_password(url: str, shown: str) -> None:
    with pytest.raises(StoreError, match=re.escape(f"cannot open database {shown}: ")) as raised:
        db.open_engine(url)
    assert "s3cret" not in str(raised.value) and str(raised.value).endswith(CHECK)


def test_a_database_of_a_newer_archiver_asks_for_an_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    db.open_engine(url).dispose()
    with sqlite3.connect(tmp_path / "archive.sqlite3") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    connection.close()
    with pytest.raises(
        StoreError, match=r"9999_from_the_future.*made by a newer archiver, so upgrade archiver"
    ):
        db.open_engine(url)


def test_opening_to_read_refuses_a_missing_or_empty_database_and_creates_nothing(tmp_path: Path) -> None:
    where = tmp_path / "archive" / "archive.sqlite3"
    with pytest.raises(StoreError, match=re.escape(f"no archive at {where}: check [store] database")):
        db.open_engine(f"sqlite:///{where}", create=False)
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(
        StoreError, match=r"no archive in database sqlite:///.*empty\.sqlite3: check \[store\]"
    ):
        db.open_engine(f"sqlite:///{empty}", create=False)
    assert inspect(create_engine(f"sqlite:///{empty}")).get_table_names() == []
    db.open_engine(f"sqlite:///{where}").dispose()
    engine = db.open_engine(f"sqlite:///{where}", create=False)
    assert "passages" in inspect(engine).get_table_names()
    engine.dispose()
