"""`archiver audit --pairs`: pairs of documents sharing substantive text, both directions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiver.audit import docpairs
from archiver.audit import reuse as audit
from archiver.config import Config
from archiver.store import db
from tests.test_audit import build_archive, paragraphs


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return build_archive(tmp_path_factory.mktemp("pairs"))


def report_of(config: Config, filters: audit.Filters | None = None) -> audit.Report:
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        report = audit.audit(session, audit.load(session), config.match.match_at, filters or audit.Filters())
    engine.dispose()
    return report


def test_every_pair_with_its_shares_both_ways_relation_and_longest_run(archive: Config) -> None:
    p = paragraphs()
    report = report_of(archive)
    found = {(x.a.file, x.b.file): x for x in docpairs.document_pairs(report)}
    assert set(found) == {
        ("auth-a/2020/a.txt", "auth-a/2021/b.txt"),
        ("auth-a/2020/a.txt", "auth-b/2021/c.txt"),
        ("auth-a/2021/b.txt", "auth-b/2021/c.txt"),
    }
    ab = found["auth-a/2020/a.txt", "auth-a/2021/b.txt"]
    shared = len(p[0]) + len(p[1]) + len(p[2])
    assert (ab.relation, ab.a_chars, ab.b_chars, ab.longest_run, len(ab.passages)) == (
        "earlier_year",
        shared,
        shared,
        shared,
        3,
    )
    assert ab.a_share == shared / ab.a_total and ab.b_share < ab.a_share  # b also has P3
    bc = found["auth-a/2021/b.txt", "auth-b/2021/c.txt"]
    assert (bc.relation, bc.a_chars, bc.b_chars, bc.longest_run) == (
        "same_year_other_authority",
        *[len(p[0])] * 3,
    )
    assert found["auth-a/2020/a.txt", "auth-b/2021/c.txt"].relation == "other_authority_other_year"
    shares = [max(x.a_share, x.b_share) for x in docpairs.document_pairs(report)]
    assert shares == sorted(shares, reverse=True)


def test_filters_keep_pairs_with_a_selected_document(archive: Config) -> None:
    report = report_of(archive, audit.Filters(authority="auth-b"))
    kept = docpairs.selected(docpairs.document_pairs(report), report.filters)
    assert {(x.a.file, x.b.file) for x in kept} == {
        ("auth-a/2020/a.txt", "auth-b/2021/c.txt"),
        ("auth-a/2021/b.txt", "auth-b/2021/c.txt"),
    }


def test_the_command_writes_pairs_as_json_and_csv(archive: Config, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archiver.cli import main

    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[store]\ndatabase = "{archive.store.database}"\nvault = "{archive.store.vault}"\n', encoding="utf-8"
    )
    runner = CliRunner()
    as_json = runner.invoke(main, ["--config", str(config_file), "audit", "--pairs"], catch_exceptions=False)
    payload = json.loads(as_json.output)
    assert payload["schema"] == "archiver-pairs/1" and len(payload["pairs"]) == 3
    assert (
        payload["pairs"][0]["a"] == "auth-a/2020/a.txt" and payload["pairs"][0]["relation"] == "earlier_year"
    )
    as_csv = runner.invoke(main, ["--config", str(config_file), "audit", "--pairs", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output.lstrip("\ufeff"))))
    assert [(r["a"], r["b"], r["relation"]) for r in rows] == [
        (x["a"], x["b"], x["relation"]) for x in payload["pairs"]
    ]
