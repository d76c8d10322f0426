"""The run's executor, with the index's lookups ahead of the submissions' processing.

A batch's lookups are the run's critical path: the next batch's cannot start before this one's
links are written. Submitted to a plain executor they would queue behind every chunk of the
batches in flight (first in, first out), and the workers would have nothing queued while the
coordinator writes the links. ``Schedule`` keeps the chunks in a queue of its own and feeds them
to the executor so that only about as many are outstanding there as there are workers to run
them (``slots``), while ``submit`` (a lookup) goes to the executor at once and so runs next.
The chunks are fed in the order they were queued, so the first submissions are done first.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future
from functools import partial
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Chunks outstanding in the executor beyond one per worker: a worker that finishes one finds the
# next already there, instead of idling while the result comes back and the next is fed.
EXTRA_FED = 1


class Schedule(Executor):
    """``executor`` with a second, fed, queue (``feed``). Used as a context manager: leaving it
    cancels what was never fed and ends the feeding thread; ``executor`` itself stays open."""

    def __init__(self, executor: Executor, workers: int) -> None:
        self._executor = executor
        self._slots = max(1, workers) + EXTRA_FED
        self._queued: deque[tuple[Future[Any], Callable[[], Future[Any]]]] = deque()
        self._changed = threading.Condition()
        self._outstanding = 0
        self._closed = False
        self._feeder = threading.Thread(target=self._feed, name="archiver-schedule", daemon=True)
        self._feeder.start()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """``fn`` to the executor at once, ahead of every chunk not yet fed."""
        return self._executor.submit(fn, *args, **kwargs)

    def feed(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """``fn`` to the executor once fewer than ``slots`` fed tasks are outstanding there."""
        mine: Future[T] = Future()
        with self._changed:
            if self._closed:
                raise RuntimeError("feed after the schedule was shut down")
            self._queued.append((mine, partial(self._executor.submit, fn, *args, **kwargs)))
            self._changed.notify_all()
        return mine

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End the feeding thread and cancel what it has not fed; ``wait`` and ``cancel_futures``
        are for the executor's owner, which shuts it down."""
        with self._changed:
            self._closed = True
            queued = list(self._queued)
            self._queued.clear()
            self._changed.notify_all()
        for mine, _ in queued:
            mine.cancel()
        if self._feeder is not threading.current_thread():
            self._feeder.join()

    def _feed(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (not self._queued or self._outstanding >= self._slots):
                    self._changed.wait()
                if self._closed:
                    return
                mine, start = self._queued.popleft()
                self._outstanding += 1
            if not mine.set_running_or_notify_cancel():
                self._finished()
                continue
            try:
                theirs = start()
            except BaseException as exc:  # a broken or shut-down executor: the caller sees it
                mine.set_exception(exc)
                self._finished()
                continue
            theirs.add_done_callback(partial(self._copy, mine))

    def _copy(self, mine: Future[Any], theirs: Future[Any]) -> None:
        # Runs on the executor's own thread: only hands the outcome over and wakes the feeder.
        self._finished()
        if theirs.cancelled():  # the executor was shut down with its queue cancelled
            mine.set_exception(CancelledError())
        elif (exc := theirs.exception()) is not None:
            mine.set_exception(exc)
        else:
            mine.set_result(theirs.result())

    def _finished(self) -> None:
        with self._changed:
            self._outstanding -= 1
            self._changed.notify_all()
