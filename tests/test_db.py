"""The archive database: migrations agree with the models; opening twice is a no-op."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from archiver import db


def test_the_migrations_build_exactly_the_schema_of_the_models(tmp_path: Path) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.Base.metadata) == []
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
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
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    assert "passage_bands" in inspect(again).get_table_names()
    again.dispose()


def test_an_archive_made_at_revision_0001_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    old = create_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with old.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
        connection.execute(text("INSERT INTO meta (key, value) VALUES ('probe', '{}')"))
    assert "ix_submissions_current" in {i["name"] for i in inspect(old).get_indexes("submissions")}
    old.dispose()
    engine = db.open_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        assert connection.execute(text("SELECT count(*) FROM meta")).scalar() == 1
        assert compare_metadata(MigrationContext.configure(connection), db.Base.metadata) == []
    assert "ix_submissions_current" not in {i["name"] for i in inspect(engine).get_indexes("submissions")}
    engine.dispose()
