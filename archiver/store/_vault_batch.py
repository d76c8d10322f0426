"""How ``vault.Vault`` puts versions on disk: the lone store, and the group commit (batch).

A lone ``store()`` (``write_alone``) follows the protocol in ``vault``'s docstring and fsyncs
every file and directory of each new version (~17 fsyncs an object). Inside
``with vault.batch():`` a store only *stages*: it writes the version exactly as a lone store
would, under ``<root>/extensions/archiver-staging/batch-<uuid>/<n>/``, but without any fsync,
and returns the ``StoredVersion`` it will become. Leaving the block without an exception
commits the batch:

1. the root inventories (and, for a new object, its declaration) are written into the stage;
2. **barrier 1**: ``syncfs(2)`` on the storage root's file system (``sync(2)`` where libc has
   no ``syncfs``) makes every staged byte and directory entry durable;
3. each object is renamed into place in the order a lone store uses: a new object's root in
   one rename; for an existing object its staged ``vN`` directories, then ``inventory.json``,
   then ``inventory.json.sha512``;
4. **barrier 2** makes the renames durable, so the caller may then commit its database
   transaction knowing the files it indexes are on disk.

A batch may instead be handed over after step 1 (``Batch.hand_over``): it is closed, nothing
renamed, and the ``Staged`` record it returns (paths only) goes to whoever lands it, which
makes steps 2–4 (``land``, ``Vault.land``) for any number of handed-over batches at once. A
run's coordinator lands in this way, once for each of its batches, every group commit its
workers staged through the same kernel into the same file system (the same ``Writer``):
``syncfs`` flushes the file system's dirty pages in that kernel, whichever process wrote them,
and each worker's writes were done before its task returned the record. A worker elsewhere (a
Dask worker on another machine) commits its batch itself.

An exception inside the block (or in steps 1–2) discards the stage: nothing is renamed.

Why this is as crash-safe as the per-file fsyncs: no rename happens before barrier 1, so no
staged data becomes visible before it is durable: a rename can only ever expose complete,
durable versions. Each object's own renames keep the lone-store order, and nothing else ever
points at a version. A crash or failure anywhere in step 3 therefore leaves every object either
at its old head (no rename, or only orphan ``vN`` directories landed) or at its new one (the
root inventory landed; at worst its sidecar is stale, vouched for by ``vN/inventory.json.sha512``),
which is exactly the set of states ``Vault.recover()`` and the ``orphan:`` warnings of
``verify()`` already handle. Between the barriers the renames rely on the file system keeping
metadata operations in order (a journal does: ext4, xfs, btrfs); a lone store does not need
that, because it fsyncs the object directory between its renames. Leftover batch staging (a
crash before step 3, or a handed-over batch never landed) is removed by the next ``Vault``'s
first store or by ``recover()``; nothing refers to it.

Two stores to the same object in one batch stack: the second stages ``vN+1`` on top of the
first's pending inventory (no-op checks see it too), and both land in the same commit.
Reads (``read``, ``head``, ``versions``) see committed state only until the commit.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from archiver.errors import StoreError
from archiver.store import ocfl


def _load_syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs`` (Linux ≥ 2.6.39; Python has no wrapper), or None where there is none."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()


def barrier(root: Path) -> None:
    """Make everything written so far on ``root``'s file system durable (one flush, not one per file).

    Raises ``StoreError`` when the kernel reports a write-back error (syncfs does since Linux 5.8).
    """
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            err = ctypes.get_errno()
            raise StoreError(f"{root}: syncfs failed ({os.strerror(err)}): check the disk; nothing was filed")
    finally:
        os.close(fd)


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: random at each boot, one per kernel


@dataclass(frozen=True)
class Writer:
    """Where a process writes a storage root: the running kernel (its boot id) and the root's
    device and inode. Two processes with the same ``Writer`` write through one kernel's page
    cache into one file system, so one's ``barrier`` makes the other's finished writes durable."""

    boot_id: str
    device: int
    inode: int


def writer_of(root: Path) -> Writer | None:
    """This process's ``Writer`` for the storage root at ``root``; None where it cannot be known."""
    try:
        boot_id = BOOT_ID.read_text(encoding="ascii").strip()
        found = os.stat(root)
    except (OSError, UnicodeDecodeError):
        return None
    return Writer(boot_id, found.st_dev, found.st_ino) if boot_id else None


