"""The OCFL 1.1 file store: layout, inventories, de-duplication, fixity, crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.errors import FixityError, StoreError
from archiver.store import _vault_batch as vault_batch
from archiver.store import ocfl
from archiver.store.vault import Vault, is_warning

NAME = "报告 终版.txt"  # a space and Chinese, as received
RAW = "一、总体情况\r\n2024年，我县政府信息公开工作……\r\n".encode("gb18030")
CLEANED = "一、总体情况\n2024年，我县政府信息公开工作……\n".encode()


def files(
    raw: bytes = RAW, cleaned: bytes | None = CLEANED, stamp: str = "2024-01-01T00:00:00Z"
) -> dict[str, bytes]:
    """A version's state as the coordinator passes it: original, cleaned (unless rejected), provenance."""
    out = {f"original/{NAME}": raw, "provenance.json": json.dumps({"at": stamp}).encode()}
    if cleaned is not None:
        out[f"cleaned/{NAME}.txt"] = cleaned
    return out


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def problems(vault: Vault, full: bool = False) -> list[str]:
    return [line for line in vault.verify(full=full) if not is_warning(line)]


# ---- layout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_id", "expected"),
    [  # from the 0004 extension text (Example 1) and Fedora 6's documented mapping
        ("object-01", "3c0/ff4/240/3c0ff4240c1e116dba14c7627f2319b58aa3d77606d0d90dfc6161608ac987d4"),
        ("..hor/rib:le-$id", "487/326/d8c/487326d8c2a3c0b885e23da1469b4d6671fd4e76978924b4443e9e3c316cda6d"),
        (
            "info:fedora/foo/bar",
            "70c/b11/831/70cb11831eda669bfa7ccbe0996d3df06186f47a6f3544cabff61b3f79509d73",
        ),
    ],
)
def test_object_path_follows_0004_layout(tmp_path: Path, object_id: str, expected: str) -> None:
    assert Vault(tmp_path / "v").object_path(object_id) == tmp_path / "v" / expected


