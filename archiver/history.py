"""``archiver runs``: what each run (and reindex, compact) did, read back from the database.

``runs`` is one row per run; ``show`` is one run's files: rejected (reason, detail), warned
(warning kinds), new documents, new versions, and the run's other events (path clashes,
restored objects and the like), each with its detail.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.errors import InputError
from archiver.store.db import EventRow, Run
from archiver.store.db import Submission as SubmissionRow

# Events a run writes for every submission it files: `show` lists those submissions already.
FILING_EVENTS = ("archived", "rejected")


def runs(session: Session) -> list[dict[str, Any]]:
    """One dict per run, oldest first: id, command, started, status, files, new, rejected, seconds."""
    return [_row(run) for run in session.scalars(select(Run).order_by(Run.id))]


def _row(run: Run) -> dict[str, Any]:
    summary = run.summary or {}
    rejected = summary.get("rejected")
    return {
        "run": run.id,
        "command": run.command,
        "started": _when(run.started),
        "status": run.status,
        "files": summary.get("files"),
        "new": summary.get("new"),
        "rejected": sum(rejected.values()) if isinstance(rejected, dict) else None,
        "seconds": _seconds(run),
    }


def _when(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(sep=" ", timespec="seconds")


def _seconds(run: Run) -> float | None:
    if run.finished is None or run.started is None:
        return None
    # verify writes its row when done: both times are taken then, ``finished`` first
    return max(round((run.finished - run.started).total_seconds(), 1), 0.0)


def show(session: Session, run_id: int) -> dict[str, Any]:
    """The run's row, then its files by what happened to them; InputError for an unknown run."""
    run = session.get(Run, run_id)
    if run is None:
        raise InputError(f"there is no run {run_id}; `archiver runs` lists them")
    rows = session.execute(
        select(
            SubmissionRow.relpath,
            SubmissionRow.status,
            SubmissionRow.reason,
            SubmissionRow.detail,
            SubmissionRow.version,
            SubmissionRow.report,
        )
        .where(SubmissionRow.run_id == run_id)
        .order_by(SubmissionRow.id)
    ).all()
    events = session.execute(
        select(EventRow.kind, EventRow.detail)
        .where(EventRow.run_id == run_id, EventRow.kind.not_in(FILING_EVENTS))
        .order_by(EventRow.id)
    ).all()
    other: dict[str, list[dict[str, Any]]] = {}
    for kind, detail in events:
        other.setdefault(kind, []).append(detail)
    return _row(run) | {
        "rejected": [
            {"file": r.relpath, "reason": r.reason, "detail": r.detail}
            for r in rows
            if r.status == "rejected"
        ],
        "warned": [
            {"file": r.relpath, "warnings": _warning_kinds(r.report)}
            for r in rows
            if _warning_kinds(r.report)
        ],
        "new": [r.relpath for r in rows if r.version == "v1"],
        "new_versions": [{"file": r.relpath, "version": r.version} for r in rows if r.version != "v1"],
        "events": other,
    }


def _warning_kinds(report: dict[str, Any] | None) -> dict[str, int]:
    if not report:
        return {}
    return dict(sorted(Counter(w["kind"] for w in report.get("warnings", [])).items()))


def table(rows: list[dict[str, Any]]) -> list[str]:
    """``runs`` as aligned text lines, a header first."""
    header = ("run", "started (UTC)", "command", "status", "files", "new", "rejected", "duration")
    cells = [
        (
            str(r["run"]),
            r["started"] or "",
            r["command"],
            r["status"],
            *("" if r[k] is None else str(r[k]) for k in ("files", "new", "rejected")),
            "" if r["seconds"] is None else f"{r['seconds']:.1f} s",
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    right = {0, 4, 5, 6, 7}  # numbers
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *cells]
    ]


def report(shown: dict[str, Any]) -> list[str]:
    """``show`` as text lines."""
    took = "" if shown["seconds"] is None else f", {shown['seconds']:.1f} s"
    lines = [
        f"run {shown['run']} ({shown['command']}): {shown['status']}, started {shown['started']} UTC{took}"
    ]
    lines.append(f"rejected ({len(shown['rejected'])}):")
    lines += [f"  {r['file']}: {r['reason']} ({r['detail']})" for r in shown["rejected"]]
    lines.append(f"warned ({len(shown['warned'])}):")
    lines += [
        f"  {w['file']}: " + ", ".join(f"{kind} ×{n}" for kind, n in w["warnings"].items())
        for w in shown["warned"]
    ]
    lines.append(f"new ({len(shown['new'])}):")
    lines += [f"  {path}" for path in shown["new"]]
    lines.append(f"new versions ({len(shown['new_versions'])}):")
    lines += [f"  {v['file']}: {v['version']}" for v in shown["new_versions"]]
    for kind, details in shown["events"].items():
        lines.append(f"{kind} ({len(details)}):")
        lines += ["  " + ", ".join(f"{k}: {v}" for k, v in detail.items()) for detail in details]
    return lines
