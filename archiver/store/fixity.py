"""``archiver verify``: the vault's fixity and structure, cross-checked with the database.

The vault alone cannot tell that an object is gone: a deleted object folder, or a deleted
vault, leaves a valid storage root with fewer objects. The database records every version
filed and the sha512 of its original bytes, so each one must be in the vault with those
bytes, and every object in the vault must be one the database knows. Each check is recorded
as a PREMIS ``fixity check`` event, pass or fail.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.config import Config
from archiver.store import db, ocfl
from archiver.store.db import Document, EventRow, Run, Submission
from archiver.store.vault import WARNING_PREFIX, Tick, Vault, is_warning

EVENT = "fixity check"  # the PREMIS eventType
EXAMPLES = 20  # problems kept in the event's detail; the command prints them all


@dataclass(frozen=True)
class Verification:
    problems: list[str]
    warnings: list[str]  # interrupted writes (``orphan:``), not damage
    objects: int
    full: bool

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Filed:
    version: str
    sha512: str
    original: str  # the logical path of the original bytes in that version


def verify_archive(config: Config, full: bool, tick: Tick | None = None) -> Verification:
    """Check the vault and the database against each other; records a ``fixity check`` event.

    Raises ``StoreError`` when there is no archive at all (neither a vault nor a database)."""
    engine = db.open_engine(config.database_url, create=False)
    try:
        root = config.resolve(config.store.vault)
        filed = _filed(engine)
        if not (root / ocfl.ROOT_NAMASTE).is_file() and filed:
            result = Verification(
                [
                    f"the vault {root} is missing (no {ocfl.ROOT_NAMASTE}) but the database lists "
                    f"{len(filed)} documents: restore the vault from a backup, or put their files in the "
                    "inbox and run `archiver run`, which rebuilds what it can"
                ],
                [],
                0,
                full,
            )
        else:
            result = _cross_check(Vault(root, sweep_staging=False, create=False), filed, full, tick)
        _record(engine, result)
    finally:
        engine.dispose()
    return result


def _filed(engine: Engine) -> dict[str, list[_Filed]]:
    """Object id → every version the database filed for it, oldest first."""
    found: dict[str, list[_Filed]] = defaultdict(list)
    with Session(engine) as session:
        rows = session.execute(
            select(Document.object_id, Submission.version, Submission.sha512, Submission.relpath)
            .join(Submission, Submission.document_id == Document.id)
            .order_by(Document.object_id, Submission.id)
        )
        for object_id, version, sha512, relpath in rows:
            found[object_id].append(_Filed(version, sha512, f"original/{PurePosixPath(relpath).name}"))
    return found


def _cross_check(
    vault: Vault, filed: dict[str, list[_Filed]], full: bool, tick: Tick | None = None
) -> Verification:
    check = vault.check(full, tick)
    lines = list(check.lines)
    for object_id, versions in filed.items():
        inv = check.inventories.get(object_id)
        if inv is None:
            path = vault.object_path(object_id)
            where = path.relative_to(vault.root)
            if path.exists():  # the walk has said what is wrong with it
                lines.append(f"{object_id}: its object {where} cannot be read (see above)")
            else:
                lines.append(
                    f"{object_id}: object is missing from the vault ({where}), "
                    f"the database lists {', '.join(v.version for v in versions)}"
                )
            continue
        lines += _versions_match(object_id, inv, versions)
    lines += [
        f"{object_id}: object in the vault is not in the database: left by an interrupted run whose "
        "file has since left the inbox, or not this archive's; put the file back and run `archiver run`"
        for object_id in sorted(set(check.inventories) - set(filed))
    ]
    return Verification(
        [line for line in lines if not is_warning(line)],
        [line for line in lines if is_warning(line)],
        len(check.inventories),
        full,
    )


def _versions_match(object_id: str, inv: ocfl.Inventory, versions: list[_Filed]) -> list[str]:
    lines = []
    for filed in versions:
        if filed.version not in inv["versions"]:
            lines.append(
                f"{object_id}: {filed.version} is in the database, not in the object (head {inv['head']})"
            )
            continue
        digest = ocfl.state_of(inv, filed.version).get(filed.original)
        if digest != filed.sha512:
            held = f"sha512 {digest[:16]}…" if digest else "no such file"
            lines.append(
                f"{object_id}: {filed.version} {filed.original}: the inventory has {held}, "
                f"the database recorded {filed.sha512[:16]}…"
            )
    known = {v.version for v in versions}
    lines += [
        f"{WARNING_PREFIX} {object_id}: {name} is in the vault, not yet in the database "
        "(an interrupted run; the next run with the file in the inbox files it)"
        for name in inv["versions"]
        if name not in known
    ]
    return lines


def _record(engine: Engine, result: Verification) -> None:
    """One ``verify`` run row and its PREMIS ``fixity check`` event."""
    detail: dict[str, Any] = {
        "outcome": "pass" if result.ok else "fail",
        "mode": "full" if result.full else "quick",
        "objects": result.objects,
        "problems": len(result.problems),
        "warnings": len(result.warnings),
        "examples": result.problems[:EXAMPLES],
    }
    with Session(engine) as session, session.begin():
        run_row = Run(command="verify", tool_version=__version__, status="completed", finished=db.utcnow())
        run_row.summary = detail
        session.add(run_row)
        session.flush()
        session.add(EventRow(run_id=run_row.id, submission_id=None, kind=EVENT, detail=detail))
