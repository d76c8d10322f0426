"""An inbox run one folder too high (``archiver run DIR`` where the files are in ``DIR/inbox``):
the layout names no authority or year, and the folder's other files, the benchmark kit's truth
files, are large machine-written JSON lines, not reports. Such a run stays about as cheap as a
proper one: a file beyond ``[decode] max_bytes`` is kept as received without being read as text,
and a file of thousands of alike lines gets at most ``NEAR_REPEAT_MAX`` near-repeat warnings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import flow
from archiver.records import Processed
from archiver.stages import ingest
from archiver.stages.process import NEAR_REPEAT_MAX, process_submission
from archiver.store import db
from archiver.store.vault import Vault
from tests.conftest import make_config


def test_an_inbox_one_level_too_high_keeps_every_file_and_bounded_warnings(
    bench_inbox: Path, tmp_path: Path
) -> None:
    top = tmp_path / "top"  # the kit's folder, with six of its submissions
    for path in sorted((bench_inbox / "inbox").rglob("*-report.txt"))[:6]:
        target = top / path.relative_to(bench_inbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for name in ("truth.jsonl", "truth_pairs.jsonl"):
        shutil.copyfile(bench_inbox / name, top / name)
    pairs = (top / "truth_pairs.jsonl").read_bytes()
    truth = (top / "truth.jsonl").read_bytes()
    assert len(pairs) < 1_000_000 < len(truth)  # the kit's default inbox: 0.3 and 3.7 MB
    config = make_config(tmp_path, run={"workers": 1}, decode={"max_bytes": 1_000_000})

    summary = flow.run(config, [top])

    assert (summary.files, summary.archived, summary.rejected) == (8, 7, {"oversize": 1})
    row = db.Submission
    with Session(db.open_engine(config.database_url)) as session:
        found = session.execute(select(row.relpath, row.status, row.reason, row.authority, row.report))
        rows = {
            relpath: (status, reason, authority, report)
            for relpath, status, reason, authority, report in found
        }
    assert rows["truth.jsonl"][:2] == ("rejected", "oversize")
    assert {rows[relpath][2] for relpath in rows if relpath.startswith("inbox/")} == {"inbox"}
    vault = Vault(config.resolve(config.store.vault))
    assert vault.read("truth.jsonl", "original/truth.jsonl") == truth  # kept, byte for byte
    status, _, _, report = rows["truth_pairs.jsonl"]
    report = report if isinstance(report, dict) else json.loads(report)
    near = [w for w in report["warnings"] if w["kind"] == "near_repeat"]
    assert status == "archived" and len(near) == NEAR_REPEAT_MAX
    # The kit's pairs file has hundreds of alike lines: the last warning listed counts the rest.
    alone = process_submission(ingest.submission_of(pairs, top / "p", "p", config.ingest), config)
    assert isinstance(alone, Processed)
    kept = sum(1 for r in alone.repeats if not r.removed)
    assert kept > 2 * NEAR_REPEAT_MAX
    assert f"({kept - NEAR_REPEAT_MAX} more places like these not listed)" in near[-1]["message"]
    assert all(w["line"] >= 1 for w in report["warnings"])
    assert sum(1 for relpath in rows if relpath.startswith("inbox/")) == 6
