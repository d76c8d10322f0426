"""The file store: an OCFL 1.1 storage root with one object per document.

Each version's state holds ``original/<name as received>`` (the bytes exactly),
``cleaned/<name>.txt`` (absent for rejected submissions) and ``provenance.json``. Content is
de-duplicated by sha512: unchanged files of a new version point at earlier content paths.

Writes are crash-safe for **one writer** (the coordinating process; nothing here locks):

1. the new version (or, for a new object, the whole object root) is built in
   ``<root>/extensions/archiver-staging/<uuid>``, every file and directory fsynced;
2. it is renamed into place (``vN`` into the object root, or the object root into the layout);
3. the new inventory is staged, fsynced and renamed over ``inventory.json``, then the same for
   ``inventory.json.sha512``; the object root directory is fsynced.

A crash before (3) leaves an orphan ``vN`` directory the root inventory does not mention; a
crash between the two renames of (3) leaves a root sidecar that is stale, while the
``vN/inventory.json.sha512`` written in (1) vouches for the new ``inventory.json``. Both states
read as the last good version, ``verify()`` reports them as warnings prefixed ``orphan:``
(never as fixity problems), and the next ``store()`` to that object (or ``recover()``) cleans
them up: orphan version directories are deleted, a stale root sidecar is rewritten, leftover
staging directories are removed (by the first store of each ``Vault``, or by ``recover()``).

Group commit: inside ``with vault.batch():`` stores are staged without fsyncs and land together
behind two file-system barriers, in the batch's commit or, handed over, in ``land`` by another
process (a run's coordinator); the same states after a crash, see ``vault_batch``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.errors import FixityError, StoreError, describe
from archiver.store import _vault_batch as vault_batch
from archiver.store import ocfl
from archiver.store._vault_batch import Batch
from archiver.store._vault_batch import Staged as Staged  # re-exported: what `land` takes
from archiver.store._vault_batch import Writer as Writer  # re-exported: what `writer` gives

STAGING = ocfl.STAGING
WARNING_PREFIX = "orphan:"
Tick = Callable[[int, int], None]  # (done, total): how far a long check has got, for a progress bar
# What to do about an object whose inventory cannot be trusted. Not "run `archiver verify`":
# verify itself reports these, and running it again finds the same.
DAMAGED = "the object is damaged: restore it from a backup copy of the vault"


def is_warning(line: str) -> bool:
    """True for a ``verify()`` line that reports an interrupted write, not damaged content."""
    return line.startswith(WARNING_PREFIX)


@dataclass(frozen=True)
class StoredVersion:
    object_id: str
    version: str  # "v1", "v2", …
    created: bool  # False when identical to the head: nothing written
    object_path: Path  # object root
    paths: dict[str, str]  # logical path -> content path relative to the object root


@dataclass(frozen=True)
class VaultCheck:
    lines: list[str]  # problems and ``orphan:`` warnings, as ``verify`` returns them
    inventories: dict[str, ocfl.Inventory]  # object id → inventory of every readable object


class Vault:
    """An OCFL 1.1 storage root using the 0004 hashed n-tuple layout."""

    def __init__(self, root: Path, sweep_staging: bool = True, *, create: bool = True) -> None:
        """Open the storage root at ``root``, creating it when missing or empty.

        Raises ``StoreError`` when ``root`` exists but is not an OCFL 1.1 storage root with
        this layout (so a mistyped path never gets objects sprinkled into it), or cannot be
        created. With ``create=False`` (commands that only read) a missing storage root is a
        ``StoreError`` too, and nothing is created. With ``sweep_staging=False`` this instance
        never removes staged leftovers: for writers that share the root with others (worker
        processes), after one ``clear_staging()`` call.
        """
        self.root = Path(root)
        self._batch: Batch | None = None
        # Leftovers of crashed writers are removed once, not per store.
        self._staging_cleared = not sweep_staging
        if not (self.root / ocfl.ROOT_NAMASTE).is_file():
            if not create:
                raise StoreError(
                    f"no archive at {self.root}: check [store] vault in config.toml "
                    "or run `archiver run` first"
                )
            self._init_root()
        layout = self._read_json(self.root / ocfl.LAYOUT_FILE)
        if not isinstance(layout, dict) or layout.get("extension") != ocfl.LAYOUT_NAME:
            raise StoreError(f"{self.root}: storage layout is not {ocfl.LAYOUT_NAME}; use another vault path")

    def _init_root(self) -> None:
        try:
            self._create_root()
        except OSError as exc:
            # Another writer that made the root first may sweep staging, this one's aside
            # folder included, as soon as it stores: then the root is there, whole.
            if (self.root / ocfl.ROOT_NAMASTE).is_file():
                return
            raise StoreError(
                f"cannot create the vault at {self.root}: {describe(exc)}; check [store] vault in config.toml"
            ) from exc

    def _create_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is a file, not a storage root: set [store] vault to a directory")
        present = {p.name for p in self.root.iterdir()} if self.root.is_dir() else set()
        if ocfl.ROOT_NAMASTE in present:  # another process made it since this one looked
            return
        if present - {ocfl.LAYOUT_FILE, "extensions"}:
            raise StoreError(
                f"{self.root} exists and is not an OCFL 1.1 storage root (no {ocfl.ROOT_NAMASTE}): "
                "point [store] vault at an empty or new directory"
            )
        config_dir = self.root / "extensions" / ocfl.LAYOUT_NAME
        config_dir.mkdir(parents=True, exist_ok=True)
        # Each file is written aside and renamed in: two first runs may make the root at once.
        aside = self.root / STAGING / f"root-{os.getpid()}"
        aside.mkdir(parents=True, exist_ok=True)
        for path, data in (
            (config_dir / "config.json", (json.dumps(ocfl.LAYOUT_CONFIG, indent=2) + "\n").encode()),
            (self.root / ocfl.LAYOUT_FILE, (json.dumps(ocfl.LAYOUT_DOC, indent=2) + "\n").encode()),
            # The declaration goes last: a root without it is still "being created".
            (self.root / ocfl.ROOT_NAMASTE, ocfl.ROOT_NAMASTE_TEXT.encode()),
        ):
            (aside / path.name).unlink(missing_ok=True)
            ocfl.write_synced(aside / path.name, data)
            os.replace(aside / path.name, path)
        shutil.rmtree(aside, ignore_errors=True)
        ocfl.fsync_tree(self.root)

    # ---- reading -----------------------------------------------------------------------

    def object_path(self, object_id: str) -> Path:
        """Where the object's root is (or would be) under the storage root."""
        return self.root / ocfl.object_relpath(object_id)

    def holds(self, object_id: str) -> bool:
        """True when the object is in the vault (its root, declaration included, lands in one rename)."""
        return (self.object_path(object_id) / ocfl.OBJECT_NAMASTE).is_file()

    def head(self, object_id: str) -> str | None:
        """The head version name, or None when the object does not exist."""
        inv = self._inventory(object_id)
        return str(inv["head"]) if inv else None

    def versions(self, object_id: str) -> list[str]:
        """Version names in order (``[]`` for an unknown object)."""
        inv = self._inventory(object_id)
        return sorted(inv["versions"], key=lambda v: ocfl.version_number(v) or 0) if inv else []

    def read(self, object_id: str, logical_path: str, version: str | None = None) -> bytes:
        """The bytes of ``logical_path`` in ``version`` (default head), checked against the digest.

        Raises ``StoreError`` for an unknown object/version/path, ``FixityError`` when the
        stored bytes no longer match their digest.
        """
        inv = self._inventory(object_id)
        if inv is None:
            raise StoreError(f"no object {object_id!r} in {self.root}")
        state = ocfl.state_of(inv, version)
        if logical_path not in state:
            raise StoreError(f"object {object_id!r} {version or inv['head']} has no {logical_path!r}")
        digest = state[logical_path]
        data: bytes = (self.object_path(object_id) / inv["manifest"][digest][0]).read_bytes()
        if ocfl.sha512_bytes(data) != digest:
            raise FixityError(f"{object_id}: {logical_path!r} fails its sha512 check: run `archiver verify`")
        return data

    def objects(self) -> Iterator[str]:
        """The ids of all objects, in storage-path order."""
        for obj in ocfl.object_roots(self.root):
            inv = self._read_json(obj / ocfl.INVENTORY)
            if not isinstance(inv, dict) or not isinstance(inv.get("id"), str):
                raise StoreError(f"{obj}: unreadable inventory.json: run `archiver verify`")
            yield inv["id"]

    def _inventory(self, object_id: str) -> ocfl.Inventory | None:
        """The object's committed inventory (None if absent); FixityError if it cannot be trusted."""
        obj = self.object_path(object_id)
        if not (obj / ocfl.INVENTORY).is_file():
            return None
        inv, _stale = self._load(obj)
        return inv

    def _load(self, obj: Path) -> tuple[ocfl.Inventory, bool]:
        """(inventory, root sidecar is stale from an interrupted commit) for an object root."""
        raw = (obj / ocfl.INVENTORY).read_bytes()
        digest = ocfl.sha512_bytes(raw)
        try:
            inv = json.loads(raw)
        except ValueError as exc:
            raise FixityError(f"{obj}: inventory.json is not JSON; {DAMAGED}") from exc
        in_sidecar = ocfl.sidecar_digest(obj / ocfl.SIDECAR)
        if in_sidecar == digest:
            return inv, False
        head = str(inv.get("head", "")) if isinstance(inv, dict) else ""
        number = ocfl.version_number(head) or 0
        # Stale only as an interrupted commit leaves it: the new head's own sidecar vouches for
        # inventory.json, and the root sidecar is still an earlier version's. Anything else
        # (a damaged or deleted root sidecar) is damage.
        if (
            number
            and ocfl.sidecar_digest(obj / head / ocfl.SIDECAR) == digest
            and in_sidecar is not None
            and any(ocfl.sidecar_digest(obj / f"v{n}" / ocfl.SIDECAR) == in_sidecar for n in range(1, number))
        ):
            return inv, True
        if not (obj / ocfl.SIDECAR).exists():
            raise FixityError(f"{obj}: {ocfl.SIDECAR} is missing; {DAMAGED}")
        raise FixityError(f"{obj}: inventory.json does not match its sidecar; {DAMAGED}")

    @staticmethod
    def _read_json(path: Path) -> object:
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None

    # ---- writing -----------------------------------------------------------------------

    def batch(self) -> Batch:
        """Open a group commit: ``store()`` only stages until ``commit()`` (or the ``with`` block
        ends), or until ``hand_over()`` gives the staged versions to ``land`` (``_vault_batch``).
        Raises ``StoreError`` when this vault already has an open batch.
        """
        if self._batch is not None and self._batch.open:
            raise StoreError("a vault batch is already open: commit or discard it first")
        self._clear_staging_once()
        self._batch = Batch(self.root)
        return self._batch

    def writer(self) -> Writer | None:
        """Who writes this vault from this process (kernel, file system): a process with the same
        may hand its batches to this one to land (``_vault_batch``). None where unknown."""
        return vault_batch.writer_of(self.root)

    def land(self, batches: Sequence[Staged]) -> None:
        """Put in place the versions of batches handed over (``Batch.hand_over``), by this or any
        process on this vault's file system: one barrier, their renames, one barrier.

        Raises ``StoreError`` for a batch staged in another storage root (nothing is renamed).
        """
        staging = self.root / STAGING
        strays = [str(staged.dir) for staged in batches if not _same_folder(staged.dir.parent, staging)]
        if strays:
            raise StoreError(f"{', '.join(strays)}: staged outside {staging}; workers must use this vault")
        vault_batch.land(self.root, batches)

    def store(
        self,
        object_id: str,
        files: Mapping[str, bytes],
        message: str,
        created: datetime | None = None,
        *,
        user: str = "archiver",
    ) -> StoredVersion:
        """Write ``files`` (logical path → bytes; the whole new state) as the object's next version.

        A no-op (``created=False``) when every logical path other than ``provenance.json`` has
        the same digest as in the head and no path was added or removed: provenance carries
        timestamps, so a re-run alone does not make a version. Inside a batch the head may be a
        version staged earlier in it, and the returned version exists once the batch commits.
        """
        for path in files:
            ocfl.check_logical_path(path)
        ocfl.check_no_file_dir_clash(files)
        digests = {p: ocfl.sha512_bytes(b) for p, b in files.items()}
        obj = self.object_path(object_id)
        self._clear_staging_once()
        batch = self._batch if self._batch is not None and self._batch.open else None
        inv = (batch.inventory(object_id) if batch else None) or self._recover(obj)
        if inv is not None and ocfl.significant_state(ocfl.state_of(inv)) == ocfl.significant_state(digests):
            return StoredVersion(object_id, inv["head"], False, obj, ocfl.logical_to_content(inv))
        new_inv, new_content = ocfl.add_version(
            inv or ocfl.new_inventory(object_id), digests, ocfl.rfc3339(created), message, user
        )
        if batch:
            batch.stage(object_id, obj, new_inv, {c: files[p] for c, p in new_content.items()})
            return StoredVersion(object_id, new_inv["head"], True, obj, ocfl.logical_to_content(new_inv))
        vault_batch.write_alone(self.root, obj, new_inv, {c: files[p] for c, p in new_content.items()})
        return StoredVersion(object_id, new_inv["head"], True, obj, ocfl.logical_to_content(new_inv))

    # ---- recovery and verification -----------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or undo every interrupted write; returns what was done, one line each."""
        done = [f"removed staging {p.name}" for p in self._staging_dirs()]
        self._clear_staging()
        objects, _strays, empty = ocfl.storage_walk(self.root)
        for obj in objects:
            done += self._recover_report(obj)
            self._recover(obj)
        return done + self._remove_empty(empty)

    def remove_empty_folders(self) -> list[str]:
        """Remove the empty layout folders a hard crash left (between making a new object's
        parents and renaming it in); never a folder that holds anything. One line each."""
        return self._remove_empty(ocfl.storage_walk(self.root)[2])

    def _remove_empty(self, empty: list[Path]) -> list[str]:
        done = []
        for folder in empty:
            while folder != self.root and not any(folder.iterdir()):
                folder.rmdir()
                done.append(f"removed empty folder {folder.relative_to(self.root)}")
                folder = folder.parent
        return done

    def _recover(self, obj: Path) -> ocfl.Inventory | None:
        """Complete a stale root sidecar and delete orphan version dirs; the committed inventory."""
        if not obj.exists():
            return None
        if not (obj / ocfl.OBJECT_NAMASTE).is_file():
            raise StoreError(f"{obj} exists but is not an OCFL object: move it out of the vault")
        inv, stale = self._load(obj)
        if stale:
            vault_batch.rewrite_sidecar(self.root, obj)
        for orphan in self._orphan_versions(obj, inv):
            shutil.rmtree(orphan)
        return inv

    def _recover_report(self, obj: Path) -> list[str]:
        """``orphan:`` lines for an object's interrupted-commit leftovers (nothing changed)."""
        inv, stale = self._load(obj)
        lines = [
            f"{WARNING_PREFIX} {inv['id']}: {p.name}/ is not in inventory.json (interrupted store)"
            for p in self._orphan_versions(obj, inv)
        ]
        if stale:
            lines.append(
                f"{WARNING_PREFIX} {inv['id']}: inventory.json.sha512 predates {inv['head']} "
                "(interrupted store; the version's own sidecar vouches for inventory.json)"
            )
        return lines

    @staticmethod
    def _orphan_versions(obj: Path, inv: ocfl.Inventory) -> list[Path]:
        return [
            p
            for p in sorted(obj.iterdir())
            if p.is_dir() and ocfl.version_number(p.name) and p.name not in inv["versions"]
        ]

    def _staging_dirs(self) -> list[Path]:
        """Staging directories left by interrupted writes (never the open batch's own)."""
        base = self.root / STAGING
        mine = self._batch.dir if self._batch is not None and self._batch.open else None
        return sorted(p for p in base.iterdir() if p != mine) if base.is_dir() else []

    def _clear_staging(self) -> None:
        # One writer is assumed, so anything in staging is left by a crashed store.
        for p in self._staging_dirs():
            shutil.rmtree(p, ignore_errors=True)
        self._staging_cleared = True

    def clear_staging(self) -> None:
        """Remove what interrupted writers left in the staging area (no writer may be active)."""
        self._clear_staging()

    def _clear_staging_once(self) -> None:
        # A store removes its own staging even when it fails, so only the leftovers of another
        # (crashed) process can be there: one directory scan per Vault is enough.
        if not self._staging_cleared:
            self._clear_staging()

    def verify(self, full: bool = False) -> list[str]:
        """Fixity check; one line per problem, ``[]`` when all is well (see ``check``)."""
        return self.check(full).lines

    def check(self, full: bool = False, tick: Tick | None = None) -> VaultCheck:
        """Fixity and structure check of the whole storage root.

        Quick: the storage root declaration, nothing in the root that is neither layout nor
        object, each object's declaration, no stray entry in an object root or version folder,
        inventory shape, inventory vs sidecar and vs the head version's copy, every manifest
        content path present, no unlisted content file. Full: also every content file's sha512
        and every version inventory's sidecar. Lines starting with ``orphan:`` (see
        ``is_warning``) are interrupted writes, not damage. ``tick(done, total)`` follows the objects.
        """
        lines = [] if (self.root / ocfl.ROOT_NAMASTE).is_file() else [f"storage root: no {ocfl.ROOT_NAMASTE}"]
        lines += [
            f"{WARNING_PREFIX} staging {p.name} left by an interrupted store" for p in self._staging_dirs()
        ]
        objects, strays, empty = ocfl.storage_walk(self.root)
        lines += strays + ocfl.extension_problems(self.root)
        lines += [
            f"{WARNING_PREFIX} empty folder {p.relative_to(self.root)} left by an interrupted store"
            for p in empty
        ]
        inventories: dict[str, ocfl.Inventory] = {}
        for done, obj in enumerate(objects, 1):
            lines += self._verify_object(obj, full, inventories)
            if tick is not None:
                tick(done, len(objects))
        return VaultCheck(lines, inventories)

    def _verify_object(self, obj: Path, full: bool, found: dict[str, ocfl.Inventory]) -> list[str]:
        name = str(obj.relative_to(self.root))
        try:
            inv, _stale = self._load(obj)
        except (OSError, FixityError) as exc:
            return [f"{name}: {str(exc).removeprefix(f'{obj}: ')}"]
        shape = ocfl.shape_problems(inv)
        if shape:
            return [f"{name}: {p}" for p in shape]
        label = inv["id"]
        found[label] = inv
        lines = [] if self.object_path(label) == obj else [f"{label}: at {name}, off its layout path"]
        namaste = (obj / ocfl.OBJECT_NAMASTE).read_text(encoding="utf-8", errors="replace")
        if namaste != ocfl.OBJECT_NAMASTE_TEXT:
            lines.append(f"{label}: {ocfl.OBJECT_NAMASTE} has the wrong content")
        head_copy = obj / inv["head"] / ocfl.INVENTORY
        if head_copy.is_file() and head_copy.read_bytes() != (obj / ocfl.INVENTORY).read_bytes():
            lines.append(f"{label}: inventory.json differs from {inv['head']}/inventory.json; {DAMAGED}")
        lines += ocfl.stray_entries(obj, inv)
        lines += self._recover_report(obj)
        if full:
            lines += ocfl.version_inventory_problems(obj, inv)
        return lines + ocfl.content_problems(obj, inv, full)


def _same_folder(one: Path, other: Path) -> bool:
    """Whether two paths name one folder here (a worker may spell the vault's path its own way)."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False
