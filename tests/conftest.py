"""Shared fixtures: where the real data lives, and an archive config in a temporary folder."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from archiver import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus and bench kit) not present")


def make_config(tmp_path: Path, **overrides: object) -> config_mod.Config:
    """A config whose store lives under ``tmp_path``; ``overrides`` are whole tables by name."""
    tables: dict[str, object] = {
        "store": {"database": str(tmp_path / "archive.sqlite3"), "vault": str(tmp_path / "objects")},
        "run": {"workers": 1, "batch_size": 16},
    }
    for name, values in overrides.items():
        tables[name] = {**tables.get(name, {}), **values}  # type: ignore[dict-item]
    return config_mod.from_mapping(tables, base_dir=tmp_path)


@pytest.fixture
def archive_config(tmp_path: Path) -> config_mod.Config:
    return make_config(tmp_path)


@pytest.fixture(scope="session")
def bench_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark kit's default inbox (seed 7), generated once per test session.

    Set ARCHIVER_BENCH_INBOX to a folder made by the same make_inbox.py command to skip the
    ten seconds of generation.
    """
    if not SHARED.is_dir():
        pytest.skip("../shared (bench kit) not present")
    cached = Path(os.environ.get("ARCHIVER_BENCH_INBOX", "/nonexistent"))
    if (cached / "truth.jsonl").is_file():
        return cached
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("bench") / "d7"
    subprocess.run(
        [
            sys.executable,
            str(SHARED / "bench" / "make_inbox.py"),
            "--source",
            str(SHARED / "corpus" / "reports"),
            "--out",
            str(out),
            "--authorities",
            "20",
            "--years",
            "2019-2025",
            "--seed",
            "7",
        ],
        check=True,
        capture_output=True,
    )
    return out


def near_alike_lines(count: int, seed: int, varying: int = 20) -> list[str]:
    """A log-like file: one template and ``varying`` random characters per line (at 20,
    Jaccard ≈ 0.4 and edit similarity ≈ 0.6 between lines: warned, never removed)."""
    rng = random.Random(seed)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    return [
        "某县人民政府办公室关于政府信息公开申请的登记记录" + "".join(rng.choices(han, k=varying)) + "。"
        for _ in range(count)
    ]
