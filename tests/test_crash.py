"""The crash harness (bench/crash.py) in small: a handful of SIGKILLs of `archiver run`,
`compact` and `reindex` on samples/, each followed by the rerun; nothing may be lost.

The bench version runs ≥ 50 trials on a generated inbox (bench/README.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import crash


@pytest.mark.ocfl_damaged  # trial archives are removed; the harness runs `verify --full` on each
def test_killed_commands_lose_nothing_and_leave_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "crash.json"
    trials = ["--run", "2", "--compact", "1", "--reindex", "1", "--seed", "3", "--work", str(tmp_path / "w")]
    report = crash.main(["--inbox", str(SAMPLES), *trials, "--out", str(out)])
    assert json.loads(out.read_text(encoding="utf-8"))["trials"] == 4
    assert report["by_command"] == {"run": 2, "compact": 1, "reindex": 1}
    failed = [t for t in report["detail"] if not t["ok"]]
    assert failed == [], failed
    assert (report["exports_differing"], report["verify_failures"], report["runs_left_running"]) == (0, 0, 0)
    assert report["trials_with_stray_files"] == 0
    assert set(report["reindex_then_run"]) <= {"refused", "equal"}
