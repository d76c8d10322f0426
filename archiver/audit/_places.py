"""Another place's names in copied text: the classic giveaway of a copy from another authority.

In each passage a document reuses from another authority (substantive, not formula), the place
and organisation names (jieba's part-of-speech tags ``ns`` and ``nt``) that are flagged are those

- also in the source passage (copied along with the text),
- nowhere in the document's own text (its title and the passages it does not share), and
- in the texts of at most half of the authorities, copies of this passage not counted: not a
  name every report uses (中国, 国务院).

So a county plan that copied the neighbour's hydrology paragraph keeps the neighbour's river and
township names, which its own text never mentions: those are listed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from archiver.audit._snapshot import Para, Snapshot

TAGS = frozenset({"ns", "nt"})
MIN_NAME = 2  # characters: jieba tags single characters as places too (京, 沪)
COMMON_SHARE = 0.5  # a name in the texts of more than this share of authorities is everyone's


@dataclass(frozen=True)
class ForeignName:
    name: str
    tag: str  # ns (place) | nt (organisation)
    passage_id: int  # the reusing passage
    start: int  # offset of the name in the passage's text
    source_id: int  # the passage it was copied from
    source_submission_id: int


@cache
def _posseg() -> object:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def names(text: str) -> Iterator[tuple[str, str, int]]:
    """(name, tag, offset) of the place and organisation names jieba finds in ``text``."""
    posseg = _posseg()
    at = 0
    for pair in posseg.cut(text):  # type: ignore[attr-defined]
        word, flag = pair.word, pair.flag
        if flag in TAGS and len(word) >= MIN_NAME:
            yield word, flag, at
        at += len(word)


class Flagger:
    """Finds the foreign names of a snapshot's documents (see the module docstring)."""

    def __init__(self, snapshot: Snapshot, linked: dict[int, set[int]]) -> None:
        self.snapshot = snapshot
        self.linked = linked  # rep → the reps linked to it
        self.authorities = len({d.authority for d in snapshot.docs.values()})
        self._holders: dict[str, dict[str | None, set[int | None]]] = {}

    def _places(self, name: str) -> dict[str | None, set[int | None]]:
        """Authority → the groups (rep ids; None: a passage of no group) whose text has ``name``."""
        if name not in self._holders:
            found: dict[str | None, set[int | None]] = {}
            for para in self.snapshot.paras.values():
                doc = self.snapshot.docs.get(para.submission_id)
                if doc is not None and not para.removed and name in para.text:
                    found.setdefault(doc.authority, set()).add(para.rep_id)
            self._holders[name] = found
        return self._holders[name]

    def common(self, name: str, rep: int | None) -> bool:
        """Whether more than half of the authorities use ``name`` outside the group of ``rep``
        and the groups linked to it (its copies)."""
        copies = {rep, *self.linked.get(rep or 0, ())} if rep is not None else set()
        users = sum(1 for groups in self._places(name).values() if groups - copies)
        return users > COMMON_SHARE * self.authorities

    def flag(self, doc_id: int, copied: dict[int, tuple[int, int]]) -> list[ForeignName]:
        """``copied``: passage id → (source passage id, source submission id), for the passages
        of document ``doc_id`` reused from another authority."""
        snap = self.snapshot
        doc = snap.docs[doc_id]
        own = [doc.title] + [
            snap.paras[i].text
            for i in snap.by_doc.get(doc_id, ())
            if i not in copied and not snap.paras[i].removed
        ]
        found: list[ForeignName] = []
        for passage_id, (source_id, source_sub) in sorted(copied.items()):
            para: Para = snap.paras[passage_id]
            source = snap.paras[source_id].text
            for name, tag, start in names(para.text):
                if (
                    name in source
                    and not any(name in text for text in own)
                    and not self.common(name, para.rep_id)
                ):
                    found.append(ForeignName(name, tag, passage_id, start, source_id, source_sub))
        return found


__all__ = ["Flagger", "ForeignName", "names"]
