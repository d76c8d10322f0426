"""An interrupted `archiver reindex` leaves the archive marked: run, export, audit and find refuse
and say to finish it; the finished reindex equals one never interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver import reindex
from archiver.cli import main
from tests.conftest import samples_folder


def archive_of_samples(tmp_path: Path, name: str) -> Path:
    folder = samples_folder(tmp_path / name)
    assert cli(folder, "run").exit_code == 0
    # The operator changes the fingerprint settings: the archive needs a reindex.
    with (folder / "config.toml").open("a", encoding="utf-8") as config:
        config.write("[fingerprint]\nseed = 2\n")
    return folder


def cli(folder: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(folder / "config.toml"), *args], catch_exceptions=False)


def test_run_export_audit_and_find_refuse_after_an_interrupted_reindex_until_it_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = archive_of_samples(tmp_path, "killed")

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt  # as a kill between the settings' commit and the first batch's

    monkeypatch.setattr(reindex, "_reindex_batch", killed)
    assert cli(folder, "reindex").exit_code != 0  # click turns the interrupt into an abort
    monkeypatch.undo()
    given = str(next((folder / "inbox").rglob("*.txt")))
    for command in (["run"], ["export"], ["audit"], ["find", given]):
        result = cli(folder, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "`archiver reindex` was interrupted" in result.output
        assert "run `archiver reindex` again to finish it" in result.output
    assert cli(folder, "reindex").exit_code == 0
    never_interrupted = archive_of_samples(tmp_path, "whole")
    assert cli(never_interrupted, "reindex").exit_code == 0
    exported = cli(folder, "export").output
    assert exported == cli(never_interrupted, "export").output and exported.count("\n") == 9
    assert cli(folder, "run").exit_code == 0
