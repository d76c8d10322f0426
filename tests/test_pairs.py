"""`archiver audit --pairs`: pairs of documents sharing substantive text, both directions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit import docpairs
from archiver.audit import reuse as audit
from archiver.config import Config
from archiver.stages.shingle import normalise
from archiver.store import db
from tests.conftest import make_config
from tests.test_audit import build_archive, paragraphs
from tests.test_index import write_inbox


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
        max(len(normalise(x)) for x in p[:3]),  # equal characters in a row: one paragraph's
        3,
    )
    assert ab.a_share == shared / ab.a_total and ab.b_share < ab.a_share  # b also has P3
    bc = found["auth-a/2021/b.txt", "auth-b/2021/c.txt"]
    assert (bc.relation, bc.a_chars, bc.b_chars, bc.longest_run) == (
        "same_year_other_authority",
        len(p[0]),
        len(p[0]),
        len(normalise(p[0])),
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


SENTENCE = "全县完成地区生产总值一百二十亿元，同比增长百分之六点五，高于全市平均水平。"
ONE_SENTENCE = {
    "auth-a/2022/a.txt": "甲县2022年工作总结\n今年以来，我县坚持稳中求进工作总基调，经济运行总体平稳。"
    + SENTENCE
    + "城乡居民收入稳步提高，民生保障持续加强，社会大局和谐稳定。\n",
    "auth-b/2023/b.txt": "乙县2023年工作总结\n"
    + "过去一年，我们聚焦乡村振兴，新建高标准农田三万亩，建成美丽乡村示范点十二个。"
    + SENTENCE
    + "下一步将继续抓好项目建设和招商引资，全力以赴稳增长。\n",
}


def test_a_pair_sharing_one_sentence_counts_that_sentence_not_its_paragraph(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "in", ONE_SENTENCE)])
    (pair,) = docpairs.document_pairs(report_of(config))
    assert (pair.a.file, pair.b.file, pair.relation) == (
        "auth-a/2022/a.txt",
        "auth-b/2023/b.txt",
        "other_authority_other_year",
    )
    assert (pair.a_chars, pair.b_chars, len(pair.passages)) == (len(SENTENCE), len(SENTENCE), 1)
    assert pair.longest_run == len(normalise(SENTENCE))
    assert [(pair.a.text[c.start : c.end], pair.b.text[c.other_start : c.other_end]) for c in pair.spans] == [
        (SENTENCE, SENTENCE)
    ]
