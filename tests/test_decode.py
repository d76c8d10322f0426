"""decode: real encoded files, the bench inbox's bad inputs, and the no-silent-loss property."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import random
from pathlib import Path

import chardet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import DecodeConfig
from archiver.records import Decoded, Rejection, Submission
from archiver.stages._detect import CHINESE_LEGACY, chardet_detect
from archiver.stages.decode import DETECT_PREFIX, decode, unsure_single_byte

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = Path(__file__).resolve().parent / "data" / "encoded"
CONFIG = DecodeConfig()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus) not present")

REPORT = (
    "国务院2024年政府工作报告\n　　一、2023年工作回顾\n　　过去一年，我国经济回升向好，高质量发展扎实推进。\n"
)


def sub(raw: bytes, name: str = "x/2024/a.txt") -> Submission:
    return Submission(Path("/in") / name, name, raw, hashlib.sha512(raw).hexdigest(), None, None)


def decoded(raw: bytes, config: DecodeConfig = CONFIG) -> Decoded:
    result = decode(sub(raw), config)
    assert isinstance(result, Decoded), result
    return result


def rejected(raw: bytes, config: DecodeConfig = CONFIG) -> Rejection:
    result = decode(sub(raw), config)
    assert isinstance(result, Rejection), result
    return result


def truth_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "TRUTH.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("row", truth_rows(DATA), ids=lambda row: row["filename"])
def test_fixture_files_decode_to_their_true_text(row: dict[str, str]) -> None:
    result = decoded((DATA / row["filename"]).read_bytes())
    assert sha256_text(result.text) == row["sha256_of_true_text"]
    assert "\ufeff" not in result.text


@needs_shared
def test_every_encoded_corpus_file_decodes_to_its_true_text() -> None:
    folder = SHARED / "corpus" / "encoded"
    wrong = []
    for row in truth_rows(folder):
        result = decode(sub((folder / row["filename"]).read_bytes()), CONFIG)
        if not isinstance(result, Decoded) or sha256_text(result.text) != row["sha256_of_true_text"]:
            wrong.append((row["filename"], row["true_encoding"], getattr(result, "encoding", result)))
    assert wrong == []
    assert len(truth_rows(folder)) == 36


def test_empty_and_blank_files_are_empty() -> None:
    assert rejected(b"").reason == "empty"
    assert rejected(b" \r\n\t\n").reason == "empty"
    assert rejected(codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")).reason == "empty"


@pytest.mark.parametrize("raw", [b"\xe4", b"\xe4\xb8", b" \n\xe4", codecs.BOM_UTF8 + b"\xe4"])
def test_a_lone_incomplete_character_is_not_called_whitespace(raw: bytes) -> None:
    result = rejected(raw)
    assert result.reason == "decode"
    assert "incomplete utf-8" in result.detail and f"({len(raw)} bytes)" in result.detail


def test_random_bytes_are_binary() -> None:
    noise = random.Random(7).randbytes(4096)
    assert rejected(noise).reason == "binary"
    no_nul = bytes(b or 1 for b in noise)  # without the NUL shortcut the text check must catch it
    assert rejected(no_nul).reason == "binary"


def test_png_header_is_binary() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(2000)
    result = rejected(png)
    assert (result.reason, "PNG" in result.detail) == ("binary", True)


def test_utf8_truncated_mid_character_is_repaired_not_rejected() -> None:
    raw = REPORT.encode("utf-8") + "推进".encode()[:-1]  # 推 complete, 进 cut after 2 of its 3 bytes
    result = decoded(raw)
    assert result.text == REPORT + "推"
    assert [r.kind for r in result.repairs] == ["truncated_tail"]
    assert result.encoding == "utf-8"


@pytest.mark.parametrize("codec", ["gb18030", "big5", "utf-16"])
def test_truncated_tail_in_other_codecs(codec: str) -> None:
    text = "政府工作報告" * 40 if codec == "big5" else REPORT * 3 + "推进"
    raw = text.encode(codec)[:-1]
    result = decoded(raw)
    assert result.text == text[:-1]
    assert "truncated_tail" in [r.kind for r in result.repairs]


def without_byte(text: str, char: int, byte: int) -> tuple[bytes, int]:
    """``text`` in UTF-8 with byte ``byte`` of character ``char`` deleted; that character's offset."""
    offset = len(text[:char].encode())
    raw = text.encode()
    return raw[: offset + byte] + raw[offset + byte + 1 :], offset


