"""Object versions in the vault, written where the submission was processed.

Each worker stores the submissions it processed as one group commit (``Vault.batch``: two
``syncfs`` barriers for the group instead of ~17 fsyncs per object), so the file store is
written on every core and the coordinator only indexes. A run's coordinator on the same file
system takes the commit's barriers and renames off the workers (``stage_all``): they stage, it
lands every chunk of a batch at once (``Vault.land``). The vault is written before the
database: if the run dies in between, the next run processes the file again, the vault answers
that identical content is already its head, and the rows are added then.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

from archiver import __version__
from archiver.config import Config
from archiver.records import Processed, Rejection, Stored
from archiver.stages import fingerprint
from archiver.stages.report import CHANGES_AFTER, changes_json, clerk_report
from archiver.store import filing
from archiver.store._vault_batch import Staged
from archiver.store.vault import Vault

_VAULTS: dict[Path, Vault] = {}  # one per worker process and storage root


def object_files(
    outcome: Processed | Rejection,
    config: Config,
    report: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The logical files of the object version for ``outcome``. ``report``: its clerk's report,
    with or without ``changes`` (``provenance.json`` holds them either way); ``parameters``: the
    stages' (``stage_parameters(config)``), when the caller has them."""
    submission = outcome.submission
    name = PurePosixPath(submission.relpath).name
    files = {f"original/{name}": submission.raw}
    provenance: dict[str, Any] = {
        "tool": "archiver",
        "tool_version": __version__,
        "received_as": submission.relpath,
        "sha512": submission.sha512,
        "bytes": len(submission.raw),
    }
    if isinstance(outcome, Rejection):
        provenance |= {"status": "rejected", "reason": outcome.reason, "detail": outcome.detail}
        provenance_json = _json(provenance)
    else:
        files[f"cleaned/{PurePosixPath(name).stem}.txt"] = outcome.text.encode("utf-8")
        provenance |= {"status": "archived", "parameters": parameters or stage_parameters(config)}
        if report is None:
            report = clerk_report(outcome, with_changes=False)
        if "changes" in report:
            provenance_json = _json(provenance | {"report": report})
        else:
            provenance_json = _json(provenance)[:-1] + ',"report":' + _report_json(report, outcome) + "}"
    files["provenance.json"] = provenance_json.encode("utf-8")
    return files


def stage_parameters(config: Config) -> dict[str, Any]:
    """The settings of the stages an archived version records in its provenance."""
    return {
        "clean": dataclasses.asdict(config.clean),
        "split": dataclasses.asdict(config.split),
        "match": dataclasses.asdict(config.match),
        "fingerprint": fingerprint.parameters(config.fingerprint),
    }


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _report_json(report: dict[str, Any], outcome: Processed) -> str:
    """``_json`` of ``report`` with the outcome's changes put back in their place (``changes_json``)."""
    items = list(report.items())
    cut = [key for key, _value in items].index(CHANGES_AFTER) + 1
    before, after = _json(dict(items[:cut])), _json(dict(items[cut:]))
    changes = changes_json(outcome.cleaned.changes)
    return before[:-1] + ',"changes":' + changes + ("}" if after == "{}" else "," + after[1:])


def worker_vault(root: Path) -> Vault:
    """This process's vault at ``root``. Workers never sweep the shared staging area: the
    coordinator does that once before any worker starts (``Vault.clear_staging``)."""
    vault = _VAULTS.get(root)
    if vault is None:
        vault = _VAULTS[root] = Vault(root, sweep_staging=False)
    return vault


def store_all(outcomes: list[Processed | Rejection], config: Config) -> list[Stored]:
    """Store every outcome as its document's next version, in one group commit."""
    return _store(outcomes, config, hand_over=False)[0]


def stage_all(outcomes: list[Processed | Rejection], config: Config) -> tuple[list[Stored], Staged | None]:
    """``store_all``, but the group commit is handed over (``Batch.hand_over``), not landed: the
    caller lands it (``Vault.land``) before anything relies on the versions. None: nothing staged."""
    return _store(outcomes, config, hand_over=True)


def _store(
    outcomes: list[Processed | Rejection], config: Config, *, hand_over: bool
) -> tuple[list[Stored], Staged | None]:
    vault = worker_vault(config.resolve(config.store.vault))
    started = time.perf_counter()
    # The reports as the coordinator files them (without changes); the provenance adds them.
    reports = [clerk_report(o, with_changes=False) if isinstance(o, Processed) else None for o in outcomes]
    parameters = stage_parameters(config)
    staged = None
    with vault.batch() as batch:
        versions = [
            vault.store(
                o.submission.relpath,
                object_files(o, config, r, parameters),
                f"received {o.submission.relpath}",
            )
            for o, r in zip(outcomes, reports, strict=True)
        ]
        if hand_over:
            staged = batch.hand_over()
    # The rows and report texts the coordinator files, made here where the work is spread over the workers.
    min_chars = config.fingerprint.min_chars
    prepared = [filing.prepare(o, min_chars) if isinstance(o, Processed) else None for o in outcomes]
    texts = [None if r is None else filing.report_json(r) for r in reports]
    share = (time.perf_counter() - started) / max(len(outcomes), 1)
    stored = [
        Stored(_for_filing(o), len(o.submission.raw), v.version, v.created, r, share, rows)
        for o, r, v, rows in zip(outcomes, texts, versions, prepared, strict=True)
    ]
    return stored, staged if staged is not None and staged.objects else None


def _for_filing(outcome: Processed | Rejection) -> Processed | Rejection:
    """``outcome`` as the coordinator files it: without the submission's bytes, the decoded and
    the repaired (pre-removal) texts and the changes, which it never reads. They are what makes
    a result large (half its pickle), and results cross a pipe and are unpickled by the
    coordinator, the run's busiest process; the vault holds all of them."""
    light = dataclasses.replace(outcome.submission, raw=b"")
    if isinstance(outcome, Rejection):
        return dataclasses.replace(outcome, submission=light)
    decoded = dataclasses.replace(outcome.decoded, submission=light, text="")
    cleaned = dataclasses.replace(outcome.cleaned, decoded=decoded, text="", changes=())
    return dataclasses.replace(outcome, decoded=decoded, cleaned=cleaned)
