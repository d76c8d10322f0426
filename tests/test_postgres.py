"""The whole archive on PostgreSQL: ``run``, ``export``, ``audit`` and ``verify`` through the
command line give byte for byte what they give on SQLite, on the same inbox.

The PostgreSQL side is a database of its own whose default collation is ICU ``zh``, which orders
text by pinyin (甲 before 乙, ``B`` after ``a``): output that leaned on the database's ORDER BY
for text would come out in another order there than on SQLite, which compares code points.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command as alembic
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from archiver.cli import main
from archiver.store import db
from tests.conftest import SAMPLES
from tests.test_audit import paragraphs

URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL, reason="set ARCHIVER_TEST_POSTGRES_URL"),
]

# Names whose code-point order differs from their pinyin / ICU order: Chinese authorities, case,
# and punctuation that ICU weighs differently from ASCII.
AUTHORITIES = ["甲镇", "乙镇", "Town-B", "town_b", "丙县-教育局"]
NAMES = ["{year}年 工作总结（定稿）.txt", "{year}-report.txt", "{year}_Report.txt"]
ENCODINGS = ["utf-8", "gbk", "utf-16", "utf-8-sig", "gb18030"]


def generated_inbox(root: Path, seed: int = 3) -> Path:
    """Reports of five authorities over three years, made of real paragraphs: each year carries
    some of its authority's last report forward (verbatim or with a few characters edited), and
    authorities of a year share a template paragraph; in five encodings."""
    rng = random.Random(seed)
    pool = paragraphs()
    rng.shuffle(pool)
    fresh = iter(pool)
    last: dict[str, list[str]] = {}
    for year in (2021, 2022, 2023):
        template = next(fresh)
        for i, authority in enumerate(AUTHORITIES):
            carried = [
                p if rng.random() < 0.5 else p.replace("发展", "推进", 1).replace("。", "；", 1)
                for p in last.get(authority, [])
                if rng.random() < 0.6
            ]
            body = [*carried, template, *(next(fresh) for _ in range(2))]
            last[authority] = body
            lines = [f"{authority}{year}年工作总结", "一、主要工作完成情况", *body, "二、下一步工作打算"]
            path = root / authority / str(year) / NAMES[(i + year) % len(NAMES)].format(year=year)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes("\n".join(lines).encode(ENCODINGS[(i + year) % len(ENCODINGS)]))
    return root


@pytest.fixture
def pinyin_ordered_url() -> Iterator[str]:
    """A new database beside ARCHIVER_TEST_POSTGRES_URL's with ICU zh as its default collation,
    dropped afterwards."""
    base = make_url(URL)
    name = f"{base.database}_zh"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(
                text(
                    f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'zh' LOCALE 'C'"
                )
            )
    except SQLAlchemyError as exc:
        admin.dispose()
        pytest.skip(f"cannot create a database with ICU collation zh: {exc.__class__.__name__}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def outputs(folder: Path, database: str, inboxes: list[Path]) -> dict[str, Any]:
    """What every command that reads the archive writes, after ``archiver run`` of ``inboxes``
    (batches of 8, and a recent level of 300 band rows, so the run also merges its blocks)."""
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[store]\ndatabase = "{database}"\nvault = "{folder / "objects"}"\nrecent_band_rows = 300\n'
        "[run]\nworkers = 1\nbatch_size = 8\n",
        encoding="utf-8",
    )
    runner = CliRunner()

    def command(*args: str) -> str:
        result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    summary = json.loads(command("run", "--json", *map(str, inboxes)))
    del summary["seconds"], summary["cpu_seconds"], summary["stage_seconds"]
    out: dict[str, Any] = {"summary": summary}
    command("export", "-o", str(folder / "export.jsonl"))
    command("audit", "--format", "json", "-o", str(folder / "audit.json"))
    command("audit", "--format", "csv", "-o", str(folder / "audit.csv"))
    command("audit", "--format", "json", "--since", "2022", "-o", str(folder / "since.json"))
    command("audit", "--format", "html", "-o", str(folder / "site"))
    for name in ("export.jsonl", "audit.json", "audit.csv", "since.json"):
        out[name] = (folder / name).read_bytes()
    site = folder / "site"
    out["site"] = {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    out["verify"] = command("verify", "--full")
    return out


def test_run_export_audit_and_verify_give_the_same_bytes_on_postgresql_as_on_sqlite(
    tmp_path: Path, pinyin_ordered_url: str
) -> None:
    inboxes = [SAMPLES, generated_inbox(tmp_path / "generated")]
    on_sqlite = outputs(tmp_path / "sqlite", str(tmp_path / "sqlite.sqlite3"), inboxes)
    on_pg = outputs(tmp_path / "pg", pinyin_ordered_url, inboxes)

    engine = create_engine(pinyin_ordered_url)
    with engine.connect() as connection:
        ordered = connection.execute(text("SELECT relpath FROM submissions ORDER BY relpath")).scalars().all()
        # The batches wrote their band rows as blocks (``levels.write_blocks``), read back whole.
        blocks = connection.execute(text("SELECT rows, data FROM band_blocks")).all()
        # The cleaned texts are compressed with lz4 (migration 0011), the search index's copy too,
        # and the band index's blocks (0014).
        compression = connection.execute(
            text(
                "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
                "WHERE (attname = 'cleaned_text' AND attrelid IN ('submissions'::regclass, "
                "'submission_search'::regclass)) OR (attname = 'data' AND attrelid = "
                "'band_blocks'::regclass) ORDER BY 1"
            )
        ).all()
    engine.dispose()
    assert blocks and all(len(data) == 16 * rows for rows, data in blocks)
    assert [tuple(row) for row in compression] == [
        ("band_blocks", "data", "l"),
        ("submission_search", "cleaned_text", "l"),
        ("submissions", "cleaned_text", "l"),
    ]
    assert ordered != sorted(ordered)  # the database's own order is not SQLite's: the test can tell
    exported = [json.loads(line) for line in on_sqlite["export.jsonl"].splitlines()]
    assert [r["file"] for r in exported] == sorted(ordered)
    assert {r["encoding"] for r in exported} >= {"utf-8", "gb18030", "utf-16", "utf-8-sig", "big5"}
    assert sum(len(r["matches"]) for r in exported) > 20 and any(r["removed"] for r in exported)
    assert any(0.5 <= m["similarity"] < 1.0 for r in exported for m in r["matches"])
    assert on_sqlite["summary"]["compacted"] > 0 and on_sqlite["summary"]["links"] > 0
    assert len(on_sqlite["site"]) > 20

    assert on_pg == on_sqlite


def exported(folder: Path, database: str, inboxes: list[Path], workers: int) -> bytes:
    """``archiver export`` after ``archiver run`` of ``inboxes`` with ``workers`` processes."""
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[store]\ndatabase = "{database}"\nvault = "{folder / "objects"}"\n'
        f"[run]\nworkers = {workers}\nbatch_size = 8\n",
        encoding="utf-8",
    )
    for command in (["run", *map(str, inboxes)], ["export", "-o", str(folder / "export.jsonl")]):
        result = CliRunner().invoke(main, ["--config", str(config), *command], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return (folder / "export.jsonl").read_bytes()


def test_verify_tasks_on_a_process_pool_read_the_earlier_passages_from_postgresql(
    tmp_path: Path, pinyin_ordered_url: str
) -> None:
    """The pool's workers read the texts of the earlier batches' passages through their own
    connections to the server: the export is a serial SQLite run's."""
    inboxes = [SAMPLES, generated_inbox(tmp_path / "generated")]
    serial = exported(tmp_path / "sqlite", str(tmp_path / "sqlite.sqlite3"), inboxes, workers=1)
    pooled = exported(tmp_path / "pg", pinyin_ordered_url, inboxes, workers=2)
    assert serial.count(b'"similarity"') > 20
    assert pooled == serial


