"""Pure OCFL 1.1 helpers for ``vault.py``: names, layout, paths, inventories, durable writes.

Everything here is a small function over plain values (object ids, logical paths, inventory
dicts as parsed from JSON) plus the write and fsync helpers; ``vault.Vault`` strings them together.

References: https://ocfl.io/1.1/spec/ and community extension
``0004-hashed-n-tuple-storage-layout`` (sha256 of the id, 3 tuples of 3 hex characters, then
the full digest as the object root directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring as _encode_string  # C's, as json.dumps uses it here
from pathlib import Path
from typing import Any

from archiver.errors import StoreError

ROOT_NAMASTE = "0=ocfl_1.1"
ROOT_NAMASTE_TEXT = "ocfl_1.1\n"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
OBJECT_NAMASTE_TEXT = "ocfl_object_1.1\n"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
CONTENT_DIR = "content"
LAYOUT_NAME = "0004-hashed-n-tuple-storage-layout"
LAYOUT_FILE = "ocfl_layout.json"
# Where writes are built before they are renamed into place (never part of any object).
STAGING = "extensions/archiver-staging"
LAYOUT_DOC = {
    "extension": LAYOUT_NAME,
    "description": "OCFL object identifiers are hashed (sha256) and encoded as lowercase hex strings; "
    "the digest is divided into 3 tuples of 3 characters that nest the object root, "
    "which is named by the whole digest.",
}
LAYOUT_CONFIG = {
    "extensionName": LAYOUT_NAME,
    "digestAlgorithm": "sha256",
    "tupleSize": 3,
    "numberOfTuples": 3,
    "shortObjectRoot": False,
}
# The version user's address (OCFL W008: a URI). The tool writes every version; no person signs.
USER_ADDRESS = "info:archiver"
# Content stored under a name that is not the logical path (see ``content_path``).
MAPPED_DIR = "mapped"
_VERSION_RE = re.compile(r"v([1-9][0-9]*)")
_CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
_MAX_SEGMENT_BYTES = 255  # NAME_MAX on ext4/xfs/btrfs
_MAX_CONTENT_PATH_BYTES = 1024  # leaves room under PATH_MAX for deep storage roots

Inventory = dict[str, Any]


def sha512_bytes(data: bytes) -> str:
    """Lowercase hex sha512 of ``data`` (the OCFL content digest)."""
    return hashlib.sha512(data).hexdigest()


def sha512_file(path: Path) -> str:
    """Lowercase hex sha512 of a file, read in 1 MiB blocks."""
    h = hashlib.sha512()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def object_relpath(object_id: str) -> str:
    """Object id → object root relative to the storage root (extension 0004, default config)."""
    check_object_id(object_id)
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{digest}"


def check_object_id(object_id: str) -> None:
    """Raise ``StoreError`` unless the id is a non-empty string that is valid UTF-8 text."""
    if not object_id:
        raise StoreError("object id is empty: give each document a non-empty id")
    try:
        object_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoreError(f"object id {object_id!r} is not valid Unicode text") from exc


def check_logical_path(path: str) -> None:
    """Raise ``StoreError`` for a logical path that could escape or is not OCFL-valid.

    Rejected: empty, absolute, NUL, ``.``/``..``/empty segments, text that is not valid
    Unicode (lone surrogates cannot be written to the UTF-8 inventory). The name is never
    normalised: what is received is what the inventory records.
    """
    problem = None
    if not path or path.startswith("/") or path.endswith("/"):
        problem = "is empty, absolute or ends in '/'"
    elif "\x00" in path:
        problem = "contains NUL"
    elif any(seg in ("", ".", "..") for seg in path.split("/")):
        problem = "has an empty, '.' or '..' segment"
    else:
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            problem = "is not valid Unicode text"
    if problem:
        raise StoreError(f"logical path {path!r} {problem}: refusing to store it")


def check_no_file_dir_clash(paths: Iterable[str]) -> None:
    """Raise ``StoreError`` if one logical path is a directory prefix of another (OCFL E095)."""
    names = set(paths)
    for p in names:
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in names:
                raise StoreError(f"logical path {p!r} is inside {'/'.join(parts[:i])!r}, which is a file")


def _needs_mapping(logical: str) -> bool:
    """True when a logical path is a poor file name: control chars, backslash, too long."""
    encoded = logical.encode("utf-8")
    return (
        bool(_CONTROL.search(logical))
        or len(encoded) > _MAX_CONTENT_PATH_BYTES
        or any(len(seg.encode("utf-8")) > _MAX_SEGMENT_BYTES for seg in logical.split("/"))
    )


def content_path(version: str, logical: str, digest: str, taken: set[str]) -> str:
    """Content path (relative to the object root) for new content of ``version``.

    Normally ``vN/content/<logical path>``, so the archive stays readable with ``ls``. When the
    name is a poor file name, or would clash with one already ``taken`` in this version on a
    case-insensitive or normalising file system, the bytes go to ``vN/content/mapped/<digest>``
    instead; the logical path in the state keeps the real name. ``taken`` is updated.
    """
    key = unicodedata.normalize("NFC", logical).casefold()
    if _needs_mapping(logical) or key in taken:
        chosen = f"{MAPPED_DIR}/{digest}"
        key = chosen
        if key in taken:  # a real logical path "mapped/<this digest>": pathological, refuse
            raise StoreError(f"content path clash for {logical!r} in {version}")
    else:
        chosen = logical
    taken.add(key)
    return f"{version}/{CONTENT_DIR}/{chosen}"


def version_number(name: str) -> int | None:
    """``"v3"`` → 3; anything that is not an unpadded OCFL version name → None."""
    m = _VERSION_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def rfc3339(when: datetime | None) -> str:
    """A timestamp for ``versions.vN.created``; ``None`` is now, naive datetimes are UTC."""
    when = when or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_inventory(object_id: str) -> Inventory:
    """The inventory of an object that has no version yet (never written as is)."""
    return {
        "id": object_id,
        "type": INVENTORY_TYPE,
        "digestAlgorithm": "sha512",
        "head": "v0",
        "contentDirectory": CONTENT_DIR,
        "manifest": {},
        "versions": {},
    }


def state_of(inv: Inventory, version: str | None = None) -> dict[str, str]:
    """Logical path → digest for ``version`` (default: head); unknown version → StoreError."""
    name = version or inv["head"]
    if name not in inv["versions"]:
        raise StoreError(f"object {inv['id']!r} has no version {name!r}")
    return {p: d for d, paths in inv["versions"][name]["state"].items() for p in paths}


def add_version(
    inv: Inventory, digests: Mapping[str, str], created: str, message: str, user: str
) -> tuple[Inventory, dict[str, str]]:
    """Return (the inventory with a new head version whose state is ``digests``, new content).

    ``digests``: logical path → sha512. New content maps content path → the logical path whose
    bytes go there; a digest already in the manifest (or twice in this version) is stored once.
    """
    version = f"v{(version_number(inv['head']) or 0) + 1}"
    manifest = {d: list(ps) for d, ps in inv["manifest"].items()}
    state: dict[str, list[str]] = {}
    new: dict[str, str] = {}
    taken: set[str] = set()
    for logical in sorted(digests):
        digest = digests[logical]
        state.setdefault(digest, []).append(logical)
        if digest not in manifest:
            cpath = content_path(version, logical, digest, taken)
            manifest[digest] = [cpath]
            new[cpath] = logical
    versions = dict(inv["versions"])
    versions[version] = {
        "created": created,
        "message": message,
        "user": {"name": user, "address": USER_ADDRESS},
        "state": state,
    }
    return {**inv, "head": version, "manifest": manifest, "versions": versions}, new


def logical_to_content(inv: Inventory, version: str | None = None) -> dict[str, str]:
    """Logical path → content path (first manifest entry) for ``version`` (default: head)."""
    return {p: inv["manifest"][d][0] for p, d in state_of(inv, version).items()}


def inventory_bytes(inv: Inventory) -> bytes:
    """Serialise an inventory: UTF-8 (names stay readable), sorted keys, stable across runs.

    The bytes of ``json.dumps(inv, ensure_ascii=False, indent=2, sort_keys=True)``: with an
    indent the json module encodes in Python, not C, at about twice this one's cost, and every
    stored version writes an inventory twice. A value it does not expect gets ``json.dumps``.
    """
    try:
        text = _indented(inv, "")
    except TypeError:
        text = json.dumps(inv, ensure_ascii=False, indent=2, sort_keys=True)
    return (text + "\n").encode("utf-8")


def _indented(value: Any, pad: str) -> str:
    """``value`` as ``json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)`` writes it
    at indentation ``pad``; TypeError for anything but str-keyed dicts, lists, str, int, bool, None."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    inner = pad + "  "
    if kind is dict:
        if not value:
            return "{}"
        items = sorted(value.items())
        if any(type(k) is not str for k, _v in items):
            raise TypeError("a key that is not a str")
        parts = [_encode_string(k) + ": " + _indented(v, inner) for k, v in items]
    elif kind is list:
        if not value:
            return "[]"
        parts = [_indented(v, inner) for v in value]
    elif value is None or kind is bool:
        return "null" if value is None else "true" if value else "false"
    elif kind is int:
        return int.__repr__(value)
    else:
        raise TypeError(f"{kind.__name__} is not written here")
    opening, closing = ("{", "}") if kind is dict else ("[", "]")
    return opening + "\n" + inner + (",\n" + inner).join(parts) + "\n" + pad + closing