@pytest.mark.parametrize("byte", [0, 1, 2])
def test_a_byte_lost_inside_a_utf8_report_is_replaced_and_reported_with_its_offset(byte: int) -> None:
    text = REPORT * 3
    raw, offset = without_byte(text, 2, byte)  # 务 of 国务院, line 1; valid lines follow
    result = decoded(raw)
    assert result.text == text[:2] + "\ufffd" + text[3:]
    assert (result.encoding, [(r.kind, r.line) for r in result.repairs]) == ("utf-8", [("damaged_utf8", 1)])
    assert f"byte offset {offset}: 2 byte(s)" in result.repairs[0].detail


def test_a_truncated_utf8_file_with_a_line_appended_later_is_repaired_at_the_cut() -> None:
    cut = (REPORT * 2).encode()[:-5]  # 。 and the newline gone, 进 cut after 2 of its 3 bytes
    raw = cut + "\n　　附：补充说明一行。\n".encode()
    result = decoded(raw)
    assert result.text == (REPORT * 2)[:-3] + "\ufffd\n　　附：补充说明一行。\n"
    assert [(r.kind, r.line) for r in result.repairs] == [("damaged_utf8", 6)]
    assert f"byte offset {len(cut) - 2}: 2 byte(s)" in result.repairs[0].detail


def test_a_damaged_character_after_a_utf8_bom_is_reported_at_its_offset_in_the_file() -> None:
    raw, offset = without_byte(REPORT, 2, 1)
    result = decoded(codecs.BOM_UTF8 + raw)
    assert [r.kind for r in result.repairs] == ["bom", "damaged_utf8"]
    assert f"byte offset {offset + 3}:" in result.repairs[1].detail


@given(st.integers(0, 10_000), st.integers(0, 2))
@settings(max_examples=200, deadline=None)
def test_any_one_byte_lost_from_a_chinese_character_costs_that_character_only(seed: int, byte: int) -> None:
    text = REPORT * 2
    han = [i for i, ch in enumerate(text) if len(ch.encode()) == 3]
    char = han[seed % len(han)]
    raw, _ = without_byte(text, char, byte)
    result = decoded(raw)
    assert result.text == text[:char] + "\ufffd" + text[char + 1 :]
    assert [r.kind for r in result.repairs] == ["damaged_utf8"]


def test_more_damaged_characters_than_max_damaged_are_not_read_as_damaged_utf8() -> None:
    line = ("国务院" * 4 + "\n").encode()
    raw = (line[:-2] + line[-1:]) * 10  # every line's last 院 lost its last byte
    result = decode(sub(raw), CONFIG, detect=lambda _: (None, 0.0))
    assert isinstance(result, Rejection)
    assert isinstance(decode(sub(raw[: 8 * 36 + 9]), CONFIG), Decoded)  # 8 damaged lines, 3 characters


def test_utf8_with_one_gbk_line_decodes_that_line_right() -> None:
    gbk_line = "关于本年国家预算收支数字，还有两点需要说明。"
    lines = [f"　　第{i}段：过去一年，我国经济回升向好。" for i in range(8)]
    head, tail = "\n".join(lines[:4]).encode(), "\n".join(lines[4:]).encode()
    raw = head + b"\n" + gbk_line.encode("gbk") + b"\n" + tail
    result = decoded(raw)
    assert result.text == "\n".join([*lines[:4], gbk_line, *lines[4:]])
    assert result.encoding == "utf-8+gb18030"
    assert [(r.kind, r.line) for r in result.repairs] == [("mixed_line", 5)]


def test_a_long_single_line_is_oversize() -> None:
    line = ("经济回升向好" * 40_000)[:200_000]
    assert rejected(line.encode()).reason == "oversize_line"
    assert decoded(line.encode(), DecodeConfig(max_line_chars=300_000)).text == line