def write_alone(root: Path, obj: Path, inv: ocfl.Inventory, content: Mapping[str, bytes]) -> None:
    """A lone store: stage ``inv``'s head version fsynced, rename it into ``obj``, fsync the names.

    ``content``: content path → bytes of the version's new content. A new object (head ``v1``)
    is renamed in whole; otherwise ``vN``, then the inventory, then its sidecar.
    """
    stage = root / ocfl.STAGING / uuid.uuid4().hex
    sroot = stage / "object"
    try:
        serialised = stage_version(sroot, inv, content, sync=True)
        if inv["head"] == "v1":
            write_inventory(sroot, serialised, sync=True)
            ocfl.write_synced(sroot / ocfl.OBJECT_NAMASTE, ocfl.OBJECT_NAMASTE_TEXT.encode())
        ocfl.fsync_tree(sroot)
        if inv["head"] == "v1":
            _commit_new(root, sroot, obj)
        else:
            _commit_version(stage, obj, inv["head"], serialised)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit_new(root: Path, staged: Path, obj: Path) -> None:
    """Rename a fully staged object root into the layout (one atomic rename), fsync the parents."""
    _make_parents(root, obj)
    _rename_new(root, staged, obj)
    for d in (obj.parent, obj.parent.parent, obj.parent.parent.parent, root):
        ocfl.fsync_dir(d)


def _commit_version(stage: Path, obj: Path, head: str, serialised: Serialised) -> None:
    """Rename the staged ``vN`` into the object, then the inventory, then its sidecar (fsynced)."""
    os.replace(stage / "object" / head, obj / head)
    ocfl.fsync_dir(obj)
    ocfl.write_synced(stage / ocfl.INVENTORY, serialised.inventory)
    os.replace(stage / ocfl.INVENTORY, obj / ocfl.INVENTORY)
    _replace_sidecar(stage, obj, serialised.digest)


def rewrite_sidecar(root: Path, obj: Path) -> None:
    """Replace the object's root sidecar with one for its current ``inventory.json`` (fsynced)."""
    stage = root / ocfl.STAGING / uuid.uuid4().hex
    try:
        _replace_sidecar(stage, obj, ocfl.sha512_bytes((obj / ocfl.INVENTORY).read_bytes()))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _replace_sidecar(stage: Path, obj: Path, digest: str) -> None:
    stage.mkdir(parents=True, exist_ok=True)
    ocfl.write_synced(stage / ocfl.SIDECAR, ocfl.sidecar_bytes(digest))
    os.replace(stage / ocfl.SIDECAR, obj / ocfl.SIDECAR)
    ocfl.fsync_dir(obj)


@dataclass(frozen=True)
class Serialised:
    """An inventory as written (``ocfl.inventory_bytes``) and its sha512: a version's own copy
    and the object root's are the same bytes, serialised once."""

    inventory: bytes
    digest: str

    @classmethod
    def of(cls, inv: ocfl.Inventory) -> Serialised:
        data = ocfl.inventory_bytes(inv)
        return cls(data, ocfl.sha512_bytes(data))


