"""`archiver search`: exactly the current documents whose cleaned text contains the query,
checked against a plain substring scan on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit.search import _candidates, glob_runs, search, snippet
from archiver.cli import main
from archiver.config import Config
from archiver.errors import InputError
from archiver.store import db
from archiver.store.search_index import indexed_through
from tests.conftest import SAMPLES, make_config
from tests.test_db import _alembic_config
from tests.test_index import write_inbox

REPORT = (SAMPLES / "guowuyuan" / "2024" / "2024-zhengfu-gongzuo-baogao.txt").read_text(encoding="utf-8")
LINES = [line.strip() for line in REPORT.splitlines() if len(line.strip()) > 40]

# Small Chinese reports sharing phrases, with ASCII of both cases and GLOB's special characters.
FILES = {
    "jia/2023/a.txt": "甲县2023年政府工作报告\n" + "\n".join(LINES[0:6]) + "\n实施 ABC 计划，完成率 95%。",
    "jia/2024/b.txt": "甲县2024年政府工作报告\n" + "\n".join(LINES[3:9]) + "\n推进 abc 工程[一期]*完成。",
    "yi/2024/c.txt": "乙县2024年政府工作报告\n" + "\n".join(LINES[8:12]) + "\n问号？与 a?b 和 x_y 并列。",
    "bing/2024/d.txt": "丙县2024年工作总结\n现在，我代表县人民政府，向大会报告政府工作，请予审议。\n"
    + LINES[20],
    "bing/2024/e.txt": "\x00\x01\x02 binary",  # rejected: no text to search
}
# A later version of d.txt: its old text must no longer be found.
CHANGED = {"bing/2024/d.txt": "丙县2024年工作总结（修订）\n" + LINES[21] + "\n" + LINES[22]}


def build(config: Config, root: Path) -> None:
    flow.run(config, [write_inbox(root / "night1", FILES)])
    flow.run(config, [write_inbox(root / "night2", {**FILES, **CHANGED})])


def current_texts(config: Config) -> dict[str, str]:
    """The plain scan's input: every current archived text, read without the index."""
    engine = db.open_engine(config.database_url)
    s = db.Submission
    with Session(engine) as session:
        rows = session.execute(
            select(s.relpath, s.cleaned_text).where(s.current.is_(True), s.status == "archived")
        ).all()
    engine.dispose()
    return {relpath: cleaned for relpath, cleaned in rows}


def found(config: Config, query: str) -> set[str]:
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        files = {f.file for f in search(session, query)}
    engine.dispose()
    return files


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("search")
    config = make_config(root)
    build(config, root)
    return config


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    url = os.environ.get("ARCHIVER_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set ARCHIVER_TEST_POSTGRES_URL")
    with create_engine(url).begin() as connection:  # a clean schema for this module
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    root = tmp_path_factory.mktemp("search_pg")
    config = make_config(root, store={"database": url})
    build(config, root)
    yield config


def queries(texts: dict[str, str]) -> st.SearchStrategy[str]:
    """Substrings of 1–6 characters of the archived texts, and strings of their characters."""
    joined = "".join(texts.values())
    alphabet = sorted(set(joined))

    @st.composite
    def substring(draw: st.DrawFn) -> str:
        source = draw(st.sampled_from(sorted(texts.values())))
        size = draw(st.integers(1, 6))
        start = draw(st.integers(0, max(0, len(source) - size)))
        return source[start : start + size]

    return st.one_of(substring(), st.text(st.sampled_from(alphabet), min_size=1, max_size=6))


def check_against_scan(config: Config, data: st.DataObject) -> None:
    texts = current_texts(config)
    query = data.draw(queries(texts))
    assert found(config, query) == {file for file, cleaned in texts.items() if query in cleaned}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sqlite_search_finds_exactly_the_texts_containing_the_query(
    on_sqlite: Config, data: st.DataObject
) -> None:
    check_against_scan(on_sqlite, data)


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_postgresql_search_finds_exactly_the_texts_containing_the_query(
    on_postgres: Config, data: st.DataObject
) -> None:
    check_against_scan(on_postgres, data)


