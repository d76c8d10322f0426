"""utf16: BOM-less UTF-16 is read when it is plausible text in one byte order, never from binary."""

from __future__ import annotations

import codecs
import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import DecodeConfig
from archiver.records import Decoded, Rejection, Submission
from archiver.stages._utf16 import bomless_codec
from archiver.stages.decode import decode

# Real text: the first lines of ../shared/corpus/reports/npc-resolution-on-gwr_2015_wikisource.txt
# (the NPC resolution on the 2015 government work report): mostly Han, 4 ASCII digits per 200
# characters, so NUL is in the low byte of 一 and the high byte of the digits and line breaks.
LINES = (
    "第十二届全国人民代表大会第三次会议听取和审议了国务院总理李克强所作的",
    "政府工作报告",
    "。会议充分肯定国务院过去一年的工作，同意报告提出的2015年工作总体部署、目标任务和政策措施，决定批准这个报告。",
    "会议号召，全国各族人民紧密团结在以习近平同志为总书记的党中央周围，高举中国特色社会主义伟大旗帜，"
    "全面贯彻党的十八大和十八届三中、四中全会精神，以邓小平理论、“三个代表”重要思想、科学发展观为指导，"
    "深入贯彻习近平总书记系列重要讲话精神，按照全面建成小康社会、全面深化改革、全面依法治国、全面从严治党的战略布局，"
    "坚持稳中求进工作总基调，主动适应经济发展新常态，凝心聚力，攻坚克难，开拓创新，扎实工作，"
    "促进经济平稳健康发展和社会和谐稳定，为实现“两个一百年”奋斗目标、实现中华民族伟大复兴的中国梦而努力奋斗！",
)
RESOLUTION = "\n".join(LINES) + "\n"


def decode_bytes(raw: bytes) -> Decoded | Rejection:
    sub = Submission(Path("/in/a.txt"), "a.txt", raw, hashlib.sha512(raw).hexdigest(), None, None)
    return decode(sub, DecodeConfig())


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_chinese_report_is_read_in_its_byte_order(codec: str) -> None:
    raw = RESOLUTION.encode(codec)
    assert raw.count(0) < len(raw) / 20  # far too few NULs for the ASCII pattern
    result = decode_bytes(raw)
    assert isinstance(result, Decoded), result
    assert (result.text, result.encoding, result.repairs) == (RESOLUTION, codec, ())


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_with_an_odd_last_byte_is_a_truncated_tail(codec: str) -> None:
    result = decode_bytes(RESOLUTION.encode(codec) + b"\x4e")
    assert isinstance(result, Decoded), result
    assert result.text == RESOLUTION
    assert [r.kind for r in result.repairs] == ["truncated_tail"]


def _binary_cases() -> dict[str, bytes]:
    noise = random.Random(11).randbytes(4096)
    return {
        "random bytes": noise,
        "random bytes, NUL in every low byte": bytes(b if i % 2 else 0 for i, b in enumerate(noise)),
        "PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise[:2000],
        "ZIP": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + noise[:2000],
        "PDF": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n\x00\x00" + noise[:2000],
        "UTF-32 LE": RESOLUTION.encode("utf-32-le"),
        "UTF-32 BE": RESOLUTION.encode("utf-32-be"),
        "NULs": b"\x00" * 4096,
    }


@pytest.mark.parametrize("name", list(_binary_cases()))
def test_binary_with_nul_bytes_is_still_binary(name: str) -> None:
    raw = _binary_cases()[name]
    result = decode_bytes(raw)
    assert isinstance(result, Rejection) and result.reason == "binary", result
    assert bomless_codec(raw) is None  # also without the signature check before it


def test_swapped_ascii_reads_as_han_but_the_right_byte_order_wins() -> None:
    text = "annualreport\n" * 10  # swapped, every letter is a Han character (a → 愀)
    assert bomless_codec(text.encode("utf-16-le")) == "utf-16-le"
    assert bomless_codec(text.encode("utf-16-be")) == "utf-16-be"


@given(
    st.lists(
        st.tuples(st.sampled_from(LINES), st.integers(0, 200), st.integers(1, 200)).map(
            lambda t: t[0][t[1] : t[1] + t[2]] or t[0]
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["utf-16-le", "utf-16-be"]),
)
@settings(max_examples=200, deadline=None)
def test_any_bomless_utf16_of_real_lines_comes_back_unchanged(lines: list[str], codec: str) -> None:
    text = "\n".join(lines) + "\n"
    result = decode_bytes(text.encode(codec))
    assert isinstance(result, Decoded), result
    assert (result.text, result.encoding) == (text, codec)


def test_a_utf16_bom_still_decides_before_any_guess() -> None:
    result = decode_bytes(codecs.BOM_UTF16_BE + RESOLUTION.encode("utf-16-be"))
    assert isinstance(result, Decoded) and (result.text, result.encoding) == (RESOLUTION, "utf-16")
