"""Risky Traditional → Simplified conversions, Traditional characters left, characters lost in
a legacy encoding: flagged for the clerk; known words keep their form."""

from __future__ import annotations

import csv
import difflib
import re
import shutil
import unicodedata
from pathlib import Path

import opencc
import pytest

from archiver.config import CleanConfig, Config
from archiver.records import Processed
from archiver.stages import ingest, risky, script_checks
from archiver.stages.clean import clean_text
from archiver.stages.process import process_submission
from archiver.stages.report import clerk_report
from tests.conftest import SHARED, needs_shared

CONFIG = Config()
ENCODED = SHARED / "corpus" / "encoded"
REPORTS = SHARED / "corpus" / "reports"
_T2S = opencc.OpenCC("t2s")


def processed(raw: bytes, name: str = "a.txt") -> Processed:
    outcome = process_submission(ingest.submission_of(raw, Path(name), name, CONFIG.ingest), CONFIG)
    assert isinstance(outcome, Processed)
    return outcome


def test_the_risky_table_is_what_the_installed_opencc_says() -> None:
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    if not tool.is_file() or shutil.which(str(tool)) is None:
        pytest.skip("this OpenCC package ships no opencc_dict to read its dictionaries with")
    assert risky.TABLE.read_text(encoding="utf-8").splitlines() == risky.table_lines()
    forms = risky.risky_forms()
    assert forms["乾"] == ("干", "乾") and forms["於"] == ("于", "於") and forms["昇"] == ("升", "昇")
    assert "拚" in forms and "戰" not in forms and "發" not in forms


def test_the_word_frequencies_are_jiebas() -> None:
    import jieba

    jieba.initialize()
    words = risky._words()
    assert words == {w: f for w, f in jieba.dt.FREQ.items() if f > 0}
    assert words["见微知著"] > 2 * words["见微知着"]


def test_a_known_idiom_keeps_its_form_and_ordinary_phrases_convert() -> None:
    text, _, _ = clean_text("見微知著，著眼於未來，標誌著成就，拚命幹。", CleanConfig(traditional="always"))
    assert text == "见微知著，着眼于未来，标志着成就，拼命干。"


def test_risky_conversions_are_warned_once_per_pair_with_their_count() -> None:
    raw = "見微知著(zhù)。用於發展,用於生產。拚命工作。".encode()  # annotated: auto converts
    outcome = processed(raw)
    assert outcome.text == "见微知著。用于发展，用于生产。拼命工作。"
    script = {w.message_zh.split("（")[0]: w for w in outcome.warnings if w.kind == "script"}
    assert set(script) == {"“於”转成了“于”", "“拚”转成了“拼”"}
    assert "共2处" in script["“於”转成了“于”"].message_zh
    assert all(outcome.text[w.start : w.end] == w.text for w in outcome.warnings)
    assert "于" in script["“於”转成了“于”"].text and "拼" in script["“拚”转成了“拼”"].text


def test_a_traditional_character_left_in_simplified_text_is_warned() -> None:
    outcome = processed("今年的经费主要用于基礎设施建设，我们要拚命工作。\n".encode())
    left = [w for w in outcome.warnings if w.kind == "script_left"]
    assert [(w.message_zh, outcome.text[w.start : w.end]) for w in left] == [
        ("简体文本中留有繁体字“礎”（简体作“础”）", "于基礎设施")
    ]  # 拚 (拚命) is also Simplified: no warning in text that was not converted
    converted = processed("見微知著(zhù)，於菟。\n".encode())  # OpenCC keeps 於 in 於菟
    assert [w.text for w in converted.warnings if w.kind == "script_left"] == ["著，於菟。"]


def test_a_question_mark_between_han_in_a_legacy_file_is_a_lost_character() -> None:
    raw = "政府工作报告\n会议指出，要凝聚磅?力量，推动发展。\n".encode("gb18030")
    outcome = processed(raw)
    lost = [w for w in outcome.warnings if w.kind == "lost_char"]
    assert len(lost) == 1 and "磅？力" in lost[0].text
    assert "编码存不下的字" in lost[0].message_zh


def _differences(original: str, cleaned: str) -> list[tuple[str, str]]:
    """What differs between the Simplified original and the cleaned text, ignoring layout,
    invisible characters and the width of punctuation (all recorded repairs)."""

    def norm(text: str) -> str:
        return re.sub(r"[\s\u200b-\u200d\ufeff]", "", unicodedata.normalize("NFKC", text))

    a, b = norm(original), norm(cleaned)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]