@pytest.mark.parametrize("dated", [False, True], ids=["binary", "text"])
def test_bulk_rows_go_in_by_copy_and_come_back_as_they_were(tmp_path: Path, dated: bool) -> None:
    """``bulk.insert_tuples`` writes through COPY on PostgreSQL, in the caller's transaction, in
    its binary format where every column has one and else in text (a date column): text with
    the characters COPY's text format escapes, bytes, booleans, integers of each width, floats,
    JSON (converted by its column type, as SQLAlchemy's insert does), timestamps and NULLs come
    back exactly, as from SQLite's executemany."""
    import datetime as dt

    from sqlalchemy import (
        JSON,
        BigInteger,
        Boolean,
        Column,
        Date,
        DateTime,
        Float,
        Integer,
        LargeBinary,
        MetaData,
        SmallInteger,
        String,
        Table,
        Text,
    )

    from archiver.store.bulk import insert_tuples

    metadata = MetaData()
    day = [Column("day", Date)] if dated else []
    rows_table = Table(
        "bulk_copy_check",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("text", Text),
        Column("signature", LargeBinary),
        Column("removed", Boolean),
        Column("kind", String(8)),
        Column("band", SmallInteger),
        Column("key", BigInteger),
        Column("score", Float),
        Column("report", JSON),
        Column("stamp", DateTime),
        *day,
    )
    rows = [
        (
            1,
            "制表\t换行\n回车\r反斜杠\\N 与 \\. 和「引号」'\"",
            bytes(range(256)),
            True,
            "cross",
            -(2**15),
            2**63 - 1,
            0.8125,
        ),
        (2, "", b"", False, "", 2**15 - 1, -(2**63), -1.5e-300),
        (3, None, None, None, None, None, None, None),
        (4, "\\", b"\\\x00\n", False, "intra", 0, 0, 1.0),
    ]
    reports = [{"修复": ["编码"], "n": 1.5, "引号": "'\"\\"}, [], None, {"空": {}}]
    stamps = [
        dt.datetime(2026, 12, 7, 15, 0, 1, 250),
        dt.datetime(2026, 12, 7),
        None,
        dt.datetime(1999, 1, 1),
    ]
    rows = [(*row, report, stamp) for row, report, stamp in zip(rows, reports, stamps, strict=True)]
    if dated:
        rows = [(*row, dt.date(2026, 12, i + 1)) for i, row in enumerate(rows)]
    read = written_on_both(
        tmp_path, rows_table, lambda connection: insert_tuples(connection, rows_table, rows)
    )
    assert read["postgresql"] == read["sqlite"] == rows


