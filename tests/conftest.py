"""Shared fixtures: where the real data lives, an archive config in a temporary folder (as a
``Config`` or as a config.toml), the CLI runner, and the golden files.

Golden files (``tests/golden/``) are compared through the ``golden`` fixture. After a change that
is meant to alter them, regenerate every one with ``pytest --update-goldens`` (or
``ARCHIVER_UPDATE_GOLDEN=1``) and review ``git diff tests/golden`` before committing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = Path(os.environ.get("ARCHIVER_SHARED", ROOT.parent / "shared"))
GOLDEN = ROOT / "tests" / "golden"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus and bench kit) not present")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/golden/* from what the code produces now (then review git diff tests/golden)",
    )


@pytest.fixture(autouse=True)
def ocfl_valid(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, ocfl-py validates every storage root the test wrote under its
    ``tmp_path`` (every object, with its digests): 0 errors. A test that damages a vault on
    purpose says so with ``@pytest.mark.ocfl_damaged``."""
    if "tmp_path" not in request.fixturenames or request.node.get_closest_marker("ocfl_damaged"):
        yield
        return
    top = request.getfixturevalue("tmp_path")  # set up first, so torn down after this check
    yield
    from tests import ocfl_validator

    found = [line for root in ocfl_validator.storage_roots(top) for line in ocfl_validator.errors(root)]
    assert found == [], "ocfl-py finds errors in a storage root the test wrote"


def config_tables(tmp_path: Path, **overrides: dict[str, object]) -> dict[str, dict[str, object]]:
    """The tables of a test archive's config: the store under ``tmp_path``, one worker; each
    override table is merged into the default one of its name."""
    tables: dict[str, dict[str, object]] = {
        "store": {"database": str(tmp_path / "archive.sqlite3"), "vault": str(tmp_path / "objects")},
        "run": {"workers": 1, "batch_size": 16},
    }
    for name, values in overrides.items():
        tables[name] = {**tables.get(name, {}), **values}
    return tables


def make_config(tmp_path: Path, **overrides: dict[str, object]) -> config_mod.Config:
    """A config whose store lives under ``tmp_path``; ``overrides`` are tables by name."""
    return config_mod.from_mapping(config_tables(tmp_path, **overrides), base_dir=tmp_path)


def toml_text(tables: dict[str, dict[str, object]]) -> str:
    """TOML for tables of strings, numbers, booleans and lists of them (JSON's string escapes
    are TOML's)."""
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def samples_folder(folder: Path, **run: object) -> Path:
    """``folder`` with a copy of samples/ as ``inbox`` and a ``config.toml`` (paths relative to
    it) that archives it into ``folder/archive`` with one worker; ``run`` adds ``[run]`` keys."""
    shutil.copytree(SAMPLES, folder / "inbox")
    tables: dict[str, dict[str, object]] = {
        "store": {"database": "archive/db.sqlite3", "vault": "archive/objects"},
        "run": {"inbox": ["inbox"], "workers": 1, **run},
    }
    (folder / "config.toml").write_text(toml_text(tables), encoding="utf-8")
    return folder


@pytest.fixture
def archive_config(tmp_path: Path) -> config_mod.Config:
    return make_config(tmp_path)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config(**tables) -> Path``: ``tmp_path/config.toml`` for the archive that
    ``make_config(tmp_path, **tables)`` describes, for tests that go through the CLI; ``name=``
    writes another file name."""

    def write(name: str = "config.toml", **overrides: dict[str, object]) -> Path:
        path = tmp_path / name
        path.write_text(toml_text(config_tables(tmp_path, **overrides)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(name, text)``: ``text`` must equal ``tests/golden/<name>``; with
    ``--update-goldens`` (or ``ARCHIVER_UPDATE_GOLDEN=1``) the file is rewritten first."""
    update = request.config.getoption("--update-goldens") or os.environ.get("ARCHIVER_UPDATE_GOLDEN") == "1"

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"{path} is missing: create it with pytest --update-goldens"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"differs from tests/golden/{name}; if the change is meant, run pytest --update-goldens "
            "and review git diff tests/golden"
        )

    return check


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
