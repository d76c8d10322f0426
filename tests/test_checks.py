"""checks: each warning kind on small cases, including the seed's real damage."""

from __future__ import annotations

from pathlib import Path

from archiver.config import ChecksConfig, CleanConfig, SplitConfig
from archiver.stages.checks import check, number_value
from archiver.stages.clean import clean_text
from archiver.stages.split import split

SEED = Path(__file__).resolve().parent / "data" / "seed.txt"
CONFIG = ChecksConfig()


def kinds(text: str, config: ChecksConfig = CONFIG) -> list[tuple[str, str]]:
    sections, _ = split(text, SplitConfig())
    return [(w.kind, w.text) for w in check(text, sections, config)]


def test_placeholders() -> None:
    text = "公布了20xx年重点，新建XX个站点，投入XX万元，负责人××，签字：＿＿＿，编号____，○○乡。"
    found = [t for k, t in kinds(text) if k == "placeholder"]
    assert found == ["20xx", "XX", "XX", "××", "＿＿＿", "____", "○○"]
    assert kinds("2020年投入100万元，XXL号，Linux系统。") == []


def test_warning_spans_point_at_the_text() -> None:
    text = "一、总体情况\n今年20XX年完成。"
    sections, _ = split(text, SplitConfig())
    (w,) = check(text, sections, CONFIG)
    assert (w.kind, text[w.start : w.end]) == ("placeholder", "20XX")


def test_no_punctuation_run() -> None:
    lost = "我乡在狠抓内部制约机制的同时强抓外部监督制约机制的完善建立健全长效管理机制" * 2
    assert kinds(lost + "。", ChecksConfig(max_unpunctuated_run=40)) == [("no_punctuation", lost)]
    assert kinds(lost + "。") == []  # 72 characters: under the default 120
    assert kinds("，".join([lost[:30]] * 5) + "。", ChecksConfig(max_unpunctuated_run=40)) == []


def test_numbering_gaps_and_repeats() -> None:
    text = "一、甲\n（一）子\n（二）子\n（二）子\n三、乙\n（一）子\n1.细\n3.细"
    found = [t for k, t in kinds(text) if k == "numbering"]
    assert found == ["（二）子", "三、乙", "3.细"]  # the repeat, the gap after 一, the gap after 1
    assert [k for k, _ in kinds("一、甲\n（一）子\n二、乙\n（一）子\n（二）子")] == []


def test_number_value() -> None:
    numbers = ("一", "十", "十二", "二十", "（三）", "4", "第五")
    assert [number_value(n) for n in numbers] == [1, 10, 12, 20, 3, 4, 5]
    assert number_value("甲") is None


def test_mojibake() -> None:
    utf8_as_latin1 = "政府信息".encode().decode("latin-1")
    gbk_as_latin1 = "政府信息".encode("gbk").decode("latin-1")
    for garbled in ("锟斤拷锟斤拷", "\ufffd\ufffd", utf8_as_latin1, gbk_as_latin1):
        assert "mojibake" in {k for k, _ in kinds(f"工作{garbled}报告。")}, garbled
    assert kinds("Café résumé naïve，正常文本。") == []


def test_seed_warnings() -> None:
    text, _, _ = clean_text(SEED.read_text(encoding="utf-8"), CleanConfig())
    sections, _ = split(text, SplitConfig())
    warnings = check(text, sections, ChecksConfig(max_unpunctuated_run=40))
    found = {w.kind for w in warnings}
    assert {"placeholder", "numbering", "no_punctuation"} <= found  # 20xx, the pasted-twice body, lost commas
    assert all(text[w.start : w.end] == w.text for w in warnings)


def test_a_replacement_character_is_not_blamed_on_a_wrong_encoding() -> None:
    # U+FFFD comes as often from a damaged byte sequence (decode's damaged_utf8 repair) as from
    # a wrong encoding: its warning says what is known, that the character could not be read.
    warnings = check("工作\ufffd\ufffd报告。", [], ChecksConfig())
    messages = [w.message for w in warnings if w.kind == "mojibake"]
    assert messages == ["2 character(s) that could not be read (U+FFFD); check the original file"]
