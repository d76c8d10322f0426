"""Readers during a run: `export`, `audit`, `find` and `search` while a real `archiver run`
writes get the archive as one commit left it, before the run's batch or after it, never a mix;
a database locked past the wait is a one-line "busy" (exit 75), never a traceback. SQLite, and
PostgreSQL when ARCHIVER_TEST_POSTGRES_URL is set.

Each command runs in a process of its own, with one of its functions wrapped (in this test only)
to stop at that point until the test lets it go: the run in the middle of its batch's
transaction, a reader after its first statements."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import SAMPLES, toml_text

URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "")
LATER = ("guowuyuan/2024", "quanguorenda/2025")  # what the run adds to the archive of the rest
PHRASE = "坚持稳中求进工作总基调"
# A paragraph of a later report whose like is in earlier ones: `find` answers it before and after.
PARAGRAPH = next(
    line
    for line in (SAMPLES / "guowuyuan/2024/2024-zhengfu-gongzuo-baogao.txt").read_text("utf-8").splitlines()
    if PHRASE in line
)

# Runs archiver's CLI with MODULE.FUNCTION wrapped: after its first call returns, it touches
# the file HELD and waits until the file GO exists.
HELD_CLI = """
import importlib, sys, time
from pathlib import Path
from typing import ClassVar
module, name, held, go, *argv = sys.argv[1:]
owner = importlib.import_module(module)
original = getattr(owner, name)
def wrapped(*args, **kwargs):
    out = original(*args, **kwargs)
    if not Path(held).exists():
        Path(held).touch()
        while not Path(go).exists():
            time.sleep(0.02)
    return out
setattr(owner, name, wrapped)
from archiver.cli import main
main(argv)
"""


class Held:
    """An archiver command in a process of its own, stopped at a function until ``go``."""

    started: ClassVar[list[subprocess.Popen[str]]] = []  # killed after each test (``stopped``)

    def __init__(self, folder: Path, at: str, *argv: str) -> None:
        module, name = at.rsplit(".", 1)
        tag = uuid.uuid4().hex[:8]
        self.held, self.go = folder / f"held-{tag}", folder / f"go-{tag}"
        command = [sys.executable, "-c", HELD_CLI, module, name, str(self.held), str(self.go), *argv]
        self.proc = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        Held.started.append(self.proc)

    def reached(self) -> None:
        deadline = time.monotonic() + 300
        while not self.held.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the command never reached the point it is held at"
            time.sleep(0.05)

    def release(self) -> subprocess.CompletedProcess[str]:
        self.go.touch()
        out, err = self.proc.communicate(timeout=600)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


@pytest.fixture(autouse=True)
def stopped() -> Iterator[None]:
    """A test that fails while a command is held leaves no process waiting for ever."""
    yield
    while Held.started:
        proc = Held.started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def cli(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from archiver.cli import main; main()", *argv]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600, check=False)


def fine(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def reads(folder: Path) -> dict[str, str]:
    """What each reading command says about the archive now."""
    return {
        "export": fine(cli(folder, "export")),
        "audit": fine(cli(folder, "audit", "--format", "json")),
        "find": fine(cli(folder, "find", "--text", PARAGRAPH, "--json")),
        "search": fine(cli(folder, "search", PHRASE, "--json")),
    }


def prepared(folder: Path, database: str) -> Path:
    """An archive of samples/ but ``LATER`` (the run under test adds them), and the full inbox."""
    early = folder / "early"
    shutil.copytree(SAMPLES, early, ignore=lambda d, _: ["2024"] if d.endswith("guowuyuan") else [])
    shutil.rmtree(early / "quanguorenda" / "2025")
    tables: dict[str, dict[str, object]] = {
        "store": {"database": database, "vault": "objects"},
        "run": {"workers": 1, "batch_size": 64},
    }
    (folder / "config.toml").write_text(toml_text(tables), encoding="utf-8")
    fine(cli(folder, "run", str(early)))
    return SAMPLES


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield "archive.sqlite3"
        return
    if not URL:
        pytest.skip("set ARCHIVER_TEST_POSTGRES_URL")
    name = f"readers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


# Readers held once their first statements are answered: the run commits under them.
STRADDLING = [
    ("archiver.audit.export.in_relpath_order", ("export",)),
    ("archiver.audit.reuse.load", ("audit", "--format", "json")),
]


def test_readers_during_a_run_get_the_archive_before_or_after_its_commit(
    tmp_path: Path, database: str
) -> None:
    inbox = prepared(tmp_path, database)
    before = reads(tmp_path)
    straddling = {argv[0]: Held(tmp_path, at, *argv) for at, argv in STRADDLING}
    for reader in straddling.values():
        reader.reached()
    run = Held(tmp_path, "archiver.flow._file_batch", "run", str(inbox))
    run.reached()  # the batch's rows are written, its transaction not yet committed
    assert reads(tmp_path) == before
    assert "new 2" in fine(run.release())
    after = reads(tmp_path)
    assert all(after[what] != before[what] for what in before)
    for later in LATER:
        assert f'"file": "{later}/' in after["export"] and f'"file": "{later}/' not in before["export"]
    for what, reader in straddling.items():
        assert fine(reader.release()) == before[what], f"{what} mixed two states of the archive"


def test_a_database_locked_past_the_wait_is_a_one_line_busy_message(tmp_path: Path) -> None:
    prepared(tmp_path, "archive.sqlite3")
    holder = sqlite3.connect(tmp_path / "archive.sqlite3", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("SELECT count(*) FROM runs").fetchall()  # takes the file's lock and keeps it
    try:
        said = [cli(tmp_path, *argv) for argv in (("export",), ("search", PHRASE))]
    finally:
        holder.close()
    for result in said:
        assert result.returncode == 75, result.stderr
        assert "Traceback" not in result.stderr and "SELECT" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "busy" in lines[0] and "try again" in lines[0], lines
