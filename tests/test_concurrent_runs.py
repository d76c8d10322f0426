"""Two first runs at once on a new store: the writer lock is taken before the schema is
migrated, so one migrates and runs, the other waits its turn or stops with the busy message;
never a migration error. SQLite, and PostgreSQL when ARCHIVER_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import SAMPLES

URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "")


def two_first_runs(folder: Path, database: str) -> list[subprocess.CompletedProcess[str]]:
    (folder / "config.toml").write_text(
        f'[store]\ndatabase = "{database}"\nvault = "objects"\n[run]\nworkers = 1\n', encoding="utf-8"
    )
    command = [sys.executable, "-c", "from archiver.cli import main; main()", "run", str(SAMPLES)]
    runs = [
        subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()) for p in runs]


def check(results: list[subprocess.CompletedProcess[str]], url: str) -> None:
    said = [r.stdout + r.stderr for r in results]
    assert all(r.returncode in (0, 75) for r in results), said  # 75: busy, try again later
    assert any(r.returncode == 0 and "new 9" in r.stdout for r in results), said
    for r, output in zip(results, said, strict=True):
        assert "Traceback" not in output and "already exists" not in output and "duplicate key" not in output
        if r.returncode == 75:
            assert "another archiver run, reindex or compact is writing to this archive" in output
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert connection.execute(text("SELECT count(*) FROM documents")).scalar_one() == 9
    engine.dispose()


def test_two_first_runs_on_sqlite(tmp_path: Path) -> None:
    check(two_first_runs(tmp_path, "archive.sqlite3"), f"sqlite:///{tmp_path / 'archive.sqlite3'}")


@pytest.mark.postgres
@pytest.mark.skipif(not URL, reason="set ARCHIVER_TEST_POSTGRES_URL")
def test_two_first_runs_on_postgresql(tmp_path: Path) -> None:
    name = f"race_{uuid.uuid4().hex[:8]}"
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        check(two_first_runs(tmp_path, url), url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