def search_table(config: Config) -> tuple[set[int], int]:
    """(the submission ids ``submission_search`` holds, meta indexed_through)."""
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        ids = set(session.scalars(text("SELECT id FROM submission_search")))
        through = indexed_through(session)
    engine.dispose()
    return ids, through


@pytest.mark.postgres
def test_postgresql_indexes_the_last_run_s_texts_at_the_next_run_through_pg_trgm(on_postgres: Config) -> None:
    engine = db.open_engine(on_postgres.database_url)
    s = db.Submission
    with Session(engine) as session:
        first_night = set(session.scalars(select(s.id).where(s.run_id == 1, s.cleaned_text.is_not(None))))
        last_of_first = session.scalar(select(func.max(s.id)).where(s.run_id == 1))
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a handful of rows: else it scans
        sql = str(_candidates(session, "政府工作").compile(engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[0]) for row in session.execute(text("EXPLAIN " + sql)))
    engine.dispose()
    # The first run's texts, caught up by the second; the second's are read directly.
    assert search_table(on_postgres) == (first_night, last_of_first) and len(first_night) == 4
    assert "submission_search_trgm" in plan


@pytest.mark.postgres
def test_a_postgresql_archive_indexed_in_place_gets_the_table_from_the_migration(on_postgres: Config) -> None:
    cfg = _alembic_config()
    engine = create_engine(on_postgres.database_url)
    with engine.begin() as connection:  # back to 0009: the GIN index on submissions itself
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009")
        assert connection.scalar(text("SELECT to_regclass('submission_search')")) is None
        assert connection.scalar(text("SELECT to_regclass('ix_submissions_cleaned_trgm')")) is not None
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        filed = set(connection.scalars(text("SELECT id FROM submissions WHERE cleaned_text IS NOT NULL")))
        last = connection.scalar(text("SELECT max(id) FROM submissions"))
        assert connection.scalar(text("SELECT to_regclass('ix_submissions_cleaned_trgm')")) is None
    engine.dispose()
    assert search_table(on_postgres) == (filed, last)
    texts = current_texts(on_postgres)
    for query in ("政府工作", "修订", "请予审议", "ABC"):
        assert found(on_postgres, query) == {file for file, cleaned in texts.items() if query in cleaned}


FIXED = [
    "政府工作",  # in every report
    "ABC",  # case matters: not b.txt's abc
    "abc",
    "95%",  # LIKE's wildcard, literally
    "x_y",
    "[一期]*",  # GLOB's special characters, literally
    "a?b",
    "?",  # one character: no trigram to use
    "问号",
    "修订",  # only the new version of d.txt
]


@pytest.mark.parametrize("query", FIXED)
def test_fixed_queries_agree_with_the_scan(on_sqlite: Config, query: str) -> None:
    texts = current_texts(on_sqlite)
    expected = {file for file, cleaned in texts.items() if query in cleaned}
    assert found(on_sqlite, query) == expected
    assert expected  # each query is in some current text


def test_the_superseded_version_and_rejected_files_are_not_found(on_sqlite: Config) -> None:
    old_only = "请予审议"
    assert old_only not in "".join(current_texts(on_sqlite).values())
    assert found(on_sqlite, old_only) == set()
    assert found(on_sqlite, "修订") == {"bing/2024/d.txt"}
    assert found(on_sqlite, "binary") == set()
    assert found(on_sqlite, "ABC") == {"jia/2023/a.txt"}


def test_sqlite_answers_long_queries_from_the_trigram_index(on_sqlite: Config) -> None:
    engine = db.open_engine(on_sqlite.database_url)
    with Session(engine) as session:
        statement = _candidates(session, "政府工作")
        sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    engine.dispose()
    assert "VIRTUAL TABLE" in plan and "submission_search" in plan


