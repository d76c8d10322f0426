"""Real reports as clerks receive them: web-page leftovers, titles, a report flattened into one
line, a table flattened into digits, a Chinese-numeral year that is no placeholder."""

from __future__ import annotations

from pathlib import Path

from archiver.config import Config, FingerprintConfig
from archiver.records import Processed
from archiver.stages import fingerprint, ingest
from archiver.stages.process import process_submission
from tests.conftest import ROOT

REPORTS = ROOT / "tests" / "data" / "reports"
CONFIG = Config()
# Copies from a news portal (hprc.org.cn): a photo caption and the agency's dateline above the
# report, the dateline and the newspaper page below it.
CAPTION_TOP = "state-council_2014_hprc.txt"
DATELINE_BOTTOM = "state-council_2021_hprc.txt"


def processed(text: str, name: str = "a.txt") -> Processed:
    raw = text.encode("utf-8")
    outcome = process_submission(ingest.submission_of(raw, Path(name), name, CONFIG.ingest), CONFIG)
    assert isinstance(outcome, Processed)
    return outcome


def report(name: str) -> str:
    return (REPORTS / name).read_text(encoding="utf-8")


def test_page_chrome_is_warned_kept_out_of_the_title_and_never_fingerprinted() -> None:
    top, bottom = processed(report(CAPTION_TOP)), processed(report(DATELINE_BOTTOM))
    assert [p.text for p in top.passages if p.kind == "chrome"] == [
        "3月5日，李克强代表国务院在十二届全国人大二次会议上作《政府工作报告》。\xa0新华社记者姚大伟摄",
        "新华社北京3月14日电",
    ]
    assert top.title == "政府工作报告"  # not the caption, not the dateline
    assert [p.text for p in bottom.passages if p.kind == "chrome"] == [
        "（新华社北京3月12日电）",
        "《 人民日报 》（ 2021年03月13日 01 版）",
    ]
    for outcome in (top, bottom):
        chrome = [p for p in outcome.passages if p.kind == "chrome"]
        warned = [w for w in outcome.warnings if w.kind == "chrome"]
        assert [w.text for w in warned] == [p.text for p in chrome]
        assert all(w.message_zh.startswith("网页残留") and w.advice_zh for w in warned)
        signed = {
            f.passage for f in fingerprint.fingerprint(outcome.passages, FingerprintConfig()) if f.signature
        }
        assert signed.isdisjoint(p.index for p in chrome)  # the caption is long enough to be signed
    # The same report without its page: the same content passages.
    lines = [
        line
        for line in top.text.split("\n")
        if line not in {p.text for p in top.passages if p.kind == "chrome"}
    ]
    plain = processed("\n".join(lines))
    assert [p.text for p in top.passages if p.kind != "chrome"] == [p.text for p in plain.passages]


def test_report_text_is_not_taken_for_page_chrome() -> None:
    for name in ("state-council_1983_wikisource.txt", "state-council_1978_wikisource.txt"):
        assert [p.text for p in processed(report(name)).passages if p.kind == "chrome"] == [], name


def test_the_title_is_the_first_line_that_reads_like_one() -> None:
    top = "新华社北京3月14日电\n"  # a real dateline (state-council_2014_hprc.txt)
    outcome = processed(
        top + "同志们：\n某县2023年政府信息公开工作年度报告\n一、总体情况\n今年我县做好了各项工作。\n"
    )
    assert outcome.title == "某县2023年政府信息公开工作年度报告" and outcome.year == 2023
    salutation = processed(report("state-council_1978_wikisource.txt"))
    assert salutation.title == ""  # no line reads like a title: none rather than a salutation


def test_a_report_flattened_into_one_line_is_warned_and_gets_its_sections() -> None:
    flat = report("state-council_2010_hprc.txt").replace("　　", "")
    outcome = processed(flat)
    (warning,) = [w for w in outcome.warnings if w.kind == "flattened"]
    assert warning.message_zh.startswith("一行") and "行内识别出2个标题" in warning.message_zh
    headings = [s.heading for s in outcome.sections if s.level == 1]
    assert [h[:11] for h in headings] == ["一、２００９年工作回顾", "二、２０１０年主要任务"]
    assert all(
        outcome.text[s.start : s.start + 2] in ("一、", "二、") for s in outcome.sections if s.level == 1
    )


def test_a_table_flattened_into_digits_is_warned() -> None:
    outcome = processed(
        "某县2023年政府信息公开工作年度报告\n规章000规范性文件898989\n本年度制发规章0件，2023年投入300万元。\n"
    )
    tables = [w for w in outcome.warnings if w.kind == "flattened_table"]
    assert [w.text for w in tables] == ["规章000规范性文件898989"]


def test_a_chinese_numeral_year_is_not_a_placeholder() -> None:
    outcome = processed(report("state-council_1983_wikisource.txt"))
    assert "二○○○年" in outcome.text
    assert not [w for w in outcome.warnings if w.kind == "placeholder"]
    assert [
        w.text for w in processed("报告日期：○○○○年○月○日，地点○○县。\n").warnings if w.kind == "placeholder"
    ] == [
        "○○○○",
        "○○",
    ]
