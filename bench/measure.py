"""Run one child process and measure it: wall seconds and peak memory, two ways.

* ``peak_rss_max_process_mb``: ``/usr/bin/time -f %M`` (the kernel's ru_maxrss): the peak RSS
  of the largest *single* process of the tree (a pool worker or the coordinator), not a sum.
* ``peak_rss_tree_mb``: the sum of VmRSS over the child and all its descendants, sampled every
  ``interval`` seconds from /proc (so a peak shorter than the interval can be missed, and
  pages shared between processes, e.g. after fork, are counted once per process).

Without /usr/bin/time (Debian package ``time``) the first figure is None.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TIME = Path("/usr/bin/time")


@dataclass
class Measured:
    cmd: list[str]
    returncode: int
    wall_seconds: float
    peak_rss_max_process_mb: float | None
    peak_rss_tree_mb: float
    stdout: str
    stderr: str


def _children_map() -> dict[int, list[int]]:
    """ppid → pids, from /proc/<pid>/stat (field 4; the command name may hold spaces)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _vmrss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # exited, or a zombie without memory


def tree_rss_kb(root: int, skip_root: bool = False) -> int:
    """Sum of VmRSS (kB) over ``root`` and its descendants."""
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid != root or not skip_root:
            total += _vmrss_kb(pid)
        stack.extend(children.get(pid, ()))
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, skip_root: bool, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.skip_root, self.interval = pid, skip_root, interval
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid, self.skip_root))
            self.done.wait(self.interval)


def measure(
    cmd: list[str], cwd: Path | None = None, interval: float = 0.1, env: dict[str, str] | None = None
) -> Measured:
    """Run ``cmd`` to completion, capturing its output, and measure it (see the module doc)."""
    use_time = TIME.is_file() and os.access(TIME, os.X_OK)
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as handle:
        time_file = Path(handle.name)
    full = [str(TIME), "-f", "%M", "-o", str(time_file), *cmd] if use_time else cmd
    started = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # /usr/bin/time itself (≈ 2 MB) is left out of the tree sum
    sampler = _Sampler(proc.pid, skip_root=use_time, interval=interval)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    max_process = None
    if use_time:
        lines = time_file.read_text().split()
        max_process = round(int(lines[-1]) / 1024, 1) if lines and lines[-1].isdigit() else None
    time_file.unlink(missing_ok=True)
    return Measured(
        cmd, proc.returncode, round(wall, 3), max_process, round(sampler.peak_kb / 1024, 1), stdout, stderr
    )
