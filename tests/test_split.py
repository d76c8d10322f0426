"""split: heading levels, hierarchical spans that rejoin to the text, passage kinds and cutting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import CleanConfig, SplitConfig
from archiver.stages.clean import clean_text
from archiver.stages.split import heading_of, split, title_of

HERE = Path(__file__).resolve().parent
SEED = HERE / "data" / "seed.txt"
CONFIG = SplitConfig()

REPORT = "\n".join(
    [
        "川林县交通运输局2024年政府信息公开工作年度报告",
        "一、总体情况",
        "（一）主动公开。",
        "全年公开信息120条，其中政策文件15件。",
        "1.加强组织领导。",
        "成立了领导小组。",
        "（1）明确职责",
        "二、存在的问题和不足",
        "工作进展迟缓，更新不及时。",
        "川林县交通运输局",
        "2024年1月15日",
    ]
)


def test_heading_levels_and_variants() -> None:
    cases = {
        "一、总体情况": (1, "一"),
        "十二、其他": (1, "十二"),
        "一 标题": (1, "一"),
        "第三章 总则": (1, "三"),
        "第一部分": (1, "一"),
        "（一）主动公开": (2, "（一）"),
        "(二)依申请": (2, "（二）"),
        "1.加强领导": (3, "1"),
        "2．健全": (3, "2"),
        "3、完善": (3, "3"),
        "（1）明确": (4, "（1）"),
        "(2)落实": (4, "（2）"),
    }
    for line, expected in cases.items():
        assert heading_of(line) == expected, line
    for line in ("一是思想认识不到位。", "1.5亿元用于建设", "2024年1月15日", "工作总结"):
        assert heading_of(line) is None, line


def test_sections_nest_and_tile() -> None:
    sections, _ = split(REPORT, CONFIG)
    assert [(s.level, s.number) for s in sections] == [
        (0, ""),
        (1, "一"),
        (2, "（一）"),
        (3, "1"),
        (4, "（1）"),
        (1, "二"),
    ]
    one, two = sections[1], sections[5]
    assert REPORT[one.start : one.end].startswith("一、总体情况") and one.end == two.start
    assert sections[2].end == sections[3].end == sections[4].end == two.start
    assert two.end == len(REPORT)
    assert sections[0].heading == "" and REPORT[: sections[0].end].startswith("川林县")


def test_passage_kinds_and_sections() -> None:
    sections, passages = split(REPORT, CONFIG)
    kinds = ["title", "heading", "heading", "para", "heading", "para", "heading", "heading", "para"]
    assert [p.kind for p in passages] == [*kinds, "meta", "meta"]
    assert all(REPORT[p.start : p.end] == p.text for p in passages)
    assert [sections[p.section].number for p in passages][:6] == ["", "一", "（一）", "（一）", "1", "1"]
    assert title_of(passages) == "川林县交通运输局2024年政府信息公开工作年度报告"
    assert [p.index for p in passages] == list(range(len(passages)))


def test_long_paragraph_cut_at_sentence_ends() -> None:
    sentence = "全面贯彻政府信息公开条例，按照县上的统一要求完善了公开形式。"  # 30 characters
    text = "标题\n" + sentence * 50  # 1500 characters on one line
    _, passages = split(text, SplitConfig(max_passage_chars=400))
    body = [p for p in passages if p.kind == "para"]
    assert len(body) == 4 and "".join(p.text for p in body) == sentence * 50
    assert all(p.text.endswith("。") and len(p.text) <= 400 for p in body)
    assert max(len(p.text) for p in body) - min(len(p.text) for p in body) <= 30  # roughly equal


def test_unpunctuated_paragraph_is_still_cut() -> None:
    text = "字" * 2500
    _, passages = split(text, SplitConfig(max_passage_chars=1000))
    assert [len(p.text) for p in passages] == [1000, 1000, 500]


_LINES = st.sampled_from(
    [
        "一、总体情况",
        "二、问题",
        "（一）子项",
        "(二)子项",
        "1.细项",
        "（1）小项",
        "第二章 总则",
        "正文内容，继续。",
        "",
        "2024年1月15日",
        "  ",
        "三 标题",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=25).map("\n".join))
def test_top_level_sections_rejoin_to_the_text(text: str) -> None:
    sections, passages = split(text, CONFIG)
    top = [s for s in sections if s.level <= 1]
    assert "".join(text[s.start : s.end] for s in top) == text
    for s in sections:  # every section sits inside its parent: spans never cross
        assert all(
            o.end <= s.start
            or o.start >= s.end
            or (o.start <= s.start and s.end <= o.end)
            or (s.start <= o.start and o.end <= s.end)
            for o in sections
        )
    for p in passages:
        owner = sections[p.section]
        assert owner.start <= p.start and p.end <= owner.end


def test_seed_sections_golden(golden: Callable[[str, str], None]) -> None:
    text, _, _ = clean_text(SEED.read_text(encoding="utf-8"), CleanConfig())
    sections, passages = split(text, CONFIG)
    rendered = "\n".join(f"{s.level}\t{s.number}\t{s.heading}" for s in sections)
    golden("seed.sections.txt", rendered)
    numbers = [s.number for s in sections]
    assert numbers[:10] == ["", "一", "二", "（一）", "（二）", "（三）", "（四）", "三", "四", "五"]
    assert sum(p.kind == "heading" for p in passages) == 9 + 8  # the repeat starts without its 一 heading