def test_a_file_over_max_bytes_is_oversize_without_being_read() -> None:
    raw = "经济回升向好。\n".encode() * 10  # 220 bytes
    limit = DecodeConfig(max_bytes=len(raw) - 1)
    found = rejected(raw, limit)
    assert (found.reason, found.detail) == (
        "oversize",
        f"{len(raw)} bytes (limit {len(raw) - 1}, [decode] max_bytes): kept as received",
    )
    assert rejected(b"\x89PNG\r\n\x1a\n" + raw, limit).reason == "oversize"  # checked first
    assert decoded(raw, DecodeConfig(max_bytes=len(raw))).text == raw.decode()


@pytest.mark.parametrize(
    ("bom", "codec", "name"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    ],
)
def test_bom_files(bom: bytes, codec: str, name: str) -> None:
    result = decoded(bom + REPORT.encode(codec))
    assert (result.text, result.encoding, result.confidence) == (REPORT, name, 1.0)
    assert [r.kind for r in result.repairs] == ["bom"]


def test_bomless_utf16_with_ascii_is_read_by_its_nul_pattern() -> None:
    text = "Report 2024: 政府工作报告, section 1.\n" * 20
    assert decoded(text.encode("utf-16-le")).text == text
    assert decoded(text.encode("utf-16-be")).text == text


def test_detector_is_injected_and_its_gb_answer_is_read_as_gb18030() -> None:
    raw = "政府工作报告：𠀀".encode("gb18030")  # a 4-byte GB18030 character, not in GBK
    result = decode(sub(raw), CONFIG, detect=lambda _: ("GB2312", 0.42))
    assert isinstance(result, Decoded)
    assert (result.text, result.encoding, result.confidence) == ("政府工作报告：𠀀", "gb18030", 0.42)


def test_an_unsure_greek_answer_for_chinese_bytes_is_never_accepted() -> None:
    raw = "政府工作报告，经济回升向好。".encode("gbk")
    result = decode(sub(raw), CONFIG, detect=lambda _: ("cp737", 0.03))
    assert isinstance(result, Rejection)


def test_an_unsure_latin_code_page_guess_is_kept_but_flagged() -> None:
    latin1 = decoded("naïve café\n".encode("latin-1"))  # chardet: cp1250 at 0.02, "naďve"
    assert unsure_single_byte(latin1)
    sure = [REPORT.encode(), REPORT.encode("gb18030"), b"plain ASCII report\n", "café\n".encode("utf-16")]
    assert not any(unsure_single_byte(decoded(raw)) for raw in sure)


def test_min_confidence_rejects_unsure_answers() -> None:
    raw = "政府工作报告".encode("gbk")
    result = decode(sub(raw), DecodeConfig(min_confidence=0.5), detect=lambda _: ("GBK", 0.2))
    assert isinstance(result, Rejection) and result.reason == "decode"


def test_bytes_no_codec_can_read_are_a_decode_rejection() -> None:
    raw = b"\xa4\xa4\xff\xfe text \x81"
    result = decode(sub(raw), CONFIG, detect=lambda _: ("Big5", 0.9))
    assert isinstance(result, Rejection) and result.reason == "decode"
    assert "Big5" in result.detail


@given(st.binary(max_size=600))
@settings(max_examples=400, deadline=None)
def test_no_bytes_are_lost_silently(raw: bytes) -> None:
    result = decode(sub(raw), CONFIG)
    if isinstance(result, Rejection):
        return
    assert result.repairs or result.text.encode(result.encoding) == raw


@given(st.text(max_size=300).filter(lambda t: t.strip() and "\x00" not in t and not t.startswith("\ufeff")))
@settings(max_examples=300, deadline=None)
def test_utf8_text_comes_back_unchanged(text: str) -> None:
    # NUL-bearing bytes are the binary / BOM-less UTF-16 zone, tested above. A leading U+FEFF
    # is, in UTF-8 bytes, the byte order mark: read as utf-8-sig, tested below.
    result = decode(sub(text.encode()), CONFIG)
    assert isinstance(result, Decoded)
    assert (result.text, result.encoding, result.repairs) == (text, "utf-8", ())


