"""What the audit sets apart from substantive reuse: formulas and resubmissions.

Formula (``[audit]``): a matched passage is formulaic, not substantive, when

- its text is found in at least ``formula_authorities`` authorities (its own group and the
  groups linked to it, over the current documents): a mandated opening, a prescribed heading;
- it is a set phrase: at most ``formula_max_chars`` characters (the opening every report must
  have, a meeting-date line), however few authorities share it;
- it matches a passage of a ``templates`` file (a mandated format), looked up in the LSH index
  as ``archiver find`` does.

Resubmission: within one authority and year, a document whose reusable paragraphs are, for at
least ``resubmission_at`` of their characters, matched in an earlier arrival's, and that one's in
it, is a resubmission of the earliest such arrival (a corrected report filed again). It is
labelled, left out of the figures of its authority, and never a source of reuse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from archiver.audit._snapshot import Doc, Para, Snapshot
from archiver.config import Config
from archiver.errors import ConfigError, InputError

Reason = Literal["authorities", "set_phrase", "template"]


@dataclass(frozen=True)
class Rules:
    authorities: int
    max_chars: int
    template_reps: frozenset[int] = frozenset()  # representatives a template passage matches


def rules(session: Session, config: Config) -> Rules:
    """The formula rules of ``[audit]``, with the templates looked up in the archive."""
    audit = config.audit
    reps = template_reps(session, [config.resolve(p) for p in audit.templates], config)
    return Rules(audit.formula_authorities, audit.formula_max_chars, reps)


def template_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Every regular, not hidden, file of ``paths`` (folders read recursively), sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
        else:
            yield path


def template_reps(session: Session, paths: Sequence[Path], config: Config) -> frozenset[int]:
    """The representatives of the archive that a paragraph of a template file matches."""
    from archiver.audit.find import prepare, probes
    from archiver.index.lookup import lookup

    found: set[int] = set()
    for path in template_files(paths):
        try:
            outcome = prepare(path.read_bytes(), str(path), config)
        except (OSError, InputError) as exc:
            raise ConfigError(
                f"[audit] templates: cannot use {path} ({exc}); give text files of mandated formats"
            ) from exc
        for matched in lookup(session, probes(outcome, config), config.fingerprint, config.match).values():
            found.update(matched)
    return frozenset(found)


class Groups:
    """Which authorities hold each group of passages (and the groups linked to it)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.holders: dict[int, set[str | None]] = defaultdict(set)
        for para in snapshot.paras.values():
            doc = snapshot.docs.get(para.submission_id)
            if doc is not None and para.rep_id is not None and not para.removed:
                self.holders[para.rep_id].add(doc.authority)
        self.linked: dict[int, set[int]] = defaultdict(set)
        for a, b in snapshot.links:
            self.linked[a].add(b)

    def authorities(self, rep: int) -> int:
        found = set(self.holders.get(rep, ()))
        for other in self.linked.get(rep, ()):
            found |= self.holders.get(other, set())
        return len(found)


def formula_reason(para: Para, rules_: Rules, groups: Groups) -> Reason | None:
    """Why ``para`` (a matched passage) is formula, or None when it is substantive."""
    if para.rep_id is not None and para.rep_id in rules_.template_reps:
        return "template"
    if len(para.text) <= rules_.max_chars:
        return "set_phrase"
    if para.rep_id is not None and groups.authorities(para.rep_id) >= rules_.authorities:
        return "authorities"
    return None


def resubmissions(snapshot: Snapshot, arrival: dict[int, int], threshold: float) -> dict[int, int]:
    """Submission id of each resubmission → that of the earlier arrival it files again.

    ``arrival`` orders the documents (their first filing); within an authority and year each
    document is compared with every earlier one, the earliest qualifying wins.
    """
    by_place: dict[tuple[str | None, int], list[Doc]] = defaultdict(list)
    for doc in snapshot.docs.values():
        if doc.year is not None:
            by_place[doc.authority, doc.year].append(doc)
    groups = Groups(snapshot)
    found: dict[int, int] = {}
    for docs in by_place.values():
        if len(docs) < 2:
            continue
        ordered = sorted(docs, key=lambda d: (arrival.get(d.id, d.id), d.id))
        for i, later in enumerate(ordered):
            for earlier in ordered[:i]:
                if earlier.id in found:
                    continue
                if (
                    _covered(snapshot, groups, later, earlier) >= threshold
                    and _covered(snapshot, groups, earlier, later) >= threshold
                ):
                    found[later.id] = earlier.id
                    break
    return found


def _covered(snapshot: Snapshot, groups: Groups, doc: Doc, other: Doc) -> float:
    """The share of ``doc``'s reusable characters in passages that match one of ``other``'s."""
    mine = [snapshot.paras[p] for p in snapshot.by_doc.get(doc.id, ())]
    mine = [p for p in mine if p.rep_id is not None and not p.removed]
    theirs = {
        p.rep_id
        for p in (snapshot.paras[i] for i in snapshot.by_doc.get(other.id, ()))
        if p.rep_id is not None and not p.removed
    }
    total = sum(len(p.text) for p in mine)
    if not total:
        return 0.0
    matched = sum(
        len(p.text) for p in mine if p.rep_id in theirs or groups.linked.get(p.rep_id or 0, set()) & theirs
    )
    return matched / total


__all__ = [
    "Groups",
    "Reason",
    "Rules",
    "formula_reason",
    "resubmissions",
    "rules",
    "template_files",
    "template_reps",
]
