"""`archiver verify` cross-checks the vault with the database; every damage is named, with a
non-zero exit; `run` restores an object missing from the vault from its unchanged inbox file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import config as config_mod
from archiver import flow
from archiver.cli import main
from archiver.store import db, ocfl
from archiver.store.vault import Vault
from tests.conftest import samples_folder

DOC = "guowuyuan/2024/2024-zhengfu-gongzuo-baogao.txt"
ORIGINAL = "original/2024-zhengfu-gongzuo-baogao.txt"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of samples/ (config.toml, inbox, archive/), made once and copied per test."""
    base = samples_folder(tmp_path_factory.mktemp("built"), batch_size=4)
    flow.run(config_mod.load(base / "config.toml"), [base / "inbox"])
    return base


@pytest.fixture
def archive(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "a")
    return tmp_path / "a"


def cli(archive: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(archive / "config.toml"), *args], catch_exceptions=False)


def vault(archive: Path) -> Vault:
    return Vault(archive / "archive" / "objects", create=False)


def obj(archive: Path) -> Path:
    return vault(archive).object_path(DOC)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def forged(
    archive: Path, change: Callable[[ocfl.Inventory], None], folders: tuple[str, ...] = ("", "v1")
) -> None:
    """Edit the inventory of DOC's object (``change``) in the root and in ``folders``, and
    write sidecars that match: the damage is then in what the inventory says."""
    root = obj(archive)
    inv = json.loads((root / ocfl.INVENTORY).read_bytes())
    change(inv)
    for folder in folders:
        raw = ocfl.inventory_bytes(inv)
        (root / folder / ocfl.INVENTORY).write_bytes(raw)
        (root / folder / ocfl.SIDECAR).write_bytes(ocfl.sidecar_bytes(ocfl.sha512_bytes(raw)))


def forge_original_digest(inv: ocfl.Inventory) -> None:
    """Point the original's state entry at another digest: the vault alone agrees with itself."""
    digest = ocfl.state_of(inv)[ORIGINAL]
    forged = "0" * 128
    inv["manifest"][forged] = inv["manifest"].pop(digest)
    state = inv["versions"]["v1"]["state"]
    state[forged] = state.pop(digest)


def forge_logical_path(inv: ocfl.Inventory) -> None:
    state = inv["versions"]["v1"]["state"]
    digest = ocfl.state_of(inv)[ORIGINAL]
    state[digest] = ["../" + ORIGINAL]


def list_content_twice(inv: ocfl.Inventory) -> None:
    paths = inv["manifest"][ocfl.state_of(inv)[ORIGINAL]]
    paths.append(paths[0])


# (damage, caught by quick verify, what the message must name besides the exit)
DAMAGES: dict[str, tuple[Callable[[Path], None], bool, list[str]]] = {
    "object folder deleted": (lambda a: shutil.rmtree(obj(a)), True, [DOC, "missing from the vault"]),
    "object declaration deleted": (
        lambda a: (obj(a) / ocfl.OBJECT_NAMASTE).unlink(),
        True,
        [DOC, ocfl.OBJECT_NAMASTE, "cannot be read"],
    ),
    "stray file in the object root": (
        lambda a: (obj(a) / "notes.txt").write_text("x"),
        True,
        [DOC, "notes.txt", "E001"],
    ),
    "stray file in v1": (
        lambda a: (obj(a) / "v1" / "notes.txt").write_text("x"),
        True,
        [DOC, "v1/notes.txt", "E015"],
    ),
    "stray file in the storage root": (
        lambda a: (a / "archive" / "objects" / "README").write_text("x"),
        True,
        ["stray file README"],
    ),
    "stray folder in the storage root": (
        lambda a: (a / "archive" / "objects" / "backup").mkdir(),
        True,
        ["stray folder backup"],
    ),
    "stray file in a tuple folder": (
        lambda a: (obj(a).parent / "x.tmp").write_text("x"),
        True,
        ["stray file", "x.tmp"],
    ),
    "inventory edited, sidecars rewritten": (
        lambda a: forged(a, forge_original_digest),
        True,
        [DOC, ORIGINAL],
    ),
    "version's inventory of another object, its sidecar rewritten": (
        lambda a: forged(a, lambda inv: inv.update(id="other/2024/x.txt"), ("v1",)),
        True,
        [DOC, "v1/inventory.json differs from the root's: id"],
    ),
    "created without a time zone, sidecars rewritten": (
        lambda a: forged(a, lambda inv: inv["versions"]["v1"].update(created="2024-03-05T08:00:00")),
        True,
        [DOC, "E049"],
    ),
    "logical path escaping the object, sidecars rewritten": (
        lambda a: forged(a, forge_logical_path),
        True,
        [DOC, "../original", "E053"],
    ),
    "content path listed twice, sidecars rewritten": (
        lambda a: forged(a, list_content_twice),
        True,
        [DOC, "E101"],
    ),
    "root sidecar deleted": (
        lambda a: (obj(a) / ocfl.SIDECAR).unlink(),
        True,
        [DOC, "inventory.json.sha512 is missing"],
    ),
    "sidecar damaged": (
        lambda a: flip_byte(obj(a) / ocfl.SIDECAR),
        True,
        [DOC, "does not match its sidecar"],
    ),
    "inventory damaged": (lambda a: flip_byte(obj(a) / ocfl.INVENTORY), True, [DOC, "inventory.json"]),
    "content file deleted": (
        lambda a: (obj(a) / "v1" / "content" / ORIGINAL).unlink(),
        True,
        [DOC, ORIGINAL],
    ),
    "flipped byte": (
        lambda a: flip_byte(obj(a) / "v1" / "content" / ORIGINAL),
        False,
        [DOC, ORIGINAL, "sha512"],
    ),
    "truncated file": (
        lambda a: (obj(a) / "v1" / "content" / ORIGINAL).write_bytes(
            (obj(a) / "v1" / "content" / ORIGINAL).read_bytes()[:100]
        ),
        False,
        [DOC, ORIGINAL, "sha512"],
    ),
    "object unknown to the database": (
        lambda a: vault(a).store("stranger/2024/x.txt", {"original/x.txt": b"x"}, "m"),
        True,
        ["stranger/2024/x.txt", "not in the database"],
    ),
    "vault deleted, database kept": (
        lambda a: shutil.rmtree(a / "archive" / "objects"),
        True,
        ["archive/objects is missing", "the database lists 9 documents"],
    ),
}


