"""Peak memory of each process of one ``archiver run``, and what a pool worker holds at its end.

    .venv/bin/python bench/process_memory.py INBOX [INBOX ...] [--workers W] [--inside] [--json OUT]

For each inbox: ``archiver run`` on a fresh SQLite archive (config.toml's settings, ``[run]
workers`` overridden when given), every process of its tree sampled from /proc every
``--interval`` seconds, and per process its peak RSS (``VmHWM``, which the kernel keeps, so a
short peak is not missed), its RSS at the last sample and when it was first seen. ``run_bench.py``
reports only the largest process; this says which one it is (the coordinator or a worker).

``--inside``: each pool worker also writes, as it exits, what it holds (a ``sitecustomize``
put on the child's ``PYTHONPATH`` wraps ``concurrent.futures.process._process_worker``):
RssAnon, SQLite's own memory (``sqlite3_memory_used`` / ``_highwater`` through ctypes), the
entries of the fingerprint memo and of ``verify.earlier_texts``, the bytes of the blocks' copy
(``levels._held``) and pymalloc's arenas (``sys._debugmallocstats``). It reads private names
on purpose: it is a diagnosis, not a figure to compare across commits.

A scale-20 inbox takes ~45 s: run it under the bench lock (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from measure import _children_map

HOOK = """
import os

def _held():
    import contextlib, ctypes, json, sys, tempfile
    out = {}
    for line in open(f"/proc/{os.getpid()}/status").read().splitlines():
        if line.startswith(("VmHWM", "VmRSS", "RssAnon", "RssFile")):
            out[line.split(":")[0] + "_mb"] = round(int(line.split()[1]) / 1024, 1)
    with contextlib.suppress(Exception):
        import _sqlite3
        lib = ctypes.CDLL(_sqlite3.__file__)
        lib.sqlite3_memory_used.restype = lib.sqlite3_memory_highwater.restype = ctypes.c_int64
        out["sqlite_used_mb"] = round(lib.sqlite3_memory_used() / 1e6, 1)
        out["sqlite_highwater_mb"] = round(lib.sqlite3_memory_highwater(0) / 1e6, 1)
    with contextlib.suppress(Exception):
        class _Mallinfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
        out["malloc_heap_mb"] = round(info.arena / 1e6, 1)
        out["malloc_free_mb"] = round(info.fordblks / 1e6, 1)
        out["malloc_mmap_mb"] = round(info.hblkhd / 1e6, 1)
    modules = sys.modules
    with contextlib.suppress(Exception):
        out["fingerprint_memo"] = sum(map(len, modules["archiver.stages.fingerprint"]._memo.values()))
    with contextlib.suppress(Exception):
        out["earlier_texts"] = len(modules["archiver.stages.verify"]._earlier)
    with contextlib.suppress(Exception):  # the earlier texts whose string the memo holds too
        memo = modules["archiver.stages.fingerprint"]._memo.values()
        held = {id(known.normalised) for m in memo for known in m._entries.values()}
        earlier = modules["archiver.stages.verify"]._earlier._entries.values()
        out["earlier_shared"] = sum(id(text) in held for _, text in earlier)
    with contextlib.suppress(Exception):
        held = modules["archiver.index.levels"]._held
        bands = held.bands.values() if held else ()
        out["blocks_copy_mb"] = round(
            sum(b.keys.nbytes + b.passages.nbytes + b.blocks.nbytes for b in bands) / 1e6, 1
        )
    saved = os.dup(2)
    with tempfile.TemporaryFile("w+") as stats:
        os.dup2(stats.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        stats.seek(0)
        for line in stats.read().splitlines():
            if line.startswith("# arenas allocated current"):
                out["pymalloc_arenas"] = int(line.split("=")[-1].strip().replace(",", ""))
    path = os.path.join(os.environ["PROCESS_MEMORY_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as handle:
        json.dump(out, handle)

if os.environ.get("PROCESS_MEMORY_DIR"):
    import concurrent.futures.process as _process
    _worker = _process._process_worker

    def _process_worker(*args, **kwargs):
        try:
            return _worker(*args, **kwargs)
        finally:
            _held()

    _process._process_worker = _process_worker
"""


def _status(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {
        line.split(":")[0]: int(line.split()[1])
        for line in text.splitlines()
        if line.startswith(("VmHWM:", "VmRSS:"))
    }


def tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children = _children_map()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def sample(cmd: list[str], env: dict[str, str], interval: float) -> dict[str, Any]:
    """Run ``cmd``; per process of its tree: peak RSS, last RSS (MB), first seen (s)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[int, dict[str, float]] = {}
    while proc.poll() is None:
        for pid in tree(proc.pid):
            status = _status(pid)
            if "VmHWM" not in status:
                continue  # gone, or a zombie
            row = seen.setdefault(pid, {"first_seen_s": round(time.perf_counter() - started, 1)})
            row["peak_mb"] = max(row.get("peak_mb", 0.0), round(status["VmHWM"] / 1024, 1))
            row["last_mb"] = round(status["VmRSS"] / 1024, 1)
        time.sleep(interval)
    stdout, stderr = proc.communicate()
    if proc.returncode:
        sys.stderr.write(stdout + stderr)
        raise SystemExit(f"archiver run failed with exit code {proc.returncode}")
    wall = round(time.perf_counter() - started, 1)
    coordinator = seen.pop(proc.pid, {})
    workers = [seen[pid] for pid in sorted(seen)]
    largest = max([coordinator.get("peak_mb", 0.0), *(w["peak_mb"] for w in workers)])
    return {"wall_s": wall, "coordinator": coordinator, "workers": workers, "largest_mb": largest}


def measure_inbox(inbox: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    folder = scratch / "archive"
    shutil.rmtree(folder, ignore_errors=True)
    config = common.write_config(folder, args.workers)
    env = dict(os.environ)
    dumps = scratch / "inside"
    if args.inside:
        shutil.rmtree(dumps, ignore_errors=True)
        dumps.mkdir()
        hook = scratch / "hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH", "")]))
        env["PROCESS_MEMORY_DIR"] = str(dumps)
    result = sample([*common.ARCHIVER, "--config", str(config), "run", str(inbox)], env, args.interval)
    if args.inside:
        result["inside"] = [json.loads(p.read_text()) for p in sorted(dumps.glob("*.json"))]
    return {"inbox": str(inbox), **result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inboxes", type=Path, nargs="+")
    ap.add_argument("--workers", type=int, default=None, help="[run] workers (default: config.toml's)")
    ap.add_argument("--inside", action="store_true", help="also what each pool worker holds at its end")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="process-memory-") as scratch:
        runs = [measure_inbox(inbox, args, Path(scratch)) for inbox in args.inboxes]
    for run in runs:
        workers = ", ".join(f"{w['peak_mb']:.1f}" for w in run["workers"]) or "none"
        coordinator = run["coordinator"].get("peak_mb", 0.0)
        print(f"{run['inbox']}: coordinator {coordinator:.1f} MB, workers {workers} MB, {run['wall_s']} s")
        for held in run.get("inside", []):
            print("   worker at its end:", json.dumps(held))
    if len(runs) > 1 and runs[0]["largest_mb"]:
        print(f"largest process, last / first inbox: {runs[-1]['largest_mb'] / runs[0]['largest_mb']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