def sidecar_bytes(inventory_digest: str) -> bytes:
    """The ``inventory.json.sha512`` line: ``<digest> inventory.json``."""
    return f"{inventory_digest} {INVENTORY}\n".encode("ascii")


def sidecar_digest(path: Path) -> str | None:
    """The digest written in a sidecar file, or None when it is missing or malformed."""
    try:
        parts = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return parts[0].lower() if len(parts) == 2 and parts[1] == INVENTORY else None


def shape_problems(inv: Any) -> list[str]:
    """What makes a parsed inventory not OCFL 1.1-shaped (as this store writes them); [] = fine."""
    if not isinstance(inv, dict):
        return ["inventory is not a JSON object"]
    required = ("id", "type", "digestAlgorithm", "head", "manifest", "versions")
    probs = [f"inventory lacks {k!r}" for k in required if k not in inv]
    if probs:
        return probs
    if not isinstance(inv["id"], str) or not inv["id"]:
        probs.append("inventory id is not a non-empty string")
    if inv["type"] != INVENTORY_TYPE:
        probs.append(f"inventory type is {inv['type']!r}, not {INVENTORY_TYPE!r}")
    if inv["digestAlgorithm"] != "sha512":
        probs.append(f"digestAlgorithm is {inv['digestAlgorithm']!r}, not 'sha512'")
    names = sorted(inv["versions"], key=lambda v: version_number(v) or 0)
    if names != [f"v{i}" for i in range(1, len(names) + 1)] or not names or inv["head"] != names[-1]:
        probs.append(f"versions {names} / head {inv['head']!r} are not v1..vN with head = vN")
    used: set[str] = set()
    for name in names:
        v = inv["versions"][name]
        if not isinstance(v, dict) or not isinstance(v.get("state", {}), dict):
            probs.append(f"{name} or its state is not a JSON object")
            continue
        probs += [f"{name} lacks {k!r}" for k in ("created", "state") if k not in v]
        if "created" in v and not (isinstance(v["created"], str) and _CREATED.fullmatch(v["created"])):
            probs.append(f"{name} created {v['created']!r} is not RFC 3339 to the second, with a zone (E049)")
        probs += [
            f"{name} state digest {d[:16]}… is not in the manifest"
            for d in v.get("state", {})
            if d not in inv["manifest"]
        ]
        used |= set(v.get("state", {}))
        logical = [p for paths in v.get("state", {}).values() for p in paths]
        if len(set(logical)) != len(logical):
            probs.append(f"{name} state lists a logical path twice (OCFL E095)")
        for path in logical:
            try:
                check_logical_path(path)
            except StoreError:
                probs.append(f"{name} state: logical path {path!r} is not valid (OCFL E053)")
        try:
            check_no_file_dir_clash(logical)
        except StoreError as exc:
            probs.append(f"{name} state: {exc} (OCFL E095)")
    probs += [
        f"manifest digest {d[:16]}… is in no version's state (OCFL E107)"
        for d in inv["manifest"]
        if d not in used
    ]
    content = Counter(c for paths in inv["manifest"].values() for c in paths)
    probs += [f"manifest lists content {c} more than once (OCFL E101)" for c, n in content.items() if n > 1]
    return probs


