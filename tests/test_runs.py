"""Run bookkeeping: every command that writes (run, reindex, compact) leaves its row in ``runs``,
``completed`` or ``failed``, and the next writer marks the rows of dead processes ``interrupted``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archiver import flow, reindex
from archiver.config import Config
from archiver.errors import StoreError
from archiver.store import db, ocfl
from archiver.store.guard import writing
from archiver.store.vault import Vault
from tests.conftest import ROOT, SAMPLES, make_config


def runs(config: Config) -> list[tuple[str, str, Any]]:
    """(command, status, summary) of every row of ``runs``, oldest first."""
    engine = db.open_engine(config.database_url, create=False)
    with Session(engine) as session:
        query = select(db.Run.command, db.Run.status, db.Run.summary).order_by(db.Run.id)
        rows = session.execute(query).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def killed_writer(tmp_path: Path, script: str) -> None:
    """Run ``script`` in a process of its own, with ``config`` the archive's (``make_config(tmp_path)``)
    and ``os`` and ``signal`` imported; it must end killed by SIGKILL."""
    preamble = (
        "import os, signal, sys\nfrom pathlib import Path\nfrom tests.conftest import make_config\n"
        "config = make_config(Path(sys.argv[1]))\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", preamble + script, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert killed.returncode == -9


def break_inserts_into(config: Config, table: str) -> None:
    """Make the database itself refuse any row for ``table``: a real failure mid-command."""
    with sqlite3.connect(config.database_url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            f"CREATE TRIGGER broken BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    connection.close()


def mend(config: Config) -> None:
    with sqlite3.connect(config.database_url.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TRIGGER broken")
    connection.close()


def test_a_reindex_that_stops_on_an_error_is_recorded_as_failed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [SAMPLES])
    break_inserts_into(config, "band_blocks")  # the linker's band rows
    with pytest.raises(SQLAlchemyError, match="disk on fire"):
        reindex.reindex(config)
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "completed"), ("reindex", "failed")]
    mend(config)
    done = reindex.reindex(config)
    assert [(c, s) for c, s, _ in runs(config)] == [
        ("run", "completed"),
        ("reindex", "failed"),  # stays failed: only a row left running is interrupted
        ("reindex", "completed"),
    ]
    assert runs(config)[-1][2] == {"passages": done.passages, "signed": done.signed, "links": done.links}


def test_compact_is_recorded_as_a_run_and_a_failed_one_as_failed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [SAMPLES])
    break_inserts_into(config, "passage_bands")  # the main level, where compact merges into
    with pytest.raises(SQLAlchemyError, match="disk on fire"):
        reindex.compact(config)
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "completed"), ("compact", "failed")]
    mend(config)
    moved = reindex.compact(config)
    assert moved > 0
    assert runs(config)[-1] == ("compact", "completed", {"merged": moved})


def test_a_run_left_running_by_a_dead_process_becomes_interrupted(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    # A writer killed while it works: its row stays "running", its lock goes with it.
    killed_writer(
        tmp_path,
        "from archiver.store.runs import recorded\n"
        "with recorded(config, 'run', create=True):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n",
    )
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "running")]
    # While a live writer holds the lock, a second one is refused and changes nothing.
    with writing(Vault(config.resolve(config.store.vault))), pytest.raises(StoreError, match="is locked"):
        reindex.compact(config)
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "running")]
    summary = flow.run(config, [SAMPLES])
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "interrupted"), ("run", "completed")]
    assert runs(config)[-1][2] == summary.as_dict()


@pytest.mark.ocfl_damaged  # the killed run leaves an empty layout folder (E073) until compact
def test_the_next_writer_removes_the_empty_layout_folders_a_killed_run_left(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    # Killed between making a new object's layout folders and renaming the object into them.
    killed_writer(
        tmp_path,
        "from archiver import flow\n"
        "from archiver.store import _vault_batch\n"
        "from tests.conftest import SAMPLES\n"
        "_vault_batch._rename_new = lambda *_: os.kill(os.getpid(), signal.SIGKILL)\n"
        "flow.run(config, [SAMPLES])\n",
    )
    vault = Vault(config.resolve(config.store.vault), sweep_staging=False, create=False)
    objects, strays, empty = ocfl.storage_walk(vault.root)
    assert (
        (objects, strays) == ([], []) and len(empty) == 1 and len(empty[0].relative_to(vault.root).parts) == 3
    )
    assert any("empty folder" in line for line in vault.verify())
    reindex.compact(config)  # stores nothing: the folders go because a writer died there
    assert ocfl.storage_walk(vault.root) == ([], [], [])
    assert vault.verify() == []
    assert [(c, s) for c, s, _ in runs(config)] == [("run", "interrupted"), ("compact", "completed")]
