"""origin: where a span of the cleaned or archived text came from in the file as submitted.

Each clean step records its edits in the coordinates of the text it was given (``records.Change``);
removing repeats cuts spans out of the cleaned text (``repeats.removal_spans``). ``Origin`` chains
those edits backwards, so a span of any of these texts maps to a span of ``Decoded.text``, the
file the clerk has open. A position inside a replaced run maps to that run's whole source, so a
mapped span always covers what became the text it maps.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from archiver.records import Change, Processed
from archiver.stages import repeats
from archiver.stages.clean import STEPS


class StepMap:
    """One step's edits (start, end, length of the replacement) in its input's coordinates."""

    def __init__(self, edits: Iterable[tuple[int, int, int]]) -> None:
        self.in_start: list[int] = []
        self.in_end: list[int] = []
        self.out_start: list[int] = []
        self.out_end: list[int] = []
        shift = 0
        for start, end, size in edits:
            self.in_start.append(start)
            self.in_end.append(end)
            self.out_start.append(start + shift)
            self.out_end.append(start + shift + size)
            shift += size - (end - start)

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
        by_step: dict[str, list[tuple[int, int, int]]] = {step: [] for step in STEPS}
        for c in changes:
            by_step[c.step].append((c.start, c.end, len(c.after)))
        self.steps = [StepMap(by_step[step]) for step in STEPS]
        self.removal = StepMap((s, e, 0) for s, e in removed)

    @staticmethod
    def step_index(step: str) -> int:
        return STEPS.index(step)

    @classmethod
    def of(cls, outcome: Processed) -> Origin:
        spans = repeats.removal_spans(outcome.cleaned.text, outcome.removed)
        return cls(outcome.cleaned.changes, spans)

    def before_step(self, step: str, start: int, end: int) -> tuple[int, int]:
        """The decoded-text span of a span of the text ``step`` was given."""
        for m in reversed(self.steps[: STEPS.index(step)]):
            start, end = m.start(start), max(m.end(end), m.start(start))
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


def line_of(text: str, pos: int) -> int:
    """The 1-based line number of offset ``pos`` in ``text``."""
    return text.count("\n", 0, pos) + 1
