"""export: one JSON line per submission, whatever characters its text holds."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from archiver.audit.export import jsonl_line

# Mostly the characters that break lines for one reader or another, among ordinary text.
TEXT = st.text(st.sampled_from('政府工作报告 。\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"\\a'), max_size=30)


@given(st.dictionaries(st.sampled_from(["file", "cleaned_text", "reason"]), TEXT, min_size=1))
def test_a_record_is_one_line_for_every_reader_and_reads_back_equal(record: dict[str, str]) -> None:
    line = jsonl_line(record)
    assert len(line.splitlines()) == 1 and "\n" not in line
    assert json.loads(line) == record
