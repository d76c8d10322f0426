"""``archiver config check``: is the effective configuration usable, found without writing.

A night's run would stop at the first of these problems; checking them all at once, before a
timer or a crontab line is installed, names every one to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from archiver.config import Config
from archiver.errors import StoreError
from archiver.store import db, ocfl


@dataclass(frozen=True)
class Check:
    what: str  # "inbox", "database", "vault"
    ok: bool
    detail: str


def check(config: Config) -> list[Check]:
    """One Check per inbox, one for the database, one for the vault."""
    checks = [_inbox(config.resolve(p)) for p in config.run.inbox]
    url = config.database_url
    sqlite_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if sqlite_file is not None and not sqlite_file.exists():
        checks.append(_creatable(sqlite_file, "database"))
    else:
        try:
            checks.append(Check("database", True, db.probe(url)))
        except StoreError as exc:
            checks.append(Check("database", False, str(exc)))
    checks.append(_vault(config.resolve(config.store.vault)))
    return checks


def _inbox(path: Path) -> Check:
    if path.is_dir():
        return Check("inbox", True, str(path))
    what = "is not a folder" if path.exists() else "does not exist"
    return Check("inbox", False, f"{path} {what}: create it or fix [run] inbox")


def _vault(root: Path) -> Check:
    if (root / ocfl.ROOT_NAMASTE).is_file():
        return Check("vault", True, f"an OCFL storage root at {root}")
    if root.is_dir() and any(p.name not in (ocfl.LAYOUT_FILE, "extensions") for p in root.iterdir()):
        return Check("vault", False, f"{root} holds files but is no OCFL storage root: fix [store] vault")
    if root.exists() and not root.is_dir():
        return Check("vault", False, f"{root} is a file: set [store] vault to a folder")
    return _creatable(root, "vault")


def _creatable(path: Path, what: str) -> Check:
    """Whether a run could create ``path``: its nearest existing folder must be writable."""
    parent = next(p for p in path.parents if p.exists()) if not path.exists() else path
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Check(what, True, f"not there yet: a run creates {path}")
    return Check(what, False, f"cannot create {path}: {parent} is not a writable folder; fix [store] {what}")