def test_ids_taken_before_the_rows_are_those_the_database_gives_next(tmp_path: Path) -> None:
    """``bulk.new_ids`` (one ``setval`` on PostgreSQL): ascending, after every id given before,
    and the database gives a row inserted without an id the next one after them."""
    from sqlalchemy import Column, Integer, MetaData, Table, Text

    from archiver.store.bulk import new_ids

    metadata = MetaData()
    rows_table = Table(
        "bulk_ids_check", metadata, Column("id", Integer, primary_key=True), Column("note", Text)
    )

    def write(connection: Connection) -> None:
        connection.execute(rows_table.insert(), [{"note": "first"}])
        taken = new_ids(connection, rows_table, 3)
        assert new_ids(connection, rows_table, 0) == []
        connection.execute(rows_table.insert(), [{"id": id_, "note": "taken"} for id_ in taken])
        one = new_ids(connection, rows_table, 1)
        connection.execute(rows_table.insert(), [{"id": id_, "note": "one"} for id_ in one])
        connection.execute(rows_table.insert(), [{"note": "last"}])

    read = written_on_both(tmp_path, rows_table, write)
    expected = [(1, "first"), (2, "taken"), (3, "taken"), (4, "taken"), (5, "one"), (6, "last")]
    assert read["sqlite"] == expected
    # A rolled-back transaction's ids are not given again on PostgreSQL: the numbering moved on.
    assert [note for _, note in read["postgresql"]] == [note for _, note in expected]
    ids = [id_ for id_, _ in read["postgresql"]]
    assert ids == list(range(ids[0], ids[0] + 6))