def _states(inv: Inventory, up_to: int | None = None) -> dict[str, dict[str, str]]:
    """Version → logical path → digest (lower case), of the versions up to ``up_to``."""
    return {
        name: {p: d.lower() for d, paths in v["state"].items() for p in paths}
        for name, v in inv["versions"].items()
        if up_to is None or (version_number(name) or 0) <= up_to
    }


def _content(inv: Inventory, up_to: int | None = None) -> dict[str, str]:
    """Content path → digest (lower case), of the content written by the versions up to ``up_to``."""
    return {
        c: d.lower()
        for d, paths in inv["manifest"].items()
        for c in paths
        if up_to is None or (version_number(c.split("/", 1)[0]) or 0) <= up_to
    }


def version_inventory_problems(obj: Path, inv: Inventory) -> list[str]:
    """Each version folder's copy of the inventory against the root's: the same object at that
    version (id, head, type; the state of each version up to it; every content path written
    by then, with its digest). This store writes them alike, so a copy that differs is damage,
    or an edit of the root inventory made with its sidecar. Messages, users and dates may
    differ (OCFL W011). (OCFL E023, E037, E040, E066, E103.)"""
    label, lines = inv["id"], []
    for name in inv["versions"]:
        path = obj / name / INVENTORY
        if not path.is_file():
            continue  # the walk names a missing version folder; a missing copy is not fatal
        try:
            copy = json.loads(path.read_bytes())
        except ValueError:
            lines.append(f"{label}: {name}/inventory.json is not JSON")
            continue
        shape = shape_problems(copy)
        if shape:
            lines += [f"{label}: {name}/inventory.json: {p}" for p in shape]
            continue
        number = version_number(name) or 0
        wrong = [
            what
            for what, differs in (
                ("id", copy["id"] != inv["id"]),
                ("head", copy["head"] != name),
                ("states", _states(copy) != _states(inv, number)),
                ("manifest", _content(copy) != _content(inv, number)),
            )
            if differs
        ]
        if wrong:
            lines.append(f"{label}: {name}/inventory.json differs from the root's: {', '.join(wrong)}")
    return lines