def test_storage_root_declares_ocfl_1_1_and_layout(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    Vault(root)
    assert (root / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    layout = json.loads((root / "ocfl_layout.json").read_text())
    assert layout["extension"] == "0004-hashed-n-tuple-storage-layout"
    config = json.loads((root / "extensions/0004-hashed-n-tuple-storage-layout/config.json").read_text())
    assert config == {
        "extensionName": "0004-hashed-n-tuple-storage-layout",
        "digestAlgorithm": "sha256",
        "tupleSize": 3,
        "numberOfTuples": 3,
        "shortObjectRoot": False,
    }
    Vault(root)  # re-opening an existing root is fine


def test_refuses_a_directory_that_is_not_a_storage_root(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"not an OCFL 1\.1 storage root"):
        Vault(tmp_path / "docs")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Vault(tmp_path / "file")
    assert (tmp_path / "docs").exists() and not (tmp_path / "docs" / "0=ocfl_1.1").exists()


@pytest.mark.parametrize("under", ["a-file/objects", "a-file/deeper/objects"])
def test_a_file_in_the_way_of_the_vault_is_named_with_the_key_to_fix(tmp_path: Path, under: str) -> None:
    (tmp_path / "a-file").write_bytes(b"x")
    message = (
        f"cannot create the vault at {tmp_path / under}: '{tmp_path / 'a-file'}' is a file, not a folder"
    )
    with pytest.raises(StoreError, match=re.escape(message + "; check [store] vault in config.toml")):
        Vault(tmp_path / under)


@pytest.mark.skipif(
    not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made"
)
def test_a_vault_where_no_folder_can_be_made_is_a_store_error() -> None:
    with pytest.raises(
        StoreError, match=r"cannot create the vault at /proc/archiver: .*check \[store\] vault"
    ):
        Vault(Path("/proc/archiver"))


def test_a_root_made_by_another_writer_meanwhile_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first runs at once: the other one finishes the root and stores, sweeping staging,
    this one's aside folder included, while this one is still writing the root's files."""
    root = tmp_path / "objects"
    write = ocfl.write_synced

    def other_writer_first(path: Path, data: bytes) -> None:
        monkeypatch.setattr(ocfl, "write_synced", write)
        Vault(root).store("other", files(), "m")  # its first store sweeps staging
        write(path, data)

    monkeypatch.setattr(ocfl, "write_synced", other_writer_first)
    vault = Vault(root)
    vault.store("doc", files(), "m")
    assert vault.head("other") == vault.head("doc") == "v1"
    assert vault.verify() == []


def test_opening_without_create_refuses_a_missing_root_and_makes_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no archive at .*: check \[store\] vault in config.toml or run"):
        Vault(tmp_path / "objects", create=False)
    assert list(tmp_path.iterdir()) == []
    Vault(tmp_path / "objects").store("doc", files(), "m")
    assert Vault(tmp_path / "objects", create=False).head("doc") == "v1"


# ---- store and read ---------------------------------------------------------------------


def test_round_trip_keeps_bytes_and_name(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    sv = vault.store("jtj/2024/report", files(), "first filing")
    assert (sv.version, sv.created) == ("v1", True)
    assert sv.object_path == vault.object_path("jtj/2024/report")
    assert (sv.object_path / "0=ocfl_object_1.1").read_text() == "ocfl_object_1.1\n"
    on_disk = sv.object_path / "v1" / "content" / "original" / NAME
    assert on_disk.read_bytes() == RAW  # not re-encoded, stored under the real name
    assert sv.paths[f"original/{NAME}"] == f"v1/content/original/{NAME}"
    assert vault.read("jtj/2024/report", f"original/{NAME}") == RAW
    assert vault.read("jtj/2024/report", f"cleaned/{NAME}.txt") == CLEANED
    assert list(vault.objects()) == ["jtj/2024/report"]
    assert vault.verify(full=True) == []


def test_identical_bytes_are_a_no_op_even_with_new_provenance(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    first = vault.store("doc", files(), "first")
    again = vault.store("doc", files(stamp="2025-06-30T12:00:00Z"), "rerun")
    assert (again.version, again.created) == ("v1", False)
    assert again.paths == first.paths
    assert not (first.object_path / "v2").exists()
    assert vault.versions("doc") == ["v1"]
    assert json.loads(vault.read("doc", "provenance.json")) == {"at": "2024-01-01T00:00:00Z"}


def test_changed_bytes_make_v2_and_v1_stays_readable(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.store("doc", files(), "first")
    changed = RAW + "二、主动公开\r\n".encode("gb18030")
    sv = vault.store("doc", files(raw=changed, stamp="2025"), "re-filed")
    assert (sv.version, sv.created) == ("v2", True)
    assert vault.versions("doc") == ["v1", "v2"] and vault.head("doc") == "v2"
    assert vault.read("doc", f"original/{NAME}") == changed
    assert vault.read("doc", f"original/{NAME}", version="v1") == RAW
    # the unchanged cleaned text is not copied: v2's state points at v1's content
    assert sv.paths[f"cleaned/{NAME}.txt"] == f"v1/content/cleaned/{NAME}.txt"
    v2_content = sorted(
        p.relative_to(sv.object_path).as_posix()
        for p in (sv.object_path / "v2" / "content").rglob("*")
        if p.is_file()
    )
    assert v2_content == [f"v2/content/original/{NAME}", "v2/content/provenance.json"]
    assert vault.verify(full=True) == []


def test_rejected_submission_has_no_cleaned_text(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    sv = vault.store("bad", files(raw=b"\x00\x01binary", cleaned=None), "rejected: binary")
    assert set(sv.paths) == {f"original/{NAME}", "provenance.json"}
    with pytest.raises(StoreError, match="has no"):
        vault.read("bad", f"cleaned/{NAME}.txt")


def test_same_bytes_under_two_names_are_stored_once(tmp_path: Path) -> None:
    sv = Vault(tmp_path).store("doc", {"original/a.txt": b"same", "cleaned/a.txt.txt": b"same"}, "m")
    assert sv.paths["original/a.txt"] == sv.paths["cleaned/a.txt.txt"]


def test_names_are_not_unicode_normalised(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    nfd = unicodedata.normalize("NFD", "original/café.txt")
    vault.store("doc", {nfd: b"x"}, "m")
    assert vault.read("doc", nfd) == b"x"
    with pytest.raises(StoreError):
        vault.read("doc", unicodedata.normalize("NFC", nfd))
    inv = json.loads((vault.object_path("doc") / "inventory.json").read_text(encoding="utf-8"))
    assert inv["versions"]["v1"]["state"][sha512(b"x")] == [nfd]


def test_problematic_names_get_a_safe_content_path(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    long_name = "original/" + "很长的文件名" * 20 + ".txt"  # 360 bytes: over NAME_MAX
    odd_name = "original/line\nbreak.txt"
    sv = vault.store("doc", {long_name: b"long", odd_name: b"odd"}, "m")
    assert sv.paths[long_name] == f"v1/content/mapped/{sha512(b'long')}"
    assert sv.paths[odd_name] == f"v1/content/mapped/{sha512(b'odd')}"
    assert vault.read("doc", long_name) == b"long" and vault.read("doc", odd_name) == b"odd"
    assert vault.verify(full=True) == []


@pytest.mark.parametrize(
    "bad", ["", "/etc/passwd", "../escape", "original/../../x", "a//b", "a/", "./a", "a\x00b"]
)
def test_logical_paths_that_could_escape_are_refused(tmp_path: Path, bad: str) -> None:
    vault = Vault(tmp_path)
    with pytest.raises(StoreError, match="refusing"):
        vault.store("doc", {bad: b"x"}, "m")
    assert list(vault.objects()) == []


def test_a_file_cannot_also_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a file"):
        Vault(tmp_path).store("doc", {"original": b"1", "original/a": b"2"}, "m")


def test_unknown_object_version_and_path(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    assert vault.head("nope") is None and vault.versions("nope") == []
    with pytest.raises(StoreError, match="no object"):
        vault.read("nope", "provenance.json")
    vault.store("doc", files(), "m")
    with pytest.raises(StoreError, match="no version"):
        vault.read("doc", "provenance.json", version="v7")


# ---- inventory shape --------------------------------------------------------------------


def test_inventory_has_the_ocfl_shape(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    when = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    obj = vault.store("doc", files(), "first filing", created=when).object_path
    vault.store("doc", files(raw=b"new"), "re-filed", created=when)
    raw_inv = (obj / "inventory.json").read_bytes()
    inv: dict[str, Any] = json.loads(raw_inv)
    assert inv["id"] == "doc" and inv["type"] == "https://ocfl.io/1.1/spec/#inventory"
    assert inv["digestAlgorithm"] == "sha512" and inv["head"] == "v2" and inv["contentDirectory"] == "content"
    assert (obj / "inventory.json.sha512").read_text() == f"{sha512(raw_inv)} inventory.json\n"
    for digest, paths in inv["manifest"].items():  # every manifest digest is the file's real sha512
        assert [sha512((obj / p).read_bytes()) for p in paths] == [digest]
    v1 = inv["versions"]["v1"]
    assert v1["created"] == "2024-03-01T08:30:00Z" and v1["message"] == "first filing"
    assert v1["user"] == {"name": "archiver", "address": "info:archiver"}  # OCFL W008: an address
    assert v1["state"][sha512(RAW)] == [f"original/{NAME}"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", inv["versions"]["v2"]["created"])
    # the head version's own inventory is the root one; v1's stays as it was written
    assert (obj / "v2" / "inventory.json").read_bytes() == raw_inv
    v1_inv = json.loads((obj / "v1" / "inventory.json").read_bytes())
    assert v1_inv["head"] == "v1" and set(v1_inv["versions"]) == {"v1"}
    assert (obj / "v1" / "inventory.json.sha512").read_text().split()[0] == sha512(
        (obj / "v1" / "inventory.json").read_bytes()
    )
    assert ocfl.shape_problems(inv) == []
    assert sorted(p.name for p in obj.iterdir()) == [
        "0=ocfl_object_1.1",
        "inventory.json",
        "inventory.json.sha512",
        "v1",
        "v2",
    ]


# ---- verify -----------------------------------------------------------------------------


@pytest.mark.ocfl_damaged
def test_full_verify_finds_a_flipped_byte(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    sv = vault.store("doc", files(), "m")
    target = sv.object_path / sv.paths[f"original/{NAME}"]
    data = bytearray(target.read_bytes())
    data[3] ^= 0x01
    target.write_bytes(bytes(data))
    assert vault.verify() == []  # quick mode checks presence only
    found = vault.verify(full=True)
    assert len(found) == 1 and "does not match its sha512" in found[0] and NAME in found[0]
    with pytest.raises(FixityError):
        vault.read("doc", f"original/{NAME}")


@pytest.mark.ocfl_damaged
def test_quick_verify_finds_a_deleted_content_file(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    sv = vault.store("doc", files(), "m")
    (sv.object_path / sv.paths[f"cleaned/{NAME}.txt"]).unlink()
    found = vault.verify()
    assert len(found) == 1 and "is missing" in found[0]


@pytest.mark.ocfl_damaged
def test_verify_finds_a_tampered_inventory_and_an_unlisted_file(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    obj = vault.store("doc", files(), "m").object_path
    (obj / "v1" / "content" / "stray.txt").write_bytes(b"?")
    assert any("stray.txt is not in the manifest" in line for line in vault.verify())
    inv = (obj / "inventory.json").read_text(encoding="utf-8").replace("first", "FIRST").replace('"m"', '"n"')
    (obj / "inventory.json").write_text(inv, encoding="utf-8")
    assert any("does not match its sidecar" in line for line in problems(vault))


@pytest.mark.ocfl_damaged
def test_a_corrupt_inventory_says_to_restore_the_object_not_to_run_verify_again(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    obj = vault.store("doc", files(), "m").object_path
    (obj / "inventory.json").write_bytes(b"{not json")
    found = problems(vault)
    assert len(found) == 1 and "inventory.json is not JSON" in found[0]
    assert "restore it from a backup copy of the vault" in found[0] and "archiver verify" not in found[0]
    with pytest.raises(FixityError, match="the object is damaged: restore it from a backup"):
        vault.store("doc", files(b"other bytes"), "m")


# ---- crash safety -----------------------------------------------------------------------


def failing_replace(fail_at: int) -> Callable[[Any, Any], None]:
    """An ``os.replace`` that raises on its ``fail_at``-th call (0-based), as a crash would."""
    real, calls = os.replace, [0]

    def replace(src: Any, dst: Any) -> None:
        calls[0] += 1
        if calls[0] - 1 == fail_at:
            raise OSError("simulated crash")
        real(src, dst)

    return replace


def test_a_version_commit_renames_three_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the renames because crash safety rests on their order (the crash tests check the outcome)."""
    vault = Vault(tmp_path)
    vault.store("doc", files(), "m")
    seen: list[str] = []
    real = os.replace

    def recording_replace(src: Any, dst: Any) -> None:
        seen.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    vault.store("doc", files(raw=b"new"), "m2")
    assert seen == ["v2", "inventory.json", "inventory.json.sha512"]  # version dir first, root inventory last


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_crash_during_a_new_version_keeps_the_last_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    vault = Vault(tmp_path)
    vault.store("doc", files(), "m")
    monkeypatch.setattr(os, "replace", failing_replace(fail_at))
    with pytest.raises(OSError, match="simulated crash"):
        vault.store("doc", files(raw=b"new"), "m2")
    monkeypatch.undo()
    assert vault.read("doc", f"original/{NAME}", version="v1") == RAW
    # before the root inventory moved, v1 is still head; after, v2 is complete and head
    assert vault.head("doc") == ("v1" if fail_at < 2 else "v2")
    assert vault.read("doc", f"original/{NAME}") == (RAW if fail_at < 2 else b"new")
    assert problems(vault) == [] and problems(vault, full=True) == []
    warnings = vault.verify()
    assert len(warnings) == (0 if fail_at == 0 else 1) and all(is_warning(w) for w in warnings)
    sv = vault.store("doc", files(raw=b"newer"), "m3")  # the next store cleans up first
    assert sv.version == ("v2" if fail_at < 2 else "v3")
    assert vault.verify(full=True) == []


def test_crash_while_creating_an_object_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = Vault(tmp_path)
    monkeypatch.setattr(os, "replace", failing_replace(0))
    with pytest.raises(OSError, match="simulated crash"):
        vault.store("doc", files(), "m")
    monkeypatch.undo()
    assert vault.head("doc") is None and list(vault.objects()) == [] and vault.verify(full=True) == []
    assert vault.store("doc", files(), "m").version == "v1"


def test_leftovers_of_a_hard_crash_are_warnings_then_cleaned(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    obj = vault.store("doc", files(), "m").object_path
    staging = tmp_path / "extensions" / "archiver-staging" / "dead"
    staging.mkdir(parents=True)
    (obj / "v2" / "content").mkdir(parents=True)  # renamed in, inventory never written
    warnings = vault.verify(full=True)
    assert len(warnings) == 2 and all(w.startswith("orphan:") for w in warnings)
    assert vault.read("doc", f"original/{NAME}") == RAW
    done = vault.recover()
    assert done[0] == "removed staging dead" and "v2/ is not in inventory.json" in done[1] and len(done) == 2
    assert not staging.exists() and not (obj / "v2").exists() and vault.verify(full=True) == []


def test_recover_completes_a_stale_root_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault(tmp_path)
    vault.store("doc", files(), "m")
    monkeypatch.setattr(os, "replace", failing_replace(2))
    with pytest.raises(OSError):
        vault.store("doc", files(raw=b"new"), "m2")
    monkeypatch.undo()
    done = vault.recover()
    assert len(done) == 1 and "inventory.json.sha512" in done[0]
    obj = vault.object_path("doc")
    root_digest = sha512((obj / "inventory.json").read_bytes())
    assert (obj / "inventory.json.sha512").read_text() == f"{root_digest} inventory.json\n"
    assert vault.verify(full=True) == []


# ---- property ---------------------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"),
    min_size=1,
    max_size=90,
).filter(lambda s: s not in (".", ".."))


@settings(max_examples=40, deadline=None)
@given(name=_names, raw=st.binary(max_size=2000), cleaned=st.one_of(st.none(), st.text(max_size=200)))
def test_store_then_read_returns_the_bytes(name: str, raw: bytes, cleaned: str | None) -> None:
    batch = {f"original/{name}": raw, "provenance.json": b"{}"}
    if cleaned is not None:
        batch[f"cleaned/{name}.txt"] = cleaned.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault(Path(tmp) / "vault")
        sv = vault.store(name, batch, "m")
        assert {p: vault.read(name, p) for p in batch} == batch
        assert vault.store(name, batch, "again").created is False
        assert vault.verify(full=True) == []
        assert set(sv.paths) == set(batch)


# ---- group commit (batch) ---------------------------------------------------------------


def doc_files(i: int, version: int = 1) -> dict[str, bytes]:
    """Distinct content per object ``i`` and per ``version`` of it."""
    raw = f"一、总体情况 {i} 第{version}版\r\n".encode("gb18030")
    return files(raw=raw, cleaned=raw.decode("gb18030").encode(), stamp=f"{i}-{version}")


def staging_entries(root: Path) -> list[str]:
    base = root / "extensions" / "archiver-staging"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def test_a_batch_lands_every_object_when_the_block_ends(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    for i in range(3):  # objects 0..2 exist; the batch adds v2 to them and creates 3..8
        vault.store(f"doc{i}", doc_files(i), "first")
    with vault.batch():
        promised = {f"doc{i}": vault.store(f"doc{i}", doc_files(i, 2), "batch") for i in range(9)}
        # staged only: nothing new is visible before the commit
        assert vault.head("doc0") == "v1" and vault.head("doc5") is None
    for i in range(9):
        sv = promised[f"doc{i}"]
        assert sv.created and sv.version == ("v2" if i < 3 else "v1")
        assert vault.head(f"doc{i}") == sv.version and sv.object_path.is_dir()
        assert vault.read(f"doc{i}", f"original/{NAME}") == doc_files(i, 2)[f"original/{NAME}"]
        assert all((sv.object_path / c).is_file() for c in sv.paths.values())
    assert vault.read("doc1", f"original/{NAME}", version="v1") == doc_files(1)[f"original/{NAME}"]
    assert vault.verify(full=True) == []
    assert staging_entries(tmp_path) == []


def test_an_explicit_commit_works_like_the_block(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    batch = vault.batch()
    vault.store("doc", files(), "m")
    assert vault.head("doc") is None
    batch.commit()
    assert vault.head("doc") == "v1" and vault.verify(full=True) == []
    with pytest.raises(StoreError, match="already committed"):
        batch.commit()
    assert vault.store("doc", files(raw=b"new"), "lone").version == "v2"  # after the batch: lone again
    assert vault.head("doc") == "v2"


def test_an_exception_in_the_block_leaves_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.store("old", files(), "first")
    with pytest.raises(RuntimeError, match="boom"), vault.batch():
        vault.store("old", files(raw=b"changed"), "m")
        for i in range(5):
            vault.store(f"doc{i}", doc_files(i), "m")
        assert staging_entries(tmp_path)  # something was staged
        raise RuntimeError("boom")
    assert list(vault.objects()) == ["old"] and vault.versions("old") == ["v1"]
    assert staging_entries(tmp_path) == []
    assert vault.recover() == [] and vault.verify(full=True) == []
    with vault.batch():  # the vault is usable afterwards
        vault.store("doc0", doc_files(0), "m")
    assert vault.head("doc0") == "v1"


def test_only_one_batch_at_a_time(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    with vault.batch():
        with pytest.raises(StoreError, match="already open"):
            vault.batch()
        vault.store("doc", files(), "m")
    assert vault.head("doc") == "v1"


def test_a_batch_fsyncs_nothing_and_syncs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the counts because the group commit exists to replace per-file fsyncs by two barriers."""
    vault = Vault(tmp_path)
    fsyncs, barriers = [0], [0]
    real_fsync, real_barrier = os.fsync, vault_batch.barrier

    def counting_fsync(fd: int) -> None:
        fsyncs[0] += 1
        real_fsync(fd)

    def counting_barrier(root: Path) -> None:
        barriers[0] += 1
        real_barrier(root)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    monkeypatch.setattr(vault_batch, "barrier", counting_barrier)
    for i in range(3):  # the counter works: lone stores fsync every file and directory
        vault.store(f"lone{i}", doc_files(i), "m")
    assert fsyncs[0] >= 3 * 10 and barriers[0] == 0
    fsyncs[0] = 0
    with vault.batch():
        for i in range(50):
            vault.store(f"doc{i}", doc_files(i), "m")
    assert (fsyncs[0], barriers[0]) == (0, 2)
    with vault.batch():  # new versions of existing objects: the same
        for i in range(50):
            vault.store(f"doc{i}", doc_files(i, 2), "m")
    assert (fsyncs[0], barriers[0]) == (0, 4)
    with vault.batch():  # an empty or all-no-op batch needs no barrier
        vault.store("doc0", doc_files(0, 2), "again")
    assert (fsyncs[0], barriers[0]) == (0, 4)
    assert vault.verify(full=True) == [] and len(list(vault.objects())) == 53


def test_identical_re_store_inside_a_batch_is_a_no_op(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    first = vault.store("old", files(), "m")
    with vault.batch():
        again = vault.store("old", files(stamp="later"), "rerun")  # committed head
        new = vault.store("new", doc_files(1), "m")
        new_again = vault.store("new", doc_files(1) | {"provenance.json": b"{}"}, "rerun")  # staged head
    assert (again.version, again.created, again.paths) == ("v1", False, first.paths)
    assert (new_again.version, new_again.created, new_again.paths) == ("v1", False, new.paths)
    assert vault.versions("old") == ["v1"] and vault.versions("new") == ["v1"]
    assert vault.verify(full=True) == []


def test_two_stores_to_one_object_in_a_batch_stack(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.store("old", doc_files(0, 1), "m")
    with vault.batch():
        svs = [vault.store(oid, doc_files(0, n), "m") for oid in ("old", "new") for n in (2, 3)]
    assert [sv.version for sv in svs] == ["v2", "v3", "v1", "v2"]
    assert vault.versions("old") == ["v1", "v2", "v3"] and vault.versions("new") == ["v1", "v2"]
    for oid, versions in (("old", {"v1": 1, "v2": 2, "v3": 3}), ("new", {"v1": 2, "v2": 3})):
        for version, n in versions.items():
            assert vault.read(oid, f"original/{NAME}", version=version) == doc_files(0, n)[f"original/{NAME}"]
    # stacked versions de-duplicate against each other like committed ones
    assert svs[3].paths[f"cleaned/{NAME}.txt"] != svs[3].paths[f"original/{NAME}"]
    assert vault.verify(full=True) == []


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("fail_at", range(12))
def test_a_crash_during_a_batch_commit_leaves_old_or_new_heads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int, hard: bool
) -> None:
    vault = Vault(tmp_path)
    for i in (0, 2, 4):
        vault.store(f"doc{i}", doc_files(i), "first")
    # staged in order doc0..doc5: existing objects take 3 renames, new ones 1: 12 renames in all
    renames = [3, 1, 3, 1, 3, 1]
    with pytest.raises(OSError, match="simulated crash"), vault.batch():
        for i in range(6):
            vault.store(f"doc{i}", doc_files(i, 2), "batch")
        monkeypatch.setattr(os, "replace", failing_replace(fail_at))
        if hard:  # a real crash runs no clean-up: the stage stays behind
            monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)
    monkeypatch.undo()
    done_before = 0
    for i in range(6):
        # objects whose renames all happened before the failure are at their new head; the
        # one that failed is new only if its root inventory had moved; the rest are old
        landed = sum(renames[: i + 1]) <= fail_at or (renames[i] == 3 and fail_at - done_before == 2)
        old, new = (("v1", 1), ("v2", 2)) if i % 2 == 0 else ((None, 0), ("v1", 2))
        head, n = new if landed else old
        assert vault.head(f"doc{i}") == head, (i, fail_at)
        if head:
            assert vault.read(f"doc{i}", f"original/{NAME}") == doc_files(i, n)[f"original/{NAME}"]
        done_before += renames[i]
    assert problems(vault, full=True) == []  # only orphan: warnings
    assert bool(vault.verify()) == (hard or fail_at % 4 in (1, 2))  # orphan vN / stale sidecar
    vault.recover()
    assert vault.verify(full=True) == [] and staging_entries(tmp_path) == []


def test_staging_is_swept_once_per_vault_and_never_the_open_batch(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.store("a", files(), "m")  # first store of this Vault: sweeps (nothing there yet)
    dead = tmp_path / "extensions" / "archiver-staging" / "dead"
    dead.mkdir()
    vault.store("b", files(), "m")
    assert dead.is_dir()  # no directory scan per store
    with vault.batch():
        vault.store("c", files(), "m")
        assert vault.recover() == ["removed staging dead"]  # the batch's own stage is not "left over"
        assert not dead.exists() and len(staging_entries(tmp_path)) == 1
        assert vault.verify() == []  # nor reported as an interrupted write
    assert vault.head("c") == "v1" and vault.verify(full=True) == []
    dead.mkdir()
    Vault(tmp_path).store("d", files(), "m")  # a new Vault (the next run) sweeps on its first store
    assert not dead.exists()


def _record_renames_and_barriers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names renamed into place and each ``BARRIER``, in order, as the vault makes them."""
    events: list[str] = []
    real_replace, real_barrier = os.replace, vault_batch.barrier

    def recording_replace(src: Any, dst: Any) -> None:
        events.append(Path(dst).name)
        real_replace(src, dst)

    def recording_barrier(root: Path) -> None:
        events.append("BARRIER")
        real_barrier(root)

    monkeypatch.setattr(os, "replace", recording_replace)
    monkeypatch.setattr(vault_batch, "barrier", recording_barrier)
    return events


def test_a_batch_renames_only_between_its_two_barriers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pins the order because it is the group commit's crash-safety argument (``_vault_batch``)."""
    vault = Vault(tmp_path)
    vault.store("old", files(), "m")
    events = _record_renames_and_barriers(monkeypatch)
    with vault.batch():
        vault.store("old", files(raw=b"new"), "m")
        vault.store("new", files(), "m")
        assert events == []  # staging renames nothing
    new_root = vault.object_path("new").name
    assert events == ["BARRIER", "v2", "inventory.json", "inventory.json.sha512", new_root, "BARRIER"]


def test_batches_handed_over_land_together_between_two_barriers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's workers stage and hand over; its coordinator lands a batch's worth at once: one
    barrier before any rename, each object's renames in the lone-store order, one barrier after."""
    coordinator = Vault(tmp_path)
    coordinator.store("old", files(), "m")
    events = _record_renames_and_barriers(monkeypatch)
    handed = []
    for worker, oid in (
        (Vault(tmp_path, sweep_staging=False), "old"),
        (Vault(tmp_path, sweep_staging=False), "new"),
    ):
        with worker.batch() as batch:
            worker.store(oid, files(raw=b"new"), "m")
            handed.append(batch.hand_over())
    assert events == [] and coordinator.head("old") == "v1" and coordinator.head("new") is None
    coordinator.land(handed)
    new_root = coordinator.object_path("new").name
    assert events == ["BARRIER", "v2", "inventory.json", "inventory.json.sha512", new_root, "BARRIER"]
    assert coordinator.head("old") == "v2" and coordinator.read("new", f"original/{NAME}") == b"new"
    assert coordinator.verify(full=True) == [] and staging_entries(tmp_path) == []


def test_a_writer_is_one_kernel_and_one_storage_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "other").mkdir()
    writer = vault_batch.writer_of(tmp_path)
    assert writer is not None and writer == vault_batch.writer_of(tmp_path)
    assert writer.boot_id == vault_batch.BOOT_ID.read_text().strip()
    assert vault_batch.writer_of(tmp_path / "other") not in (None, writer)  # another folder
    monkeypatch.setattr(vault_batch, "BOOT_ID", tmp_path / "no-such-file")  # not Linux: unknown
    assert vault_batch.writer_of(tmp_path) is None


def test_a_batch_handed_over_and_never_landed_is_swept_and_changes_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path)
    vault.store("old", files(), "m")
    with vault.batch() as batch:
        vault.store("old", files(raw=b"new"), "m")
        vault.store("new", files(), "m")
        batch.hand_over()
    assert vault.head("old") == "v1" and not vault.holds("new")
    assert [line for line in vault.verify() if "staging" in line] == [
        f"orphan: staging {batch.dir.name} left by an interrupted store"
    ]
    assert problems(vault, full=True) == []
    Vault(tmp_path).store("other", files(), "m")  # the next run's vault sweeps it
    assert vault.verify(full=True) == [] and staging_entries(tmp_path) == []


def test_landing_a_batch_staged_in_another_vault_is_refused(tmp_path: Path) -> None:
    elsewhere = Vault(tmp_path / "elsewhere")
    with elsewhere.batch() as batch:
        elsewhere.store("doc", files(), "m")
        staged = batch.hand_over()
    vault = Vault(tmp_path / "vault")
    with pytest.raises(StoreError, match=r"staged outside .*workers must use this vault"):
        vault.land([staged])
    assert list(vault.objects()) == [] and list(elsewhere.objects()) == []
    assert staging_entries(tmp_path / "elsewhere") == [batch.dir.name]


def test_a_failed_first_barrier_renames_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault(tmp_path)
    monkeypatch.setattr(vault_batch, "_SYNCFS", lambda fd: -1)  # the kernel reports a write-back error
    with pytest.raises(StoreError, match="syncfs failed"), vault.batch():
        vault.store("doc", files(), "m")
    assert list(vault.objects()) == [] and staging_entries(tmp_path) == []


def test_barrier_falls_back_to_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(vault_batch, "_SYNCFS", None)
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))
    vault_batch.barrier(tmp_path)
    assert calls == ["sync"]


def test_a_new_file_gets_exactly_its_bytes_and_never_replaces_one(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: more than one write may take
    target = tmp_path / "content.bin"
    ocfl.write_new(target, data, sync=True)
    assert target.read_bytes() == data
    with pytest.raises(FileExistsError):
        ocfl.write_new(target, b"other bytes", sync=False)
    assert target.read_bytes() == data  # the refused write left the file as it was
