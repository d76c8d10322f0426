"""The run's schedule: the index's lookups go ahead of the chunks not yet fed to the workers,
only about one chunk per worker is outstanding in the executor, a failing chunk raises its own
error, and no thread outlives a run."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pytest

from archiver import flow
from archiver._schedule import EXTRA_FED, Schedule
from tests.conftest import SAMPLES, make_config

P = ParamSpec("P")
T = TypeVar("T")


class Recording(ThreadPoolExecutor):
    """A one-thread pool that records the order tasks reach it and how many were outstanding."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.received: list[str] = []
        self.outstanding = self.most = 0
        self.changed = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self.changed:
            self.received.append(str(args[0]))
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
            self.changed.notify_all()
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self.changed:
            self.outstanding -= 1

    def wait_for(self, received: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.received) >= received, timeout=60)


def task(name: str, gate: threading.Event | None = None) -> str:
    if gate is not None:
        gate.wait()
    return name.upper()


def test_a_lookup_runs_before_every_chunk_not_yet_fed_and_chunks_keep_their_order() -> None:
    gate = threading.Event()
    with Recording() as pool, Schedule(pool, workers=1) as schedule:
        chunks = [schedule.feed(task, "chunk0", gate)]
        chunks += [schedule.feed(task, f"chunk{i}") for i in range(1, 6)]
        pool.wait_for(1 + EXTRA_FED)  # the first chunk runs (held at the gate), the next is fed
        lookup = schedule.submit(task, "lookup")
        gate.set()
        assert [c.result() for c in chunks] == [f"CHUNK{i}" for i in range(6)]
        assert lookup.result() == "LOOKUP"
    fed_first = [f"chunk{i}" for i in range(1 + EXTRA_FED)]
    assert pool.received == [*fed_first, "lookup", *[f"chunk{i}" for i in range(1 + EXTRA_FED, 6)]]
    assert pool.most <= 1 + EXTRA_FED + 1  # the chunks fed, and the one lookup


def fail(name: str) -> str:
    raise ValueError(f"{name} is broken")


def test_a_failing_chunk_raises_its_own_error_and_the_others_still_run() -> None:
    with Recording() as pool, Schedule(pool, workers=2) as schedule:
        futures = [schedule.feed(task, "a"), schedule.feed(fail, "b"), schedule.feed(task, "c")]
        assert futures[0].result() == "A" and futures[2].result() == "C"
        with pytest.raises(ValueError, match=r"^b is broken$"):
            futures[1].result()


def test_leaving_the_schedule_cancels_what_was_not_fed_and_ends_its_thread() -> None:
    gate = threading.Event()
    before = set(threading.enumerate())
    with Recording() as pool:
        with Schedule(pool, workers=1) as schedule:
            futures = [schedule.feed(task, f"chunk{i}", gate) for i in range(6)]
            pool.wait_for(1 + EXTRA_FED)
        assert set(threading.enumerate()) - before == set(pool._threads)  # the pool's own, not the feeder
        gate.set()
        fed = futures[: 1 + EXTRA_FED]
        assert [f.result() for f in fed] == [f"CHUNK{i}" for i in range(1 + EXTRA_FED)]
        for future in futures[1 + EXTRA_FED :]:
            with pytest.raises(CancelledError):
                future.result()
        with pytest.raises(RuntimeError, match="shut down"):
            schedule.feed(task, "late")
    assert pool.received == [f"chunk{i}" for i in range(1 + EXTRA_FED)]


def test_a_chunk_fed_to_a_shut_down_executor_raises_the_executors_error() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    with Schedule(pool, workers=1) as schedule, pytest.raises(RuntimeError, match="after shutdown"):
        schedule.feed(task, "a").result()


def test_a_run_with_workers_leaves_no_thread_and_no_process_behind(tmp_path: Path) -> None:
    import multiprocessing

    before = set(threading.enumerate())
    config = make_config(tmp_path, run={"workers": 2, "batch_size": 2})
    summary = flow.run(config, [SAMPLES])
    assert summary.archived > 0 and summary.links > 0
    assert set(threading.enumerate()) == before
    assert multiprocessing.active_children() == []


def test_the_pool_forks_its_workers_before_the_schedule_has_a_thread(tmp_path: Path) -> None:
    """Forked from the schedule's thread, a worker could inherit a lock the coordinator's thread
    holds (SQLite's, in the middle of a batch) and wait for it for ever."""
    import multiprocessing

    config = make_config(tmp_path, run={"workers": 2})
    with flow.executor_for(config) as schedule:
        assert schedule is not None
        assert len(multiprocessing.active_children()) == 2


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are a Linux feature")
def test_the_pools_pipes_hold_whole_results(tmp_path: Path) -> None:
    """A worker's results go through the pool's result pipe: at Linux's 64 KiB a worker waits
    while the coordinator drains each 64 KiB of them."""
    config = make_config(tmp_path, run={"workers": 2})
    with flow.executor_for(config) as schedule:
        assert isinstance(schedule, Schedule)
        pool = schedule._executor
        for queue in (pool._result_queue, pool._call_queue):  # type: ignore[attr-defined]
            assert fcntl.fcntl(queue._writer.fileno(), fcntl.F_GETPIPE_SZ) == flow.PIPE_BYTES
        # and the pool still works through them: a result larger than the old pipe comes back whole
        big = "報告" * flow.PIPE_BYTES
        assert schedule.submit(str.upper, big).result() == big.upper()
