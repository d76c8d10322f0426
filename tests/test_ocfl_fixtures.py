"""`archiver verify`'s vault check over the OCFL community's fixture objects: good objects pass,
bad ones are reported. And the storage root this store writes passes ocfl-py.

The fixtures (github.com/OCFL/fixtures, folder `1.1/`, CC BY 4.0) are not part of this repository:
set ARCHIVER_OCFL_FIXTURES to a copy of that folder to run the fixture tests
(tests/data/ocfl-fixtures.md says which objects apply and which bad ones verify does not report)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from archiver.store.guard import LEGACY_LOCK_FILE, writing
from archiver.store.vault import Vault, is_warning
from tests import ocfl_validator
from tests.conftest import ROOT

FIXTURES = Path(os.environ.get("ARCHIVER_OCFL_FIXTURES") or ROOT / "tests" / "data" / "ocfl")
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(),
    reason="set ARCHIVER_OCFL_FIXTURES to a copy of the OCFL community fixtures' 1.1/ folder",
)


# Bad objects that do not apply to what this store writes (tests/data/ocfl-fixtures.md says why):
# a copy of the whole 1.1/ folder may hold them, and they are skipped with that reason.
NOT_APPLICABLE = {
    "E046_root_not_most_recent": "an interrupted store leaves it: an orphan warning, fixed by the next store",
    "E093_fixity_digest_mismatch": "the optional fixity block, which this store never writes",
    "E097_fixity_duplicate_digests": "the optional fixity block, which this store never writes",
}


def names(kind: str) -> list[str]:
    folder = FIXTURES / kind
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def bad_names() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.skip(reason=f"does not apply: {NOT_APPLICABLE[name]}"))
        if name in NOT_APPLICABLE
        else name
        for name in names("bad-objects")
    ]


def verify_fixture(tmp_path: Path, fixture: Path) -> list[str]:
    """The fixture object placed in a new storage root at its layout path, then checked (full)."""
    vault = Vault(tmp_path / "root")
    try:
        object_id = json.loads((fixture / "inventory.json").read_bytes())["id"]
    except (OSError, ValueError, KeyError, TypeError):
        object_id = fixture.name  # no readable id: any place in the layout will do
    target = vault.object_path(object_id if isinstance(object_id, str) and object_id else fixture.name)
    target.parent.mkdir(parents=True)
    shutil.copytree(fixture, target)
    return [line for line in vault.verify(full=True) if not is_warning(line)]


@needs_fixtures
@pytest.mark.parametrize("name", names("good-objects") + names("warn-objects"))
def test_a_valid_community_fixture_verifies_clean(tmp_path: Path, name: str) -> None:
    kind = "good-objects" if (FIXTURES / "good-objects" / name).is_dir() else "warn-objects"
    assert verify_fixture(tmp_path, FIXTURES / kind / name) == []


@needs_fixtures
@pytest.mark.ocfl_damaged
@pytest.mark.parametrize("name", bad_names())
def test_a_bad_community_fixture_is_reported(tmp_path: Path, name: str) -> None:
    assert verify_fixture(tmp_path, FIXTURES / "bad-objects" / name) != []


@needs_fixtures
@pytest.mark.ocfl_damaged
def test_ocfl_py_finds_the_errors_its_fixtures_are_named_for() -> None:
    """The validator the test suite relies on does reject a bad object and pass a good one."""
    bad = FIXTURES / "bad-objects" / "E058_no_sidecar"
    assert any("E058" in line for line in ocfl_validator.object_errors(bad))
    assert ocfl_validator.object_errors(FIXTURES / "good-objects" / "spec-ex-full") == []


@pytest.mark.ocfl_damaged
def test_ocfl_py_rejects_a_lock_file_directly_in_extensions(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "root")
    (vault.root / LEGACY_LOCK_FILE).write_bytes(b"")
    assert any("E086" in line for line in ocfl_validator.errors(vault.root))


def test_taking_the_lock_leaves_no_file_directly_in_extensions(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "root")
    (vault.root / LEGACY_LOCK_FILE).write_bytes(b"")  # where archiver before 0.2 kept it
    with writing(vault):
        assert [p for p in (vault.root / "extensions").iterdir() if not p.is_dir()] == []
    assert ocfl_validator.errors(vault.root) == []