@pytest.mark.ocfl_damaged
def test_an_undamaged_archive_verifies_and_every_check_is_a_fixity_event(archive: Path) -> None:
    quick, full = cli(archive, "verify"), cli(archive, "verify", "--full")
    assert (
        quick.exit_code == 0 and quick.output == "ok: 9 objects verified (quick), database and vault agree\n"
    )
    assert full.exit_code == 0 and "ok: 9 objects verified (full)" in full.output
    flip_byte(obj(archive) / "v1" / "content" / ORIGINAL)
    assert cli(archive, "verify", "--full").exit_code == 3
    engine = db.open_engine(f"sqlite:///{archive / 'archive' / 'db.sqlite3'}", create=False)
    with Session(engine) as session:
        events = session.execute(
            select(db.Run.command, db.EventRow.kind, db.EventRow.detail)
            .join(db.Run, db.Run.id == db.EventRow.run_id)
            .where(db.EventRow.kind == "fixity check")
            .order_by(db.EventRow.id)
        ).all()
    engine.dispose()
    assert [(c, k, d["mode"], d["outcome"], d["objects"]) for c, k, d in events] == [
        ("verify", "fixity check", "quick", "pass", 9),
        ("verify", "fixity check", "full", "pass", 9),
        ("verify", "fixity check", "full", "fail", 9),
    ]
    assert DOC in events[-1][2]["examples"][0] and ORIGINAL in events[-1][2]["examples"][0]


@pytest.mark.ocfl_damaged
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_each_damage_is_named_with_a_non_zero_exit(archive: Path, damage: str) -> None:
    harm, quick, named = DAMAGES[damage]
    harm(archive)
    result = cli(archive, "verify", "--full")
    assert result.exit_code == 3, result.output  # FixityError's exit status
    assert all(part in result.output for part in named), result.output
    assert "fixity problems; restore the named objects or files from backup" in result.output
    assert "Traceback" not in result.output
    assert cli(archive, "verify").exit_code == (3 if quick else 0)


def test_run_restores_a_missing_object_from_its_unchanged_inbox_file(archive: Path) -> None:
    shutil.rmtree(obj(archive))
    result = cli(archive, "run", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["restored"], summary["unchanged"], summary["new_versions"]) == (1, 9, 0)
    assert vault(archive).read(DOC, ORIGINAL) == (archive / "inbox" / DOC).read_bytes()
    assert cli(archive, "verify", "--full").exit_code == 0
    again = json.loads(cli(archive, "run", "--json").output)
    assert (again["restored"], again["unchanged"]) == (0, 9)


def test_run_rebuilds_a_deleted_vault_from_the_inbox_and_says_so(archive: Path) -> None:
    before = cli(archive, "export").output
    shutil.rmtree(archive / "archive" / "objects")
    result = cli(archive, "run")
    assert result.exit_code == 0, result.output
    assert "restored 9 objects missing from the vault" in result.output
    assert cli(archive, "verify", "--full").output.startswith("ok: 9 objects verified")
    assert cli(archive, "export").output == before


def test_a_restored_object_with_earlier_versions_lost_is_filed_and_verify_names_the_loss(
    archive: Path,
) -> None:
    target = archive / "inbox" / DOC
    target.write_bytes(target.read_bytes() + "\n附：本报告自印发之日起施行。\n".encode())
    assert json.loads(cli(archive, "run", "--json").output)["new_versions"] == 1
    shutil.rmtree(obj(archive))
    summary = json.loads(cli(archive, "run", "--json").output)
    assert summary["restored"] == 1 and vault(archive).versions(DOC) == ["v1"]
    result = cli(archive, "verify")
    assert result.exit_code == 3
    assert f"{DOC}: v2 is in the database, not in the object (head v1)" in result.output
