"""detect: chardet's answer for bytes that are not UTF-8, asked about Chinese encodings first.

``chardet_detect(data) -> (encoding or None, confidence)``, the default ``decode.Detector``.
"""

from __future__ import annotations

from collections.abc import Sequence

import chardet

# The encodings Chinese submissions without a BOM come in once UTF-8 has failed, which chardet
# is asked about first (see ``chardet_detect``), and how sure it must be for that answer to stand.
CHINESE_LEGACY = ("gb18030", "big5", "big5hkscs")
SURE_AMONG_CHINESE = 0.5


def chardet_detect(data: bytes) -> tuple[str | None, float]:
    """chardet's (encoding, confidence) for ``data`` (all of it is examined).

    chardet is first asked to weigh only ``CHINESE_LEGACY``, much cheaper than weighing its ~90
    encodings (bench/HISTORY.md). That answer stands only when it is ``SURE_AMONG_CHINESE``;
    anything less is asked again over every encoding, so short snippets, Japanese or Korean text
    and noise get the answer they always did. On the non-UTF-8 files of the bench inbox and the
    encoded corpus the answers that stand equal the full question's (tested); Chinese models
    read Japanese and Korean text at 0.27 at most.
    """
    found = _chardet(data, CHINESE_LEGACY)
    if found[0] is not None and found[1] >= SURE_AMONG_CHINESE:
        return found
    return _chardet(data, None)


def _chardet(data: bytes, only: Sequence[str] | None) -> tuple[str | None, float]:
    size = max(len(data), 1)
    if only is None:
        result = chardet.detect(data, max_bytes=size, prefer_superset=False)
    else:
        result = chardet.detect(
            data, max_bytes=size, prefer_superset=False, include_encodings=only, no_match_encoding=only[0]
        )
    return result["encoding"], float(result["confidence"] or 0.0)
