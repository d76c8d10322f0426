"""The clerk's `archiver clean`: warnings in Chinese, original-file offsets, several files and
standard input, honest rejection reasons."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from archiver.cli import main
from archiver.config import Config
from archiver.records import Passage, Processed
from archiver.stages import ingest
from archiver.stages.decode import EUC_TW_UNSUPPORTED, is_euc_tw
from archiver.stages.origin import Origin
from archiver.stages.process import process_submission
from archiver.stages.repeats import removal_spans
from tests.conftest import ROOT

SEED = ROOT / "tests" / "data" / "seed.txt"
GOLDEN = ROOT / "tests" / "golden" / "seed.clean.txt"
EUC_TW = ROOT / "tests" / "data" / "encoded" / "euc-tw.txt"
_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")


def seed_report() -> dict[str, object]:
    result = CliRunner().invoke(main, ["clean", str(SEED), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_changes_carry_their_span_in_the_file_as_submitted() -> None:
    report = seed_report()
    original = SEED.read_text(encoding="utf-8")
    changes = report["changes"]
    assert isinstance(changes, list) and len(changes) == 1327
    for change in changes:
        start, end = change["original_span"]
        found = original[start:end]
        if change["kind"] == "t2s":  # a converted run may enclose annotations removed before it
            found = _PINYIN.sub("", found)
        assert found == change["before"] or change["kind"] == "heading_split", change
    pinyin = [c for c in changes if c["kind"] == "pinyin"]
    assert len(pinyin) == 574 and all(original[slice(*c["original_span"])] == c["before"] for c in pinyin)


def test_removed_repeats_and_warnings_point_into_the_original() -> None:
    report = seed_report()
    original = SEED.read_text(encoding="utf-8")
    lines = original.split("\n")
    for removed in report["removed"]:  # type: ignore[attr-defined]
        start, end = removed["original_span"]
        cleaned = _PINYIN.sub("", original[start:end])
        assert 13 <= original.count("\n", 0, start) + 1 <= 23  # lines 13–23 paste lines 2–12 again
        assert len(cleaned) >= len(removed["text"]) * 0.9
    placeholders = [w for w in report["warnings"] if w["kind"] == "placeholder"]  # type: ignore[attr-defined]
    assert len(placeholders) == 2
    for warning in placeholders:
        start, end = warning["original_span"]
        assert original[start:end] == warning["text"] == "20xx"
        assert "20xx" in lines[warning["line"] - 1]
    (script,) = [w for w in report["warnings"] if w["kind"] == "script"]  # type: ignore[attr-defined]
    start, end = script["original_span"]
    assert _PINYIN.sub("", original[start:end]) == "我鄉著眼于" and script["line"] == 2


def test_an_offset_map_over_a_repeat_removal_and_a_layout_change() -> None:
    config = Config()
    body = "第一段,内容是全年工作的回顾与来年的打算和安排。"
    raw = f"标题\r\n\r\n  {body}\r\n{body}\r\n末段(结束)。\r\n".encode()
    outcome = process_submission(ingest.submission_of(raw, Path("a.txt"), "a.txt", config.ingest), config)
    assert isinstance(outcome, Processed)
    origin = Origin.of(outcome)
    text, source = outcome.text, outcome.decoded.text
    assert text == "标题\n第一段，内容是全年工作的回顾与来年的打算和安排。\n末段（结束）。"
    last = text.index("末段")
    start, end = origin.archived(last, last + 2)
    assert source[start:end] == "末段"
    start, end = origin.archived(text.index("内容"), text.index("内容") + 2)
    assert source[start:end] == "内容" and start < source.index("\r\n第一段")


def test_removal_spans_give_the_text_remove_repeats_archives() -> None:
    text = "甲\n乙\n甲\n丙\n甲"
    passages = [Passage(i, "para", 2 * i, 2 * i + 1, text[2 * i], 0) for i in range(5)]
    removed = [passages[2], passages[4]]
    spans = removal_spans(text, removed)
    kept = "".join(
        text[a:b]
        for a, b in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [len(text)], strict=True)
    )
    assert kept == "甲\n乙\n丙"


def test_clean_prints_its_warnings_in_chinese_with_the_line(tmp_path: Path) -> None:
    out = tmp_path / "seed.txt"
    result = CliRunner().invoke(main, ["clean", str(SEED), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")
    lines = result.stderr.splitlines()
    assert "修改 1327 处（标题分行 10，拼音 574，标点 105，繁转简 638）" in lines[0]
    assert "删除重复段落 16 段，警告 3 条" in lines[0]
    assert lines[1:] == [
        "  第4行「20xx」：模板占位符“20xx”没有填写。填上实际的年份、数字或名称后再归档。",
        "  第12行「20xx」：模板占位符“20xx”没有填写。填上实际的年份、数字或名称后再归档。",
        "  第2行「我乡着眼于」：“著”转成了“着”（在此处）：“著”在简体中也用（人名、地名、固定用法）。"
        "逐处核对原件：原文若是“著”，请改回。",
    ]


def test_json_warnings_have_chinese_and_english() -> None:
    warning = seed_report()["warnings"][0]  # type: ignore[index]
    assert warning["message_en"] == "template placeholder '20xx' left in: fill in the real value"
    assert warning["message_zh"] == "模板占位符“20xx”没有填写"
    assert warning["advice_zh"] and warning["quote"] == "20xx" and warning["line"] == 4


def test_several_files_go_into_a_folder(tmp_path: Path) -> None:
    other = tmp_path / "in" / "b.txt"
    other.parent.mkdir()
    other.write_text("二○○○年工作总结\n一、工作回顾\n今年完成了任务。\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["clean", str(SEED), str(other), "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["b.txt", "seed.txt"]
    assert (out / "seed.txt").read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")
    assert (out / "b.txt").read_text(encoding="utf-8") == "二○○○年工作总结\n一、工作回顾\n今年完成了任务。\n"
    assert "b.txt：utf-8" in result.stderr and "警告 0 条" in result.stderr  # 二○○○ is a year


def test_several_files_need_a_folder_and_distinct_names(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["clean", str(SEED), str(SEED)], catch_exceptions=False)
    assert result.exit_code == 1 and "give -o DIR" in result.output
    result = runner.invoke(main, ["clean", str(SEED), str(SEED), "-o", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1 and "have the same name seed.txt" in result.output


def test_several_files_with_a_rejected_one_clean_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["clean", str(bad), str(SEED), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "bad.txt: rejected (binary)" in result.stderr and "Error: 1 of 2 files rejected" in result.stderr
    assert (out / "seed.txt").read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")
    assert not (out / "bad.txt").exists()


def test_standard_input_to_standard_output() -> None:
    result = CliRunner().invoke(
        main, ["clean", "-", "-o", "-"], input=SEED.read_bytes(), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")
    assert "(standard input)：utf-8" in result.stderr


def test_euc_tw_is_rejected_as_an_unsupported_encoding() -> None:
    result = CliRunner().invoke(main, ["clean", str(EUC_TW)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == f"Error: {EUC_TW}: rejected (decode): {EUC_TW_UNSUPPORTED}\n"


def test_a_big5_file_is_warned_that_characters_may_be_lost(tmp_path: Path) -> None:
    big5 = ROOT / "tests" / "data" / "encoded" / "enc-025.txt"
    result = CliRunner().invoke(
        main, ["clean", str(big5), "-o", str(tmp_path / "out.txt")], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "  第1行：文件是 big5 编码，存不下部分简体字（如“〇”“勠”“礴”）" in result.stderr


def test_euc_tw_is_recognised_only_when_every_high_byte_fits_it() -> None:
    assert is_euc_tw(EUC_TW.read_bytes())
    assert not is_euc_tw(b"PK\x03\x04" + bytes(range(256)) * 4)  # a ZIP: bytes 80-A0 are no EUC-TW
    # ASCII runs before a byte that fits nothing: the pattern must not retry every way to split them
    assert not is_euc_tw(b"report " * 40 + "中文".encode("big5") * 4 + b"\x8e\xff")
