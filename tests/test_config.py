"""config.toml: defaults, types, unknown keys and inconsistent values are errors that say what to fix."""

from __future__ import annotations

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
        ("[store\n", "not valid TOML"),
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
