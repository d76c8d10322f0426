"""A full disk, an I/O error or a read-only store stops a run with one line naming the store,
never a traceback, SQL or submitted text; the rerun, once the store is usable, equals a run that
was never stopped."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.exc import OperationalError

from archiver.cli import main
from archiver.store import filing, ocfl
from tests.conftest import samples_folder

SUBMITTED = "政府工作报告"  # in every sample's text: must never reach the message


def archive(tmp_path: Path, name: str) -> Path:
    return samples_folder(tmp_path / name, batch_size=4)


def cli(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(folder / "config.toml"), *args], catch_exceptions=False)


def failing_after(calls: int, error: BaseException) -> Any:
    """A ``write_new`` that writes ``calls`` files, then fails as the disk does."""
    real, done = ocfl.write_new, [0]

    def write_new(path: Path, data: bytes, *, sync: bool) -> None:
        done[0] += 1
        if done[0] > calls:
            raise error
        real(path, data, sync=sync)

    return write_new


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EIO, "Input/output error"),
        (errno.EROFS, "Read-only file system"),
    ],
)
def test_a_vault_that_cannot_be_written_stops_the_run_with_one_line_and_the_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> None:
    folder = archive(tmp_path, "stopped")
    staging = folder / "archive" / "objects" / "extensions" / "archiver-staging"
    monkeypatch.setattr(ocfl, "write_new", failing_after(20, OSError(code, said, str(staging / "x"))))
    result = cli(folder, "run")
    monkeypatch.undo()
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: the run stopped: {said}: ")
    assert "archive/objects" in lines[0] and SUBMITTED not in lines[0]
    assert cli(folder, "run").exit_code == 0
    whole = archive(tmp_path, "whole")
    assert cli(whole, "run").exit_code == 0
    assert cli(folder, "export").output == cli(whole, "export").output
    assert cli(folder, "verify", "--full").exit_code == 0


def test_a_full_database_stops_the_run_without_sql_or_submitted_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = archive(tmp_path, "stopped")
    real = filing.insert_tuples

    def full(connection: Any, target: Any, rows: Any, columns: Any) -> None:
        if target.name == "passages":
            raise OperationalError(
                "INSERT INTO passages (text) VALUES (?)",
                [(row[6],) for row in rows],
                sqlite3.OperationalError("database or disk is full"),
            )
        real(connection, target, rows, columns)

    monkeypatch.setattr(filing, "insert_tuples", full)
    result = cli(folder, "run")
    monkeypatch.undo()
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "database or disk is full" in result.output
    assert "archive/db.sqlite3" in result.output
    assert SUBMITTED not in result.output and "INSERT" not in result.output
    log = "".join(p.read_text(encoding="utf-8") for p in (folder / "archive" / "logs").glob("*.log"))
    assert "database or disk is full" in log and SUBMITTED not in log and "INSERT" not in log
    assert cli(folder, "run").exit_code == 0
    whole = archive(tmp_path, "whole")
    assert cli(whole, "run").exit_code == 0
    assert cli(folder, "export").output == cli(whole, "export").output
