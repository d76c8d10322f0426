"""config.toml: defaults, types, unknown keys and inconsistent values are errors that say what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archiver import config
from archiver.errors import ConfigError
from tests.conftest import ROOT


def test_the_shipped_config_is_the_defaults_with_paths_resolved_beside_it() -> None:
    loaded = config.load(ROOT / "config.toml")
    assert loaded.fingerprint == config.FingerprintConfig() and loaded.match == config.MatchConfig()
    assert loaded.store.recent_band_rows == config.StoreConfig().recent_band_rows
    assert loaded.database_url == f"sqlite:///{ROOT / 'archive' / 'archive.sqlite3'}"
    assert loaded.resolve(loaded.run.inbox[0]) == ROOT / "samples"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[fingerprint]\nseeds = 1\n", "unknown key 'seeds'"),
        ("[fingerprints]\nseed = 1\n", "unknown table [fingerprints]"),
        ("[clean]\ntraditional = 'sometimes'\n", "must be one of 'auto', 'always', 'never'"),
        ("[run]\nworkers = 'two'\n", "must be of type int"),
        ("[run]\nworkers = true\n", "must be of type int"),
        ("[fingerprint]\nbands = 16\n", "must equal num_perm"),
        ("[match]\nmatch_at = 0\n", "0 < match_at"),
        ("[store]\nrecent_band_rows = -1\n", "recent_band_rows must be 0 or more"),
        ("[ingest]\nlayout = '{authority}/{year}'\n", "must end in {file}"),
        ("[ingest]\nmin_year = 2000\nmax_year = 1999\n", "need 1000 ≤ min_year ≤ max_year ≤ 9999"),
        ("[ingest]\nmin_year = 0\n", "need 1000 ≤ min_year ≤ max_year ≤ 9999"),
        ("[store\n", "not valid TOML"),
        ("[fingerprint]\nseed = -1\n", "seed must be between 0 and 4294967295"),
        ("[fingerprint]\nseed = 9223372036854775807\n", "seed must be between 0 and 4294967295"),
        ("[fingerprint]\nbands = -32\nrows = -4\n", "bands, rows and min_chars must be positive"),
        ("[fingerprint]\nnum_perm = 40000000000\nbands = 1\nrows = 40000000000\n", "at most 1024"),
        ("[fingerprint]\nshingle_size = 4294967296\n", "shingle_size at most 32"),
        ("[checks]\nmax_unpunctuated_run = -5\n", "max_unpunctuated_run must be between 1 and"),
        ("[checks]\nmax_unpunctuated_run = 9223372036854775807\n", "max_unpunctuated_run must be between"),
        ("[decode]\nmin_confidence = nan\n", "min_confidence must be between 0 and 1"),
        ("[decode]\nmin_confidence = -1\n", "min_confidence must be between 0 and 1"),
        ("[match]\nmatch_at = nan\n", "0 < match_at"),
        ("[run]\nworkers = 100000\n", "workers = 100000 is more than 256"),
        ("[decode]\nmax_bytes = 0\n", "max_bytes must be at least 1"),
    ],
)
def test_mistakes_stop_with_a_message_naming_the_fix(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        config.load(path)


def test_floats_accept_integers_and_urls_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[match]\nremove_at = 1\n[store]\ndatabase = 'postgresql+psycopg://u@h/db'\n", encoding="utf-8"
    )
    loaded = config.load(path)
    assert loaded.match.remove_at == 1.0 and loaded.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"# \xd6\xd0\n[run]\nworkers = 1\n", "line 1 is not UTF-8 (byte 0xd6); save the file as UTF-8"),
        (b"[run]\nworkers = 1\n# \xd6\xd0\n", "line 3 is not UTF-8"),
    ],
)
def test_a_config_file_not_in_utf8_names_the_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        config.load(path)


@pytest.mark.parametrize("given", ["folder", ""])
def test_a_folder_given_as_the_config_asks_for_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match="a folder, not a config file; pass --config PATH"):
        config.load(Path(given))


def test_the_largest_accepted_values_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[fingerprint]\nnum_perm = 1024\nbands = 1\nrows = 1024\nseed = 4294967295\nshingle_size = 32\n"
        "[run]\nworkers = 256\n[decode]\nmin_confidence = 1\n",
        encoding="utf-8",
    )
    loaded = config.load(path)
    assert (loaded.fingerprint.num_perm, loaded.fingerprint.seed, loaded.run.workers) == (
        1024,
        2**32 - 1,
        256,
    )