def test_an_archive_made_before_the_index_gets_it_built_by_the_migration(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "in", FILES)])
    old = create_engine(config.database_url)
    cfg = _alembic_config()
    with old.begin() as connection:  # back to 0005: no search index
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0005")
        tables = {r[0] for r in connection.execute(text("SELECT name FROM sqlite_master"))}
    old.dispose()
    assert not any(name.startswith("submission_search") for name in tables)
    assert found(config, "请予审议") == {"bing/2024/d.txt"}  # opening migrated it
    engine = db.open_engine(config.database_url)
    with engine.connect() as connection:  # the index itself holds the texts filed before it existed
        indexed = connection.execute(
            text("SELECT count(*) FROM submission_search WHERE cleaned_text GLOB '*政府工作*'")
        ).scalar()
    engine.dispose()
    assert indexed == 4


def test_glob_runs_leave_out_special_characters_and_short_runs() -> None:
    assert glob_runs("政府工作") == ["政府工作"]
    assert glob_runs("[一期]*完成") == ["一期]"]  # a lone ] is literal in GLOB
    assert glob_runs("一期工程*完成情况") == ["一期工程", "完成情况"]
    assert glob_runs("政府") == []


def test_a_snippet_marks_the_hit_with_its_context() -> None:
    text_ = "第一行\n现在，我代表国务院，向大会报告政府工作，请予审议。"
    got = snippet(text_, "政府工作", text_.index("政府工作"), context=5)
    assert (got.before, got.match, got.after) == ("…向大会报告", "政府工作", "，请予审议…")
    assert got.start == text_.index("政府工作")


def test_the_command_prints_hits_and_json(on_sqlite: Config, tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[store]\ndatabase = "{on_sqlite.store.database}"\nvault = "{on_sqlite.store.vault}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    shown = runner.invoke(main, ["--config", str(config_file), "search", "ABC"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "jia/2023/a.txt" in shown.output and "【ABC】" in shown.output and "b.txt" not in shown.output
    as_json = runner.invoke(
        main, ["--config", str(config_file), "search", "政府工作", "--json", "--limit", "1"]
    )
    payload = json.loads(as_json.output)
    assert payload["documents"] == 3 and len(payload["found"]) == 1
    assert payload["found"][0]["snippets"][0]["match"] == "政府工作"
    empty = runner.invoke(main, ["--config", str(config_file), "search", ""])
    assert empty.exit_code == 1 and "empty query" in empty.output


def test_an_empty_query_is_an_input_error(on_sqlite: Config) -> None:
    engine = db.open_engine(on_sqlite.database_url)
    with Session(engine) as session, pytest.raises(InputError):
        search(session, "")
    engine.dispose()


def test_the_index_catches_up_at_the_next_run_and_answers_stay_exact_in_between(tmp_path: Path) -> None:
    config = make_config(tmp_path)

    def indexed() -> tuple[int, int]:
        """(texts in the FTS index with 政府工作, meta indexed_through)."""
        engine = db.open_engine(config.database_url)
        with Session(engine) as session:
            count = session.execute(
                text("SELECT count(*) FROM submission_search WHERE cleaned_text GLOB '*政府工作*'")
            ).scalar()
            through = indexed_through(session)
        engine.dispose()
        return int(count or 0), through

    first = flow.run(config, [write_inbox(tmp_path / "n1", FILES)])
    assert indexed() == (0, 0)  # filed, not yet indexed: not on the batches' path
    assert found(config, "政府工作") == {
        "jia/2023/a.txt",
        "jia/2024/b.txt",
        "yi/2024/c.txt",
        "bing/2024/d.txt",
    }
    second = flow.run(config, [write_inbox(tmp_path / "n2", {**FILES, **CHANGED})])
    assert indexed() == (4, len(FILES))  # the first run's texts, caught up by the second
    assert second.stage_seconds["search"] > 0 and first.files == len(FILES)
    texts = current_texts(config)
    for query in ("政府工作", "修订", "请予审议", "ABC"):
        assert found(config, query) == {file for file, cleaned in texts.items() if query in cleaned}
