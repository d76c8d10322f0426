"""The acceptance figures of the nightly run and the matcher, scored by the benchmark kit's own
evaluator (../shared/bench/evaluate.py) on an inbox made by its make_inbox.py (seed 7)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit.export import export_lines
from archiver.config import Config
from archiver.store import db
from tests.conftest import ROOT, SHARED, make_config

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def bench_archive(bench_inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The bench inbox archived by a parallel run."""
    config = make_config(tmp_path_factory.mktemp("quality"), run={"workers": 2, "batch_size": 32})
    flow.run(config, [bench_inbox / "inbox"])
    return config


@pytest.fixture(scope="module")
def metrics(bench_archive: Config, bench_inbox: Path) -> dict[str, Any]:
    work = bench_archive.base_dir
    pred = work / "pred.jsonl"
    engine = db.open_engine(bench_archive.database_url)
    with Session(engine) as session, pred.open("w", encoding="utf-8") as out:
        for line in export_lines(session):
            out.write(line + "\n")
    engine.dispose()
    result = work / "metrics.json"
    evaluate = SHARED / "bench" / "evaluate.py"
    subprocess.run(
        [
            sys.executable,
            str(evaluate),
            "--truth",
            str(bench_inbox),
            "--pred",
            str(pred),
            "--json",
            str(result),
        ],
        check=True,
        capture_output=True,
    )
    loaded: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return loaded


def ratio(text: str) -> float:
    """'201/202 = 0.995' → 0.995"""
    found, total = map(int, re.match(r"(\d+)/(\d+)", text).groups())  # type: ignore[union-attr]
    return found / total


def test_every_file_gets_its_status_and_reason(metrics: dict[str, Any]) -> None:
    assert metrics["status_acc"] == 1.0
    assert metrics["reason_acc"] == 1.0


def test_repeats_inside_a_submission_are_found_and_only_they_are_removed(metrics: dict[str, Any]) -> None:
    assert metrics["intra_recall"] >= 0.98 and metrics["intra_precision"] >= 0.98
    assert metrics["intra_removed_fp"] == 0 or metrics["intra_precision"] >= 0.99


def test_cleaned_text_matches_the_truth_for_every_damage_class(metrics: dict[str, Any]) -> None:
    assert metrics["clean_sim_mean"] >= 0.98
    for damage in ("pinyin_annot", "traditional", "ascii_punct", "enc:gbk", "enc:big5", "mixed_encoding"):
        mean = float(metrics["clean_sim_by_damage"][damage].split()[0])
        assert mean >= 0.95, damage


def test_cross_submission_pairs_are_found_also_across_script_damage(metrics: dict[str, Any]) -> None:
    assert metrics["pair_recall"] >= 0.95 and metrics["pair_precision"] >= 0.95
    assert ratio(metrics["pair_recall_by"]["script-damaged side"]) >= 0.9


def test_audit_reused_share_is_within_five_points_of_the_truth(
    bench_archive: Config, bench_inbox: Path
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from audit_share import read_jsonl, truth_shares  # bench/audit_share.py

    from archiver.audit import reuse as audit

    truth = truth_shares(
        read_jsonl(bench_inbox / "truth.jsonl"), read_jsonl(bench_inbox / "truth_pairs.jsonl")
    )
    engine = db.open_engine(bench_archive.database_url)
    with Session(engine) as session:
        report = audit.as_json(audit.audit(session, audit.load(session), bench_archive.match.match_at))
    engine.dispose()
    shares = {d["file"]: d["reused_share"] for d in report["documents"]}
    assert set(shares) == set(truth)
    within = sum(abs(shares[f] - t) <= 0.05 for f, t in truth.items())
    assert within / len(truth) >= 0.95