def significant_state(state: Mapping[str, str]) -> dict[str, str]:
    """The part of a state that decides whether a store makes a new version: all but provenance."""
    return {p: d for p, d in state.items() if p != "provenance.json"}


_TUPLE = re.compile(r"[0-9a-f]{3}")
_ROOT_DIGEST = re.compile(r"[0-9a-f]{64}")
_ROOT_ENTRIES = {ROOT_NAMASTE: False, LAYOUT_FILE: False, "extensions": True}  # name: is a folder
_OBJECT_ENTRIES = {OBJECT_NAMASTE: False, INVENTORY: False, SIDECAR: False, "extensions": True, "logs": True}


def storage_walk(root: Path) -> tuple[list[Path], list[str], list[Path]]:
    """(object roots, problems, empty tuple folders) of a storage root laid out by extension
    0004 (3 tuples of 3).

    A problem is anything else: a file or folder that is neither the root's own files, a tuple
    folder nor an object root, and an object root without its declaration (OCFL E003, or the
    declaration deleted). An empty tuple folder (OCFL E073) is what a crash between making a new
    object's parents and renaming it in leaves: not damage, and ``Vault.recover`` removes it.
    """
    objects: list[Path] = []
    problems: list[str] = []
    empty: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
        if depth and not entries:
            empty.append(folder)
        for entry in entries:
            path, is_dir = Path(entry.path), entry.is_dir(follow_symlinks=False)
            name = path.relative_to(root).as_posix()
            if depth == 0 and entry.name in _ROOT_ENTRIES:
                if _ROOT_ENTRIES[entry.name] != is_dir:
                    problems.append(f"storage root: {name} is a {'file' if not is_dir else 'folder'}")
                continue
            if not is_dir:
                problems.append(f"storage root: stray file {name} (not part of any object)")
            elif depth < 3 and _TUPLE.fullmatch(entry.name):
                walk(path, depth + 1)
            elif depth == 3 and _ROOT_DIGEST.fullmatch(entry.name):
                if (path / OBJECT_NAMASTE).is_file():
                    objects.append(path)
                else:
                    problems.append(f"{name}: no {OBJECT_NAMASTE}: not a valid OCFL object")
            else:
                problems.append(f"storage root: stray folder {name} (not part of the layout)")

    walk(root, 0)
    return objects, problems, empty