def written_on_both(
    tmp_path: Path, target: Any, write: Callable[[Connection], None]
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the table ``target`` after ``write`` on a fresh one on PostgreSQL and on
    SQLite, in key order, each after checking that ``write`` rolled back leaves no row."""
    from sqlalchemy import select

    read: dict[str, list[tuple[Any, ...]]] = {}
    for name, url in (("postgresql", URL), ("sqlite", f"sqlite:///{tmp_path / 'check.sqlite3'}")):
        engine = create_engine(url)
        target.metadata.drop_all(engine)
        target.metadata.create_all(engine)
        with engine.connect() as connection:
            with connection.begin() as transaction:  # in the caller's transaction: rolled back, gone
                write(connection)
                transaction.rollback()
            assert connection.execute(select(target)).all() == []
        with engine.begin() as connection:
            write(connection)
        with engine.connect() as connection:
            ordered = select(target).order_by(*target.primary_key.columns)
            read[name] = [tuple(r) for r in connection.execute(ordered)]
        target.metadata.drop_all(engine)
        engine.dispose()
    return read


def test_integer_arrays_go_in_by_binary_copy_and_come_back_as_they_were(tmp_path: Path) -> None:
    """``bulk.insert_array`` writes COPY's binary format on PostgreSQL, in the caller's
    transaction: each column's type's extremes come back exactly, as from SQLite's
    executemany; a value out of its column's range stops before anything is written."""
    import numpy as np
    from sqlalchemy import BigInteger, Column, Integer, MetaData, SmallInteger, Table

    from archiver.store.bulk import insert_array

    metadata = MetaData()
    rows_table = Table(
        "bulk_array_check",
        metadata,
        Column("key", BigInteger, primary_key=True),
        Column("band", SmallInteger),
        Column("passage_id", Integer),
    )
    rows = np.array(
        [[-(2**63), -(2**15), -(2**31)], [2**63 - 1, 2**15 - 1, 2**31 - 1], [0, 0, 0], [-1, 31, 70_000]],
        dtype=np.int64,
    )
    too_big = np.array([[1, 2**15, 1]], dtype=np.int64)

    def write(connection: Connection) -> None:
        insert_array(connection, rows_table, rows[:, [2, 0]], ["passage_id", "key"])
        connection.execute(rows_table.delete())
        insert_array(connection, rows_table, rows)
        if connection.dialect.name == "postgresql":
            with pytest.raises(ValueError, match=r"bulk_array_check\.band"):
                insert_array(connection, rows_table, too_big)

    read = written_on_both(tmp_path, rows_table, write)
    expected = sorted(tuple(row) for row in rows.tolist())
    assert read["postgresql"] == read["sqlite"] == expected


OPTIONAL = st.none() | st.integers(-5, 5)


@settings(max_examples=25, deadline=None)
@given(
    start=st.lists(st.tuples(st.integers(0, 4), OPTIONAL, OPTIONAL), max_size=30),
    by_id=st.dictionaries(st.integers(0, 35), st.tuples(st.integers(-5, 5), st.integers(-5, 5))),
    by_group=st.dictionaries(st.integers(0, 5), st.integers(-5, 5)),
)
def test_bulk_updates_by_key_give_the_rows_a_row_by_row_update_gives(
    start: list[tuple[int, int | None, int | None]],
    by_id: dict[int, tuple[int, int]],
    by_group: dict[int, int],
) -> None:
    """``bulk.update_rows`` (one ``UPDATE … FROM unnest`` on PostgreSQL, executemany on SQLite)
    by a unique key and by a shared one (``changed_only``), as the rule written out row by row."""
    from sqlalchemy import Column, Integer, MetaData, Table, select

    from archiver.store.bulk import update_rows

    metadata = MetaData()
    probe = Table(
        "bulk_update_check",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("grp", Integer),
        Column("a", Integer),
        Column("b", Integer),
    )
    expected = {i: [grp, a, b] for i, (grp, a, b) in enumerate(start)}
    for i, (a, b) in by_id.items():
        if i in expected:
            expected[i][1:] = [a, b]
    for row in expected.values():
        row[2] = by_group.get(row[0], row[2])
    read: dict[str, list[tuple[Any, ...]]] = {}
    with tempfile.TemporaryDirectory(prefix="bulk-update-") as folder:
        for name, url in (("postgresql", URL), ("sqlite", f"sqlite:///{folder}/check.sqlite3")):
            engine = create_engine(url)
            metadata.drop_all(engine)
            metadata.create_all(engine)
            with engine.begin() as connection:
                rows = [{"id": i, "grp": g, "a": a, "b": b} for i, (g, a, b) in enumerate(start)]
                if rows:
                    connection.execute(probe.insert(), rows)
                update_rows(connection, probe, [(i, a, b) for i, (a, b) in by_id.items()], ("id", "a", "b"))
                update_rows(connection, probe, list(by_group.items()), ("grp", "b"), changed_only=True)
            with engine.connect() as connection:
                read[name] = [tuple(r) for r in connection.execute(select(probe).order_by(probe.c.id))]
            metadata.drop_all(engine)
            engine.dispose()
    assert read["postgresql"] == read["sqlite"] == [(i, *row) for i, row in sorted(expected.items())]


def test_revision_0014_compresses_the_band_blocks_with_lz4_and_the_downgrade_with_pglz(
    pinyin_ordered_url: str,
) -> None:
    def method(connection: Connection) -> str:
        return str(
            connection.execute(
                text(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = 'band_blocks'::regclass AND attname = 'data'"
                )
            ).scalar_one()
        )

    engine = db.open_engine(pinyin_ordered_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    try:
        with engine.begin() as connection:
            assert method(connection) == "l"
            cfg.attributes["connection"] = connection
            alembic.downgrade(cfg, "0013")
            assert method(connection) in ("", "p")  # the server's default (pglz)
            alembic.upgrade(cfg, "head")
            assert method(connection) == "l"
    finally:
        engine.dispose()
