"""origin: where a span of the cleaned or archived text came from in the file as submitted.

Each clean step records its edits in the coordinates of the text it was given (``records.Change``);
removing repeats cuts spans out of the cleaned text (``repeats.removal_spans``). ``Origin`` chains
those edits backwards, so a span of any of these texts maps to a span of ``Decoded.text``, the
file the clerk has open. A position inside a replaced run maps to that run's whole source, so a
mapped span always covers what became the text it maps.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from itertools import accumulate
from operator import add, sub

from archiver.records import Change, Processed
from archiver.stages import repeats
from archiver.stages.clean import STEPS

_RANK = {step: i for i, step in enumerate(STEPS)}


class StepMap:
    """One step's edits (start, end, length of the replacement) in its input's coordinates."""

    def __init__(self, in_start: list[int], in_end: list[int], sizes: list[int]) -> None:
        # Built column by column (comprehensions, accumulate), not edit by edit: a converted
        # Traditional text has 10⁴ edits, and both its checks and its report map through them.
        self.in_start = in_start
        self.in_end = in_end
        shifts = accumulate(map(sub, sizes, map(sub, in_end, in_start)), initial=0)
        self.out_start: list[int] = list(map(add, in_start, shifts))
        self.out_end: list[int] = list(map(add, self.out_start, sizes))

    @classmethod
    def of(cls, edits: Sequence[tuple[int, int, int]]) -> StepMap:
        return cls([e[0] for e in edits], [e[1] for e in edits], [e[2] for e in edits])

    def start(self, pos: int) -> int:
        """The input position of output position ``pos`` taken as the start of a span."""
        i = bisect.bisect_right(self.out_start, pos) - 1
        if i < 0:
            return pos
        if pos < self.out_end[i]:
            return self.in_start[i]
        return self.in_end[i] + pos - self.out_end[i]

    def end(self, pos: int) -> int:
        """The input position of output position ``pos`` taken as the end of a span."""
        i = bisect.bisect_left(self.out_end, pos)
        if i < len(self.out_end) and self.out_start[i] < pos:
            return self.in_end[i]
        if i == 0:
            return pos
        return self.in_end[i - 1] + pos - self.out_end[i - 1]

    def forward(self, pos: int) -> int | None:
        """The output position of input position ``pos``; None when an edit replaced it."""
        i = bisect.bisect_right(self.in_start, pos) - 1
        if i < 0:
            return pos
        if pos < self.in_end[i]:
            return None
        return self.out_end[i] + pos - self.in_end[i]


class Origin:
    """Maps spans of a submission's texts back to its decoded text (see the module docstring)."""

    def __init__(self, changes: Sequence[Change], removed: Sequence[tuple[int, int]] = ()) -> None:
        # clean lists its changes step by step: each step's are a slice of the list, in order.
        ranks = [_RANK[c.step] for c in changes]
        if ranks != sorted(ranks):
            changes = sorted(changes, key=lambda c: _RANK[c.step])  # stable: a step's order kept
            ranks.sort()
        bounds = [bisect.bisect_left(ranks, rank) for rank in range(len(STEPS) + 1)]
        self.steps = [
            StepMap(
                [c.start for c in changes[bounds[i] : bounds[i + 1]]],
                [c.end for c in changes[bounds[i] : bounds[i + 1]]],
                [len(c.after) for c in changes[bounds[i] : bounds[i + 1]]],
            )
            for i in range(len(STEPS))
        ]
        self.removal = StepMap.of([(s, e, 0) for s, e in removed])
        # The maps with edits, per step index: a step without edits maps every position to itself.
        self._edited = [[m for m in self.steps[:i] if m.in_start] for i in range(len(STEPS) + 1)]

    @staticmethod
    def step_index(step: str) -> int:
        return STEPS.index(step)

    @classmethod
    def of(cls, outcome: Processed) -> Origin:
        spans = repeats.removal_spans(outcome.cleaned.text, outcome.removed)
        return cls.shared(outcome.cleaned.changes, spans, last_use=True)

    @classmethod
    def shared(
        cls, changes: tuple[Change, ...], removed: Sequence[tuple[int, int]], *, last_use: bool = False
    ) -> Origin:
        """``Origin(changes, removed)``: the one remembered for this very tuple of changes and the
        same removals when there is one, else a new one, remembered unless ``last_use``.

        A worker maps each outcome's spans twice, in its script checks and in its clerk's report
        (``of``, after its task's other files: the last use, which forgets it), and a converted
        text has 10⁵ changes. At most ``SHARED`` are held. An ``Origin`` is never changed once
        built; each one held holds its changes, so an ``id`` cannot be that of a new tuple.
        """
        spans = [(start, end) for start, end in removed]
        known = _SHARED.pop(id(changes), None)
        if known is not None and known[0] is changes and known[1] == spans:
            made = known[2]
        else:
            made = cls(changes, spans)
        if not last_use:
            _SHARED[id(changes)] = (changes, spans, made)
            while len(_SHARED) > SHARED:
                del _SHARED[next(iter(_SHARED))]  # the oldest
        return made

    def before_step(self, step: str, start: int, end: int) -> tuple[int, int]:
        """The decoded-text span of a span of the text ``step`` was given."""
        for m in reversed(self._edited[STEPS.index(step)]):
            first = m.start(start)
            start, end = first, max(m.end(end), first)
        return start, end

    def change(self, change: Change) -> tuple[int, int]:
        return self.before_step(change.step, change.start, change.end)

    def cleaned(self, start: int, end: int) -> tuple[int, int]:
        """The decoded-text span of a span of the cleaned text (before repeats were removed)."""
        return self.before_step(STEPS[-1], *self._through(self.steps[-1], start, end))

    def archived(self, start: int, end: int) -> tuple[int, int]:
        """The decoded-text span of a span of the archived text (repeats removed)."""
        return self.cleaned(*self._through(self.removal, start, end))

    def ahead(self, step: str | None, start: int, end: int) -> tuple[int, int] | None:
        """The archived-text span of a span of the text ``step`` produced (None: of the decoded
        text); None when a later step or the repeat removal replaced or cut a character of it."""
        later = self.steps[STEPS.index(step) + 1 :] if step else self.steps
        for m in [*later, self.removal]:
            first, last = m.forward(start), m.forward(end - 1) if end > start else None
            if first is None or (end > start and last is None):
                return None
            start, end = first, (last + 1 if last is not None else first)
        return start, end

    @staticmethod
    def _through(m: StepMap, start: int, end: int) -> tuple[int, int]:
        return m.start(start), max(m.end(end), m.start(start))


SHARED = 16  # ``Origin``s held by ``shared``: two tasks of flow.TASK_SIZE files
# id(changes) → (changes, removals, the Origin built for them), oldest first.
_SHARED: dict[int, tuple[tuple[Change, ...], list[tuple[int, int]], Origin]] = {}


class Lines:
    """1-based line numbers of offsets in one text. The line breaks are found once and each
    lookup is a bisection: counting them from the start for every offset is O(n·k), hours for a
    100 MB file with 10⁵ warnings."""

    def __init__(self, text: str) -> None:
        self.breaks = [m.start() for m in _BREAK.finditer(text)]

    def of(self, pos: int) -> int:
        """The line of offset ``pos``: 1 + the breaks before it."""
        return bisect.bisect_left(self.breaks, pos) + 1


_BREAK = re.compile("\n")
