"""clean: each step on small real cases, idempotence, the seed golden file, the bench inbox score."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import CleanConfig
from archiver.records import Decoded, Submission
from archiver.stages.clean import STEPS, clean, clean_text

HERE = Path(__file__).resolve().parent
SEED = HERE / "data" / "seed.txt"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT = CleanConfig()

# A genuine Taiwan/Hong Kong style paragraph: 裡/裏, 台/臺, 着, 綫 are forms s2tw never writes.
GENUINE_TRADITIONAL = (
    "我們在這裡討論香港的發展，台灣和臺灣的寫法都有人用。他着急地走進屋裏，看見綫路已經接好了。"
    "政府會繼續推動經濟發展，加強基礎建設。"
)


def cleaned(text: str, **config: object) -> str:
    return clean_text(text, CleanConfig(**config))[0]  # type: ignore[arg-type]


def test_steps_are_named_in_order() -> None:
    assert STEPS[0] == "invisible" and STEPS[-1] == "headings"
    order = [STEPS.index(step) for step in ("pinyin", "script", "punctuation", "whitespace")]
    assert order == sorted(order)


def test_invisible_and_newlines() -> None:
    text, changes, _ = clean_text("\ufeff第一行\u200b内容\r\n第二行\r第三\x07行", DEFAULT)
    assert text == "第一行内容\n第二行\n第三行"
    assert {c.kind for c in changes} == {"invisible", "newline"}
    assert all(c.step == "invisible" for c in changes)


def test_pinyin_stripped_only_after_its_character() -> None:
    assert cleaned("加強(qiáng)領(lǐng)導(dǎo)") == "加强领导"
    assert cleaned("加強（qiang）領導", traditional="never") == "加強領導"  # tone-less, full-width parens
    assert cleaned("綠(lǜ)化和綠(lv)化", traditional="never") == "綠化和綠化"  # ü written as v
    for kept in ("（一）", "（2020）", "（试行）", "（WHO）", "工作(a)", "abc(qiáng)", "领导(shi)"):
        assert cleaned(kept.replace("（", "(").replace("）", ")")).replace("（", "(").replace("）", ")") == (
            kept.replace("（", "(").replace("）", ")")
        ), kept


def test_pinyin_changes_locate_the_annotation() -> None:
    text = "加強(qiáng)領導"
    _, changes, _ = clean_text(text, DEFAULT)
    pin = [c for c in changes if c.kind == "pinyin"]
    assert [(c.start, c.end, c.before, c.after) for c in pin] == [(2, 9, "(qiáng)", "")]
    assert text[pin[0].start : pin[0].end] == pin[0].before


def test_script_auto_converts_annotated_and_machine_traditional() -> None:
    assert cleaned("我鄉著眼於建立(qiáng)長效機制").startswith("我乡着眼于")
    machine = "為進一步做好政務公開工作，切實推進政府資訊公開，我鄉著眼於建立長效機制。"
    text, changes, converted = clean_text(machine, DEFAULT)
    assert converted and text == "为进一步做好政务公开工作，切实推进政府资讯公开，我乡着眼于建立长效机制。"
    assert all(machine[c.start : c.end] == c.before for c in changes if c.kind == "t2s")


def test_script_auto_keeps_genuine_traditional_and_simplified() -> None:
    text, _, converted = clean_text(GENUINE_TRADITIONAL, DEFAULT)
    assert not converted and text == GENUINE_TRADITIONAL
    simplified = "我们要坚持著作权保护，推进台湾同胞交流。"
    assert clean_text(simplified, DEFAULT)[:1] == (simplified,)
    assert cleaned(GENUINE_TRADITIONAL, traditional="always") != GENUINE_TRADITIONAL
    assert cleaned("加強(qiáng)領導", traditional="never") == "加強領導"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("完成,全年增长5%,达到1,000万元。", "完成，全年增长5%，达到1,000万元。"),
        ("(一)公开的形式", "（一）公开的形式"),
        ("在(2020)年", "在（2020）年"),
        ("世界卫生组织(WHO)发布", "世界卫生组织（WHO）发布"),
        ("f(x) = 2.5, at 3:00", "f(x) = 2.5, at 3:00"),
        ("网址:http://www.gov.cn/a?b=1", "网址：http://www.gov.cn/a?b=1"),
        ("1.工作目标", "1.工作目标"),
        ("是否完成?!好的;下面:", "是否完成？！好的；下面："),
        ("x(a),中", "x（a），中"),
    ],
)
def test_punctuation(before: str, after: str) -> None:
    text = cleaned(before)
    assert text == after
    assert text.count("（") == text.count("）")


def test_whitespace_layout() -> None:
    text = "\u3000\u3000第一段。\u3000\u3000第二段。  \n\n\n  第三段。\n"
    assert cleaned(text) == "第一段。\n第二段。\n第三段。"


def test_runin_headings() -> None:
    assert cleaned("（一）公开的形式更加完善。全面贯彻条例，完善了公开形式。") == (
        "（一）公开的形式更加完善。\n全面贯彻条例，完善了公开形式。"
    )
    assert cleaned("五、存在的不足和问题 20xx年我乡取得了一定成效。") == (
        "五、存在的不足和问题\n20xx年我乡取得了一定成效。"
    )
    assert cleaned("1.促进发展。维护社会稳定，是基本条件。") == "1.促进发展。\n维护社会稳定，是基本条件。"
    long_item = "一、我们在过去一年里坚持以人民为中心的发展思想，持续改善民生。另外还做了很多工作。"
    assert cleaned(long_item) == long_item  # a list-item paragraph, not a heading
    assert cleaned("（一）标题。正文。", split_runin_headings=False) == "（一）标题。正文。"


def test_clean_wraps_decoded() -> None:
    sub = Submission(path=SEED, relpath="seed.txt", raw=b"", sha512="", authority=None, year=None)
    result = clean(Decoded(submission=sub, text="為(wèi)民", encoding="utf-8", confidence=1.0), DEFAULT)
    assert result.text == "为民" and result.converted_script and result.decoded.submission is sub


_ALPHABET = st.sampled_from(
    [
        *"加強領導为民的工作我乡著眼於建立一二三（）()，,；;：:？?！!。 \u3000\n\r\t\ufeff\u200babc12x.",
        "(qiáng)",
        "(lǐng)",
        "\u3000\u3000",
        "（一）",
        "五、",
        "1.",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_clean_is_idempotent(text: str) -> None:
    once = cleaned(text)
    assert cleaned(once) == once


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_changes_locate_their_before_text(text: str) -> None:
    """Replaying the changes step by step reproduces the cleaned text."""
    result, changes, _ = clean_text(text, DEFAULT)
    current = text
    for step in STEPS:
        mine = [c for c in changes if c.step == step]
        for c in reversed(mine):
            assert current[c.start : c.end] == c.before
            current = current[: c.start] + c.after + current[c.end :]
    assert current == result


def test_seed_golden(golden: Callable[[str, str], None]) -> None:
    text, _, converted = clean_text(SEED.read_text(encoding="utf-8"), DEFAULT)
    golden("seed.cleaned.txt", text)
    assert converted and "(" not in text and "著眼" not in text and "着眼" in text
    assert "," not in text and "，" in text
    for heading in ("一、", "二、", "三、", "四、", "五、", "（一）", "（二）", "（三）", "（四）"):
        assert f"\n{heading}" in "\n" + text


# ---------------------------------------------------------------- the bench inbox (quality figures)

CODECS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "utf-16le-bom": "utf-16",
    "utf-16be-bom": "utf-16",
    "big5": "cp950",
    "cp950": "cp950",
}


def _decode(raw: bytes, encoding: str, damage: list[str]) -> str:
    """The bench file's text by its true encoding (the decode stage is not under test here)."""
    if encoding == "utf-8+gbk":
        lines = []
        for line in raw.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line.decode("gb18030"))
        return "\n".join(lines)
    return raw.decode(CODECS[encoding], errors="ignore" if "truncated" in damage else "strict")


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (bench kit) not present")
def test_bench_clean_similarity(bench_inbox: Path) -> None:
    sys.path.insert(0, str(SHARED / "bench"))
    import benchlib  # type: ignore[import-not-found]

    scores: dict[str, list[float]] = defaultdict(list)
    for line in (bench_inbox / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["status"] != "archived":
            continue
        raw = (bench_inbox / record["file"]).read_bytes()
        text = _decode(raw, record["encoding"], record["damage"])
        expected = "\n".join(item["text"] for item in record["items"])
        score = benchlib.similarity(benchlib.norm_ws(cleaned(text)), benchlib.norm_ws(expected))
        for tag in ["all", f"enc:{record['encoding']}", *record["damage"]]:
            scores[tag].append(score)
    means = {tag: sum(v) / len(v) for tag, v in scores.items()}
    print({tag: round(m, 4) for tag, m in sorted(means.items())})
    assert means["all"] >= 0.99
    low = {tag: m for tag, m in means.items() if m < 0.97}
    assert not low, low
