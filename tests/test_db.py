"""The archive database: migrations agree with the models; opening twice is a no-op."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from archiver import db, index


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return cfg


HEAD = ScriptDirectory.from_config(_alembic_config()).get_current_head()


def test_the_migrations_build_exactly_the_schema_of_the_models(tmp_path: Path) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.Base.metadata) == []
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_every_sqlite_connection_checkpoints_at_64_mb_not_at_sqlites_4_mb(tmp_path: Path) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 16384
    engine.dispose()


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
        assert connection.execute(text("SELECT count(*) FROM recent_bands")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM run_bands")).scalar() == 0
        assert compare_metadata(MigrationContext.configure(connection), db.Base.metadata) == []
    assert "ix_submissions_current" not in {i["name"] for i in inspect(engine).get_indexes("submissions")}
    passage_indexes = {i["name"] for i in inspect(engine).get_indexes("passages")}
    assert "ix_passages_exact_rep" in passage_indexes and "ix_passages_exact" not in passage_indexes
    engine.dispose()


def test_the_representative_lookup_is_answered_by_the_partial_index_of_representatives(
    tmp_path: Path,
) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    statement = index.representatives_of(["0" * 32, "f" * 32])
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "USING INDEX ix_passages_exact_rep" in plan
    engine.dispose()
