"""The audit's measures on a tiny archive built by the real pipeline, with hand-checkable figures.

The inbox (real paragraphs of samples/guowuyuan/2024, P[0], P[1], …):

    auth-a/2020/a.txt   title, P0 P1 P2
    auth-a/2021/b.txt   title, P0 P1 P2 P3        → P0–P2 from auth-a's earlier year
    auth-b/2021/c.txt   title, P0 P4 P5           → P0 from other authorities (auth-a 2020 and 2021)
    auth-c/2021/d.txt   title, P6 P7 P6 P7        → the repeated block is removed (repeated inside)
    auth-c/2022/x.txt   title, <script>…, P8      → HTML must show literally
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit import reuse as audit
from archiver.audit._chart import chart
from archiver.audit.export import export_lines
from archiver.audit.html import environment, render, write_site
from archiver.cli import main
from archiver.config import Config
from archiver.store import db
from tests.conftest import SAMPLES, make_config

SCRIPT = "<script>alert(1)</script> 与 <b>加粗</b> & “引号”，这一行不能被当作网页执行。"


def paragraphs() -> list[str]:
    """Body paragraphs of the 2024 report as they stand in the file (already clean text)."""
    text = (SAMPLES / "guowuyuan" / "2024" / "2024-zhengfu-gongzuo-baogao.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    return [
        line
        for line in lines
        if 80 <= len(line) <= 300
        and line.endswith("。")
        and line[0] not in "一二三四五六七八九十（(0123456789—"
    ]


def inbox_texts() -> dict[str, list[str]]:
    """relpath → lines (the first is the title)."""
    p = paragraphs()
    return {
        "auth-a/2020/a.txt": ["甲局2020年工作总结", p[0], p[1], p[2]],
        "auth-a/2021/b.txt": ["甲局2021年工作总结", p[0], p[1], p[2], p[3]],
        "auth-b/2021/c.txt": ["乙局2021年工作总结", p[0], p[4], p[5]],
        "auth-c/2021/d.txt": ["丙局2021年工作总结", p[6], p[7], p[6], p[7]],
        "auth-c/2022/x.txt": ["丙局2022年工作总结", SCRIPT, p[8]],
    }


def write_inbox(root: Path) -> Path:
    inbox = root / "inbox"
    for relpath, lines in inbox_texts().items():
        path = inbox / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inbox


def build_archive(root: Path) -> Config:
    """Run the real pipeline (workers=1) over the inbox; returns the config of the archive."""
    config = make_config(root)
    flow.run(config, [write_inbox(root)])
    return config


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return build_archive(tmp_path_factory.mktemp("audit"))


NO_FILTERS = audit.Filters()


def report_of(config: Config, filters: audit.Filters = NO_FILTERS) -> dict[str, Any]:
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        data = audit.as_json(audit.audit(session, audit.load(session), config.match.match_at, filters))
    return {d["file"]: d for d in data["documents"]} | {"_all": data}


def chars(lines: list[str]) -> int:
    return sum(len(line) for line in lines)


def test_the_pipeline_keeps_the_written_text(archive: Config) -> None:
    engine = db.open_engine(archive.database_url)
    with Session(engine) as session:
        snapshot = audit.load(session)
    texts = {d.file: d.text for d in snapshot.docs.values()}
    assert texts["auth-a/2021/b.txt"] == "\n".join(inbox_texts()["auth-a/2021/b.txt"])


def test_copy_of_last_year_plus_a_new_paragraph(archive: Config) -> None:
    p, docs = paragraphs(), report_of(archive)
    b = docs["auth-a/2021/b.txt"]
    total = chars(inbox_texts()["auth-a/2021/b.txt"])
    assert b["chars"] == total
    assert b["reused_share"] == pytest.approx(chars(p[:3]) / total, abs=1e-4)
    assert b["from_earlier_years"] == pytest.approx(chars(p[:3]) / total, abs=1e-4)
    assert b["from_other_authorities"] == 0
    assert b["new_share"] == pytest.approx(1 - chars(p[:3]) / total, abs=1e-4)
    assert b["reused_passages"] == 3
    assert b["most_reused_from"]["file"] == "auth-a/2020/a.txt"
    assert b["most_reused_from"]["chars"] == chars(p[:3])


def test_the_first_year_has_nothing_reused(archive: Config) -> None:
    a = report_of(archive)["auth-a/2020/a.txt"]
    assert (a["reused_share"], a["new_share"], a["reused_passages"], a["most_reused_from"]) == (0, 1, 0, None)


def test_template_from_another_authority(archive: Config) -> None:
    p, c = paragraphs(), report_of(archive)["auth-b/2021/c.txt"]
    total = chars(inbox_texts()["auth-b/2021/c.txt"])
    assert c["reused_share"] == pytest.approx(len(p[0]) / total, abs=1e-4)
    assert c["from_other_authorities"] == c["reused_share"]
    assert c["from_earlier_years"] == 0


def test_repeated_inside_counts_the_removed_block(archive: Config) -> None:
    p, d = paragraphs(), report_of(archive)["auth-c/2021/d.txt"]
    kept = chars(inbox_texts()["auth-c/2021/d.txt"][:3])
    assert d["chars"] == kept
    assert d["removed_chars"] == chars(p[6:8])
    assert d["repeated_inside"] == pytest.approx(chars(p[6:8]) / (kept + chars(p[6:8])), abs=1e-4)
    assert d["reused_share"] == 0


def test_clusters_say_who_copied_what(archive: Config) -> None:
    p, data = paragraphs(), report_of(archive)["_all"]
    by_text = {c["canonical"]["text"]: c for c in data["clusters"]}
    template = by_text[p[0]]
    assert template["canonical"]["file"] == "auth-a/2020/a.txt"
    assert (template["count"], template["authorities"], template["first_year"], template["last_year"]) == (
        3,
        2,
        2020,
        2021,
    )
    assert [o["file"] for o in template["occurrences"]] == [
        "auth-a/2020/a.txt",
        "auth-a/2021/b.txt",
        "auth-b/2021/c.txt",
    ]
    assert all(o["similarity"] == 1.0 for o in template["occurrences"])
    assert 3 <= len(template["keywords"]) <= 5 and all(k in p[0] for k in template["keywords"])
    assert by_text[p[1]]["authorities"] == 1
    assert p[6] not in by_text  # a repeat inside one document is not a cluster


def test_filters(archive: Config) -> None:
    assert set(report_of(archive, audit.Filters(authority="auth-a"))) - {"_all"} == {
        "auth-a/2020/a.txt",
        "auth-a/2021/b.txt",
    }
    assert "auth-a/2020/a.txt" not in report_of(archive, audit.Filters(since=2021))
    assert set(report_of(archive, audit.Filters(year=2022))) - {"_all"} == {"auth-c/2022/x.txt"}
    assert set(report_of(archive, audit.Filters(min_share=0.5))) - {"_all"} == {"auth-a/2021/b.txt"}


def store_of(config: Config) -> dict[str, object]:
    """The [store] table of ``config``, for a config file of the same archive."""
    return {
        "database": str(config.resolve(config.store.database)),
        "vault": str(config.resolve(config.store.vault)),
    }


def test_json_schema_through_the_cli(
    archive: Config, tmp_path: Path, runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    config_path = write_config(store=store_of(archive))
    result = runner.invoke(
        main, ["--config", str(config_path), "audit", "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"schema", "match_at", "filters", "documents", "authorities", "clusters"} <= set(data)
    assert {
        "file",
        "authority",
        "year",
        "chars",
        "reused_share",
        "from_earlier_years",
        "from_other_authorities",
        "repeated_inside",
        "new_share",
        "most_reused_from",
        "reused_passages",
    } <= set(data["documents"][0])
    trend = next(a for a in data["authorities"] if a["authority"] == "auth-a")
    assert [y["year"] for y in trend["years"]] == [2020, 2021]
    assert {
        "id",
        "canonical",
        "occurrences",
        "first_year",
        "last_year",
        "authorities",
        "count",
        "keywords",
    } <= set(data["clusters"][0])
    csv_out = tmp_path / "audit.csv"
    args = ["--config", str(config_path), "audit", "--format", "csv", "-o", str(csv_out)]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    raw = csv_out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == 5 and rows[0]["file"] == "auth-a/2020/a.txt"
    assert any(r["title"] == "甲局2021年工作总结" for r in rows)
    html = runner.invoke(main, ["--config", str(config_path), "audit", "--format", "html"])
    assert html.exit_code != 0 and "-o DIR" in html.output


@pytest.mark.parametrize(
    ("fmt", "output", "wanted"),
    [
        ("json", "nonexistent/audit.json", "a file in an existing folder"),
        ("csv", "a-folder", "a file in an existing folder"),
        ("html", "a-file", "a folder (made when missing)"),
    ],
)
def test_an_output_that_cannot_be_written_stops_with_one_line(
    archive: Config,
    tmp_path: Path,
    fmt: str,
    output: str,
    wanted: str,
    runner: CliRunner,
    write_config: Callable[..., Path],
) -> None:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_bytes(b"x")
    config_path = write_config(store=store_of(archive))
    args = ["--config", str(config_path), "audit", "--format", fmt, "-o", str(tmp_path / output)]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: cannot write {tmp_path / output}: ")
    assert result.output.endswith(f"; give -o {wanted}\n")
    assert (tmp_path / "a-file").read_bytes() == b"x"


def test_html_shows_submitted_html_literally(archive: Config, tmp_path: Path) -> None:
    engine = db.open_engine(archive.database_url)
    with Session(engine) as session:
        report = audit.audit(session, audit.load(session), archive.match.match_at)
    write_site(report, tmp_path / "site")
    x = next(m for m in report.documents if m.doc.file == "auth-c/2022/x.txt")
    page = (tmp_path / "site" / "docs" / f"{x.doc.id}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;加粗&lt;/b&gt; &amp;" in page
    assert "<script>alert(1)" not in page and "<b>加粗" not in page
    b = next(m for m in report.documents if m.doc.file == "auth-a/2021/b.txt")
    page_b = (tmp_path / "site" / "docs" / f"{b.doc.id}.html").read_text(encoding="utf-8")
    assert page_b.count('class="reuse" data-kind="earlier"') == 3
    assert "http://" not in page_b.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_every_template_escapes_what_it_is_given() -> None:
    """Autoescaping is on for every template, the SVG chart included: an authority named with markup
    shows as text in the chart, and any template added later escapes too."""
    env = environment()
    names = [*env.list_templates(), "new.txt"]
    assert callable(env.autoescape) and all(env.autoescape(name) for name in names)
    trend = {
        "authority": '<b onclick="x()">局</b>',
        "years": [{"year": 2020, "reused_share": 0.5, "from_earlier_years": 0.25, "documents": 2}],
    }
    svg = render("chart.svg", chart=chart([trend]))
    assert "<b " not in svg and "&lt;b onclick=&#34;x()&#34;&gt;局&lt;/b&gt;" in svg
    assert "reused 50.0%, earlier years 25.0% (2 documents)" in svg


def test_reuse_kind() -> None:
    def doc(authority: str, year: int | None, id_: int = 1) -> audit.Doc:
        return audit.Doc(id_, f"{authority}/{year}", authority, year, "", "")

    me = doc("a", 2021, 1)
    assert audit.reuse_kind(me, doc("a", 2020, 2)) == "earlier"
    assert audit.reuse_kind(me, doc("a", 2021, 2)) is None  # the same authority's same year
    assert audit.reuse_kind(me, doc("b", 2021, 2)) == "other"
    assert audit.reuse_kind(me, doc("b", 2019, 2)) == "other"
    assert audit.reuse_kind(me, doc("b", 2022, 2)) is None  # later years never count
    assert audit.reuse_kind(me, doc("b", None, 2)) is None


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_shares_partition_the_text(new: int, earlier: int, other: int, removed: int) -> None:
    total = new + earlier + other
    s = audit.shares(total, earlier, other, 0, removed)
    assert s["reused_share"] + s["new_share"] == pytest.approx(1.0, abs=1e-3)
    assert s["from_earlier_years"] + s["from_other_authorities"] == pytest.approx(s["reused_share"], abs=1e-3)
    assert 0 <= s["repeated_inside"] <= 1


def test_a_sentence_copied_twice_counts_in_characters_both_ways(tmp_path: Path) -> None:
    p = paragraphs()
    sentence = max((s + "。" for s in p[0].split("。") if s), key=len)
    first = "今年以来，我局认真谋划，狠抓落实，各项工作取得新的成效。" + sentence + "干部职工面貌一新。"
    second = sentence + "下一步将建立工作台账，实行清单化管理，逐项抓好落实，确保按期完成。"
    texts = {
        "auth-x/2020/a.txt": ["戊局2020年工作总结", p[0]],
        "auth-y/2021/b.txt": ["己局2021年工作总结", first, second],
    }
    for relpath, lines in texts.items():
        (tmp_path / "inbox" / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "inbox" / relpath).write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = make_config(tmp_path)
    flow.run(config, [tmp_path / "inbox"])
    b = report_of(config)["auth-y/2021/b.txt"]
    total = chars(texts["auth-y/2021/b.txt"])
    assert b["reused_share"] == pytest.approx(2 * len(sentence) / total, abs=1e-4)
    assert b["from_other_authorities"] == b["reused_share"] and b["from_earlier_years"] == 0
    assert b["reused_passages"] == 2
    longest = len(sentence) - sum(not c.isalnum() for c in sentence)  # normalised: no punctuation
    assert b["sources"] == [
        {
            "file": "auth-x/2020/a.txt",
            "authority": "auth-x",
            "year": 2020,
            "kind": "other_authority",
            "chars": 2 * len(sentence),  # of b: the sentence twice
            "other_chars": len(sentence),  # of a: the sentence once
            "longest_run": longest,
        }
    ]
    a = report_of(config)["auth-x/2020/a.txt"]
    assert a["reused_share"] == 0 and a["sources"] == []  # a later year is not a source
    # The export's `reused` field (the bench kit's): the same spans, offsets in cleaned_text.
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        records = {r["file"]: r for r in (json.loads(line) for line in export_lines(session))}
    engine.dispose()
    text = records["auth-y/2021/b.txt"]["cleaned_text"]
    starts = [text.index(sentence), text.rindex(sentence)]
    assert records["auth-y/2021/b.txt"]["reused"] == [
        {"start": s, "end": s + len(sentence), "other_file": "auth-x/2020/a.txt"} for s in starts
    ]
    assert records["auth-x/2020/a.txt"]["reused"] == []


def test_within_one_year_the_shape_of_a_copy_tells_who_took_it(tmp_path: Path) -> None:
    """Two authorities' reports of one year give no order: a sentence lifted into a paragraph
    written around it, or a paragraph embedded whole in a longer one, counts for the side that
    took it; a paragraph both hold whole counts for both. The export's `reused` agrees."""
    p = paragraphs()
    sentence = max((s + "。" for s in p[0].split("。") if s), key=len)
    fresh = "下一步将建立工作台账，实行清单化管理，逐项抓好落实，确保按期完成。"
    texts = {
        "auth-s/2021/s.txt": ["庚局2021年工作总结", p[0], p[3], p[4]],
        "auth-t/2021/t.txt": ["辛局2021年工作总结", sentence + fresh],
        "auth-u/2021/u.txt": [
            "壬局2021年工作总结",
            "今年以来，我局认真谋划，狠抓落实，各项工作取得新的成效。" + p[3] + "干部职工面貌一新。",
        ],
        "auth-v/2021/v.txt": ["癸局2021年工作总结", p[4]],
    }
    for relpath, lines in texts.items():
        (tmp_path / "inbox" / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "inbox" / relpath).write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = make_config(tmp_path)
    flow.run(config, [tmp_path / "inbox"])
    report = report_of(config)
    taken = {
        "auth-s/2021/s.txt": p[4],
        "auth-t/2021/t.txt": sentence,
        "auth-u/2021/u.txt": p[3],
        "auth-v/2021/v.txt": p[4],
    }
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        records = {r["file"]: r for r in (json.loads(line) for line in export_lines(session))}
    engine.dispose()
    for file, shared in taken.items():
        total = chars(texts[file])
        assert report[file]["reused_share"] == pytest.approx(len(shared) / total, abs=1e-4), file
        text = records[file]["cleaned_text"]
        start = text.index(shared)
        assert [(r["start"], r["end"]) for r in records[file]["reused"]] == [(start, start + len(shared))], (
            file
        )
    assert {r["other_file"] for r in records["auth-s/2021/s.txt"]["reused"]} == {"auth-v/2021/v.txt"}