@needs_shared
def test_big5_and_traditional_copies_of_real_reports() -> None:
    rows = list(csv.DictReader((ENCODED / "TRUTH.tsv").open(encoding="utf-8"), delimiter="\t"))
    traditional = [r for r in rows if r["true_encoding"] == "big5"]
    assert len(traditional) >= 6
    flagged = 0
    for row in traditional:
        outcome = processed((ENCODED / row["filename"]).read_bytes(), row["filename"])
        original = (REPORTS / row["source_doc"]).read_text(encoding="utf-8")
        trad_left = {c for c in outcome.text if _T2S.convert(c) != c} - set(original)
        assert not trad_left, (row["filename"], trad_left)
        pairs = {w.message_zh.split("（")[0] for w in outcome.warnings if w.kind == "script"}
        kinds = {w.kind for w in outcome.warnings}
        for before, after in _differences(original, outcome.text):
            flagged += 1
            if not after:  # lost when the file was saved in Big5
                assert "legacy_charset" in kinds, (row["filename"], before)
                continue
            assert len(before) == len(after), (row["filename"], before, after)
            for s, t in zip(before, after, strict=True):
                assert f"“{s}”转成了“{t}”" in pairs, (row["filename"], s, t)
    assert flagged > 0


def test_ambiguous_names_are_flagged_and_converted_in_traditional_text() -> None:
    outcome = processed("加強(qiáng)管理，華為昇騰芯片，濛溪河遺址考古發現，後來。\n".encode())
    assert outcome.text == "加强管理，华为升腾芯片，蒙溪河遗址考古发现，后来。"
    script = sorted(w.message_zh.split("（")[0] for w in outcome.warnings if w.kind == "script")
    assert script == ["“後”转成了“后”", "“昇”转成了“升”", "“濛”转成了“蒙”"]


def test_ambiguous_names_keep_their_form_in_simplified_clauses_and_are_flagged() -> None:
    # The pinyin annotation makes clean convert; the names sit in clauses written in Simplified.
    outcome = processed("加強(qiáng)管理，华为昇腾芯片，濛溪河遗址考古发现，後来。\n".encode())
    assert outcome.text == "加强管理，华为昇腾芯片，濛溪河遗址考古发现，后来。"
    kept = {outcome.text[w.start : w.end]: w.message_zh for w in outcome.warnings if w.kind == "script_left"}
    assert set(kept) == {"华为昇腾芯", "片，濛溪河"}
    assert "名称中用它" in kept["华为昇腾芯"] and "应作“升”" in kept["华为昇腾芯"]
    # 後 in a Simplified clause is a stray Traditional form: converted, and flagged.
    assert [w.text for w in outcome.warnings if w.kind == "script"] == ["现，后来。"]


def _big5_copy(simplified: str) -> bytes:
    """``simplified`` as a Big5 copy is made: converted to Traditional, what Big5 cannot hold dropped."""
    return opencc.OpenCC("s2tw").convert(simplified).encode("big5", errors="ignore")


def test_characters_a_legacy_encoding_dropped_are_warned_at_their_place() -> None:
    source = "要实现二〇三五年远景目标。\n全国上下勠力同心，凝聚磅礴力量，推动发展。\n毕力同心，共同奋斗。\n"
    outcome = processed(_big5_copy(source), "b.txt")
    assert (
        outcome.text
        == "要实现二三五年远景目标。\n全国上下力同心，凝聚磅力量，推动发展。\n毕力同心，共同奋斗。"
    )
    lost = [w for w in outcome.warnings if w.kind == "lost_char"]
    assert [outcome.text[w.start : w.end] for w in lost] == [
        "实现二三五年远景",
        "上下力同心，凝",
        "凝聚磅力量",
    ]
    assert "可能是“磅礴”缺了“礴”" in lost[2].message_zh and "补上“礴”" in lost[2].advice_zh
    report = clerk_report(outcome, original_offsets=True)
    places = [w for w in report["warnings"] if w["kind"] == "lost_char"]
    decoded = outcome.decoded.text
    assert [(w["line"], decoded[slice(*w["original_span"])]) for w in places] == [
        (1, "實現二三五年遠景"),
        (2, "上下力同心，凝"),
        (2, "凝聚磅力量"),
    ]
    assert "legacy_charset" in {w.kind for w in outcome.warnings}  # other places stay unmarked


def test_lost_character_warnings_are_capped_with_a_count() -> None:
    line = "会议指出，要凝聚磅?力量，推动发展。\n"
    outcome = processed(("政府工作报告\n" + line * (script_checks.LOST_MAX + 7)).encode("gb18030"))
    lost = [w for w in outcome.warnings if w.kind == "lost_char"]
    assert len(lost) == script_checks.LOST_MAX
    assert lost[-1].message_zh.endswith("（另有7处同类问题未列出）")
    assert not any("未列出" in w.message_zh for w in lost[:-1])
    assert [outcome.text[w.start : w.end] for w in lost] == ["聚磅？力量"] * script_checks.LOST_MAX