def stage_version(
    sroot: Path, inv: ocfl.Inventory, content: Mapping[str, bytes], *, sync: bool
) -> Serialised:
    """Write the head version of ``inv`` under the staged object root ``sroot``.

    ``content``: content path (relative to the object root) → bytes of this version's new content.
    Writes those files and ``vN/inventory.json`` + sidecar; fsyncs each file when ``sync``.
    Returns the inventory as written, for the object root's copy.
    """
    sroot.mkdir(parents=True, exist_ok=True)
    base = os.fspath(sroot)  # paths joined as strings: a pathlib join parses the parts again
    os.mkdir(f"{base}/{inv['head']}")  # a version directory is always new: an existing one is an error
    made: set[str] = set()
    for cpath, data in content.items():  # "vN/content/…/name": each directory below vN once
        parts = cpath.split("/")[:-1]
        for depth in range(2, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in made:
                os.mkdir(f"{base}/{directory}")
                made.add(directory)
        ocfl.write_new(f"{base}/{cpath}", data, sync=sync)
    serialised = Serialised.of(inv)
    write_inventory(f"{base}/{inv['head']}", serialised, sync=sync)
    return serialised


def write_inventory(directory: str | Path, serialised: Serialised, *, sync: bool) -> None:
    """Write ``inventory.json`` and its sidecar into ``directory`` (both must not exist yet)."""
    folder = os.fspath(directory)
    ocfl.write_new(f"{folder}/{ocfl.INVENTORY}", serialised.inventory, sync=sync)
    ocfl.write_new(f"{folder}/{ocfl.SIDECAR}", ocfl.sidecar_bytes(serialised.digest), sync=sync)


@dataclass(frozen=True)
class Landing:
    """One object's staged versions, as ``land`` renames them into place."""

    obj: Path  # where the object root is (or will be)
    stage: Path  # this object's staging dir
    new_object: bool  # True: the whole object root is renamed in; False: only its new vN dirs
    versions: tuple[str, ...]

    @property
    def sroot(self) -> Path:
        """The staged object root. A new object's is the staging dir itself, renamed into the
        layout in whole: no directory is left behind to remove. An existing object's versions
        are staged under ``object/``, beside the root inventory that lands after them."""
        return self.stage if self.new_object else self.stage / "object"


@dataclass(frozen=True)
class Staged:
    """A batch handed over (``Batch.hand_over``): its stage and what ``land`` renames from it.
    Paths only, so that it is small to send from a worker to the coordinator."""

    dir: Path
    objects: tuple[Landing, ...]


@dataclass
class _Pending:
    """One object's staged, not yet committed versions."""

    obj: Path
    stage: Path
    inv: ocfl.Inventory  # the inventory after the last staged version
    new_object: bool
    versions: list[str] = field(default_factory=list)
    serialised: Serialised | None = None  # ``inv`` as its version's folder holds it

    @property
    def landing(self) -> Landing:
        return Landing(self.obj, self.stage, self.new_object, tuple(self.versions))


class Batch:
    """A group commit opened by ``Vault.batch()``; use as a context manager or call ``commit()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ocfl.STAGING / f"batch-{uuid.uuid4().hex}"
        self.open = True
        self._pending: dict[str, _Pending] = {}
        self._serial = itertools.count()  # stage dir names, never reused even after a failed stage

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.open:
            return
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def inventory(self, object_id: str) -> ocfl.Inventory | None:
        """The object's pending inventory when this batch has staged a version of it, else None."""
        pending = self._pending.get(object_id)
        return pending.inv if pending else None

    def stage(self, object_id: str, obj: Path, inv: ocfl.Inventory, content: Mapping[str, bytes]) -> None:
        """Stage ``inv``'s head version (new content: content path → bytes) of the object at ``obj``.

        ``inv`` must extend the pending inventory when there is one, else the committed one (a
        new object when ``inv`` has only ``v1``).
        """
        if not self.open:
            raise StoreError("this vault batch is already committed or discarded: open a new one")
        pending = self._pending.get(object_id)
        if pending is None:
            stage = self.dir / str(next(self._serial))
            pending = _Pending(obj, stage, inv, new_object=inv["head"] == "v1")
        try:
            serialised = stage_version(pending.landing.sroot, inv, content, sync=False)
        except BaseException:
            # A half-written version must never be renamed in with the rest.
            shutil.rmtree(pending.landing.sroot / inv["head"], ignore_errors=True)
            raise
        pending.inv, pending.serialised = inv, serialised
        pending.versions.append(inv["head"])
        self._pending[object_id] = pending

    def discard(self) -> None:
        """Drop everything staged; nothing is renamed. Idempotent."""
        self.open = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def commit(self) -> None:
        """Barrier, rename every staged version into place, barrier (see the module docstring).

        On any failure the rest of the stage is dropped and the error propagates; the objects
        already renamed are complete, the others are at their old head (``recover()`` tidies).
        """
        land(self.root, [self.hand_over()])

    def hand_over(self) -> Staged:
        """Close the batch with every version staged in full but nothing renamed: step 1 of the
        module docstring. The caller lands it (``land``) or leaves it to the staging sweep."""
        if not self.open:
            raise StoreError("this vault batch is already committed or discarded: open a new one")
        self.open = False
        try:
            for pending in self._pending.values():
                self._finish_stage(pending)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return Staged(self.dir, tuple(pending.landing for pending in self._pending.values()))

    @staticmethod
    def _finish_stage(pending: _Pending) -> None:
        """Write the root inventory (and a new object's declaration) that the renames will expose."""
        # A new object's staged root is its stage (``Landing.sroot``); an existing object's root
        # inventory waits beside its staged versions.
        write_inventory(pending.stage, pending.serialised or Serialised.of(pending.inv), sync=False)
        if pending.new_object:
            ocfl.write_new(pending.stage / ocfl.OBJECT_NAMASTE, ocfl.OBJECT_NAMASTE_TEXT.encode(), sync=False)

    @staticmethod
    def _land(root: Path, landing: Landing) -> None:
        """The renames of one object, in the order a lone ``store()`` makes them."""
        if landing.new_object:
            _make_parents(root, landing.obj)
            _rename_new(root, landing.sroot, landing.obj)
            return
        for version in landing.versions:
            os.replace(landing.sroot / version, landing.obj / version)
        os.replace(landing.stage / ocfl.INVENTORY, landing.obj / ocfl.INVENTORY)
        os.replace(landing.stage / ocfl.SIDECAR, landing.obj / ocfl.SIDECAR)


def land(root: Path, batches: Sequence[Staged]) -> None:
    """Steps 2–4 of the module docstring for ``batches``, staged under ``root`` and handed over:
    barrier 1, every object's renames (batch by batch, each in its staging order), barrier 2.
    The stages are removed afterwards, landed or not (on a failure the error propagates; the
    objects already renamed are complete, the others at their old head)."""
    try:
        if any(staged.objects for staged in batches):
            barrier(root)
            for staged in batches:
                for landing in staged.objects:
                    Batch._land(root, landing)
            barrier(root)
    finally:
        for staged in batches:
            shutil.rmtree(staged.dir, ignore_errors=True)


def _rename_new(root: Path, staged: Path, obj: Path) -> None:
    """Rename a new object's root into place; when that fails, the layout folders made for it
    go again (an empty folder is an OCFL error, E073). Only a hard crash leaves them."""
    try:
        os.replace(staged, obj)
    except OSError:
        folder = obj.parent
        with contextlib.suppress(OSError):
            while folder != root:
                folder.rmdir()  # fails, and stops, at the first folder that holds anything
                folder = folder.parent
        raise


def _make_parents(root: Path, obj: Path) -> None:
    """Make the layout's directories between the storage root and a new object root, top-down:
    one ``mkdir`` a level. pathlib's ``mkdir(parents=True)`` starts from the deepest and climbs
    back down after each missing level, up to twice the calls in a young archive."""
    directory = root
    for part in obj.parent.relative_to(root).parts:
        directory = directory / part
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