def test_a_file_of_a_utf8_bom_alone_is_empty_and_after_a_bom_the_text_is_kept() -> None:
    alone = decode(sub("\ufeff".encode()), CONFIG)
    assert isinstance(alone, Rejection) and alone.reason == "empty"
    marked = decode(sub("\ufeff政府工作报告".encode()), CONFIG)
    assert isinstance(marked, Decoded) and marked.text == "政府工作报告"


def family(encoding: str) -> str:
    name = encoding.lower()
    if "+" in name:
        return "mixed"
    prefixes = (("utf-16", "utf-16"), ("utf-8", "utf-8"), ("gb", "gb"), ("big5", "big5"), ("cp950", "big5"))
    for prefix, fam in prefixes:
        if name.startswith(prefix):
            return fam
    return name


def test_bench_inbox_statuses_and_encodings(bench_inbox: Path) -> None:
    truth = (bench_inbox / "truth.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in truth.splitlines()]
    for row in rows:
        result = decode(sub((bench_inbox / row["file"]).read_bytes(), row["file"]), CONFIG)
        status = ("archived", None) if isinstance(result, Decoded) else ("rejected", result.reason)
        assert status == (row["status"], row["reason"]), row["file"]
        if isinstance(result, Decoded):
            assert "\ufffd" not in result.text, row["file"]
            assert family(result.encoding) == family(row["encoding"]), row["file"]
            _check_damaged_items(result.text.replace("\r\n", "\n"), row)


def _check_damaged_items(text: str, row: dict[str, object]) -> None:
    items = row["items"]
    assert isinstance(items, list)
    for item in items:
        damage = item.get("damage") or []
        if "gbk_line" in damage:
            assert item.get("raw", item["text"]) in text
        if "truncated" in damage:
            assert text.rstrip().endswith(item.get("raw", item["text"]))


def _full_chardet(data: bytes) -> tuple[str | None, float]:
    """chardet over every encoding it knows: what ``chardet_detect`` answered before it asked
    the Chinese encodings first."""
    result = chardet.detect(data, max_bytes=max(len(data), 1), prefer_superset=False)
    return result["encoding"], float(result["confidence"] or 0.0)


def _legacy_files(paths: list[Path]) -> list[bytes]:
    """The files chardet is asked about: not UTF-8, no NUL bytes (BOMs and UTF-16 go first)."""
    found = []
    for path in paths:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            if b"\x00" not in raw:
                found.append(raw)
    return found


def _assert_detection_unchanged(files: list[bytes]) -> None:
    for raw in files:
        for sample in {raw[:DETECT_PREFIX], raw}:
            assert chardet_detect(sample) == _full_chardet(sample), sample[:40]


def test_asking_chinese_encodings_first_gives_the_full_answer_on_the_fixtures() -> None:
    files = _legacy_files([*sorted(DATA.glob("enc-*")), DATA.parent / "seed.txt"])
    assert len(files) >= 3
    _assert_detection_unchanged(files)


@needs_shared
def test_asking_chinese_encodings_first_gives_the_full_answer_on_the_corpus_and_bench_inbox(
    bench_inbox: Path,
) -> None:
    paths = sorted((SHARED / "corpus" / "encoded").glob("enc-*"))
    paths += sorted(p for p in (bench_inbox / "inbox").rglob("*") if p.is_file())
    files = _legacy_files(paths)
    assert len(files) >= 40
    _assert_detection_unchanged(files)


@pytest.mark.parametrize("codec", ["euc-kr", "euc-jp", "shift_jis", "iso-2022-jp"])
def test_japanese_and_korean_text_is_not_taken_for_chinese(codec: str) -> None:
    text = {
        "euc-kr": "대한민국 정부는 국민의 생활 안정을 위하여 노력하고 있습니다. ",
        "euc-jp": "日本国政府は国民の生活の安定のために努力しています。",
        "shift_jis": "日本国政府は国民の生活の安定のために努力しています。",
        "iso-2022-jp": "日本国政府は国民の生活の安定のために努力しています。",
    }[codec]
    raw = (text * 30).encode(codec)
    found = chardet_detect(raw)
    assert found == _full_chardet(raw)
    assert found[0] is not None and found[0].lower() not in CHINESE_LEGACY