def extension_problems(root: Path) -> list[str]:
    """Files directly in the storage root's ``extensions`` folder (OCFL E086: only folders)."""
    top = root / "extensions"
    if not top.is_dir():
        return []
    return [f"storage root: extensions/{p.name} is a file" for p in sorted(top.iterdir()) if not p.is_dir()]


def stray_entries(obj: Path, inv: Inventory) -> list[str]:
    """Entries of an object root or of its versions that OCFL does not allow (E001, E015, E067).

    Version folders the inventory does not list are not counted here: they are an interrupted
    store's leftovers (``orphan:`` warnings)."""
    label, lines = inv["id"], []
    for entry in sorted(obj.iterdir()):
        wanted = _OBJECT_ENTRIES.get(entry.name)
        if wanted is None and version_number(entry.name) and entry.is_dir():
            continue
        if wanted is None or wanted != entry.is_dir():
            lines.append(f"{label}: {entry.name} does not belong in the object root (OCFL E001)")
    extensions = obj / "extensions"
    if extensions.is_dir():
        lines += [
            f"{label}: extensions/{p.name} is a file (OCFL E067: only folders)"
            for p in sorted(extensions.iterdir())
            if not p.is_dir()
        ]
    allowed = {INVENTORY: False, SIDECAR: False, inv.get("contentDirectory", CONTENT_DIR): True}
    for version in inv["versions"]:
        folder = obj / version
        if not folder.is_dir():
            lines.append(f"{label}: version folder {version}/ is missing")
            continue
        for entry in sorted(folder.iterdir()):
            if allowed.get(entry.name) != entry.is_dir():
                lines.append(
                    f"{label}: {version}/{entry.name} does not belong in a version folder (OCFL E015)"
                )
    return lines


def object_roots(root: Path) -> Iterator[Path]:
    """Every directory under a storage root holding an object declaration, in sorted order."""
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        if Path(dirpath) == root:
            dirs[:] = [d for d in dirs if d != "extensions"]
        if OBJECT_NAMASTE in files:
            dirs.clear()
            yield Path(dirpath)


def content_problems(obj: Path, inv: Inventory, full: bool) -> list[str]:
    """Manifest vs the files of an object: missing, unlisted, (full) wrong digest or stale sidecar."""
    label, lines = inv["id"], []
    listed = {c: d for d, cs in inv["manifest"].items() for c in cs}
    for cpath, digest in sorted(listed.items()):
        if not (obj / cpath).is_file():
            lines.append(f"{label}: content {cpath} is missing")
        elif full and sha512_file(obj / cpath) != digest.lower():  # OCFL digests may be any case
            lines.append(f"{label}: content {cpath} does not match its sha512")
    for vname in inv["versions"]:
        top = obj / vname / inv.get("contentDirectory", CONTENT_DIR)
        present = sorted(p.relative_to(obj).as_posix() for p in top.rglob("*") if p.is_file())
        lines += [f"{label}: content {c} is not in the manifest" for c in present if c not in listed]
        vinv = obj / vname / INVENTORY
        if full and vinv.is_file() and sidecar_digest(obj / vname / SIDECAR) != sha512_file(vinv):
            lines.append(f"{label}: {vname}/inventory.json does not match its sidecar")
    return lines


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and fsync it before returning."""
    write_new(path, data, sync=True)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_new(path: str | Path, data: bytes, *, sync: bool) -> None:
    """Write ``data`` to a new file (never over one); fsync it when ``sync`` (else a barrier will).

    Unbuffered, on the file descriptor: a buffered ``open`` adds an fstat, an ioctl and an lseek
    to each of the eight files an object version has.
    """
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a directory so the names created or renamed in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(top: Path) -> None:
    """fsync every directory under ``top`` (deepest first), then ``top`` itself."""
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        fsync_dir(Path(dirpath))
