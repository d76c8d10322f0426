"""Shared pieces of the benchmarks: where things are, cached inboxes, temp configs, machine info.

The bench scripts are run as ``python bench/<script>.py`` from the repository; they import this
module from their own folder. Nothing here imports ``archiver``: the archiver under test always
runs as a child process (except in ``nightly_cost.py``, which times ``flow.run`` in-process).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED = REPO.parent / "shared"
KIT = SHARED / "bench"
CORPUS = SHARED / "corpus" / "reports"
WORK = BENCH / "work"  # gitignored: generated inboxes, temp archives
RESULTS = BENCH / "results"

# The archiver CLI as a child process (there is no archiver/__main__.py).
ARCHIVER = [sys.executable, "-c", "from archiver.cli import main; main()"]

PACKAGES = (
    "numpy",
    "datasketch",
    "jieba",
    "opencc",
    "chardet",
    "pypinyin",
    "scipy",
    "rapidfuzz",
    "SQLAlchemy",
    "alembic",
    "click",
)


def inbox_key(scale: int, seed: int, authorities: int, years: str, mosaic: float = 0.0) -> str:
    """The cache folder name for one set of make_inbox.py arguments (without ``--mosaic``, the
    name it had before that option)."""
    key = f"inbox-scale{scale}-seed{seed}-auth{authorities}-years{years}"
    return key + (f"-mosaic{mosaic:g}" if mosaic else "")


def make_inbox(
    scale: int,
    seed: int,
    authorities: int = 20,
    years: str = "2019-2025",
    work: Path | None = None,
    source: Path = CORPUS,
    quiet: bool = True,
    mosaic: float = 0.0,
) -> Path:
    """OUTDIR of a make_inbox.py run (``OUTDIR/inbox``, ``OUTDIR/truth.jsonl``), generated once.

    The generator is deterministic for its arguments, so the cached folder is reused as long as
    it is complete (it is written under a temporary name and renamed when finished). ``mosaic``
    is make_inbox.py's ``--mosaic`` (sentence mosaics and embedded paragraphs; 0: off).
    """
    if not (KIT / "make_inbox.py").is_file():
        raise SystemExit(f"{KIT}: benchmark kit not found (../shared must sit beside the repository)")
    work = work or WORK
    out = work / inbox_key(scale, seed, authorities, years, mosaic)
    if (out / "truth_meta.json").is_file():
        return out
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        str(KIT / "make_inbox.py"),
        "--source",
        str(source),
        "--out",
        str(partial),
        "--authorities",
        str(authorities),
        "--years",
        years,
        "--seed",
        str(seed),
        "--scale",
        str(scale),
        *(["--mosaic", f"{mosaic:g}"] if mosaic else []),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if quiet else None)
    # truth files name paths relative to OUTDIR, so the rename keeps them valid
    partial.rename(out)
    return out


def inbox_bytes(inbox: Path) -> int:
    return sum(p.stat().st_size for p in inbox.rglob("*") if p.is_file() and not p.is_symlink())


def write_config(
    folder: Path,
    workers: int | None = None,
    batch_size: int | None = None,
    database: str | None = None,
    dask_scheduler: str | None = None,
) -> Path:
    """A copy of the repository's config.toml whose archive lives in ``folder``.

    ``[store]`` points at ``folder/archive.sqlite3`` (or the URL ``database``) and
    ``folder/objects`` (relative paths in the config are relative to the config file);
    ``[run] workers`` / ``batch_size`` are overridden when given, and ``dask_scheduler`` sets
    ``executor = "dask"`` with that scheduler. Returns the new config's path.
    """
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = _set_key(text, "store", "database", json.dumps(database or "archive.sqlite3"))
    text = _set_key(text, "store", "vault", '"objects"')
    if workers is not None:
        text = _set_key(text, "run", "workers", str(workers))
    if batch_size is not None:
        text = _set_key(text, "run", "batch_size", str(batch_size))
    if dask_scheduler is not None:
        text = _set_key(text, "run", "executor", '"dask"')
        text = _set_key(text, "run", "dask_scheduler", json.dumps(dask_scheduler))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _set_key(text: str, table: str, key: str, value: str) -> str:
    """``key = value`` inside ``[table]`` of a TOML text (replaced, or appended to the table)."""
    parts = re.split(r"(?m)^(\[[^\]\n]+\]\s*)$", text)
    header = f"[{table}]"
    for i in range(1, len(parts), 2):
        if parts[i].strip() == header:
            body, n = re.subn(rf"(?m)^{re.escape(key)}\s*=.*$", f"{key} = {value}", parts[i + 1], count=1)
            parts[i + 1] = body if n else f"\n{key} = {value}" + parts[i + 1]
            return "".join(parts)
    return text.rstrip("\n") + f"\n\n{header}\n{key} = {value}\n"


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, memory, OS, Python and package versions of this machine."""
    cpu = ""
    meminfo = ""
    try:
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        pass
    mem_kb = re.search(r"MemTotal:\s+(\d+)", meminfo)
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "memory_gb": round(int(mem_kb.group(1)) / 1024**2, 1) if mem_kb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "archiver_commit": _git_head(),
    }


def _git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "archiver"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return out + ("+dirty" if dirty else "")


def dump_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def save_result(result: dict[str, Any], kind: str, label: str) -> Path:
    """Write ``result`` to ``results/<its date>-<kind>-<label>.json`` and print where."""
    out = RESULTS / f"{result['date']}-{kind}-{label}.json"
    dump_json(out, result)
    print(out)
    return out


def interleaved(
    args: Any, rounds: int, measure: Callable[[Path], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """``measure`` of the versions ``args.before`` and ``args.after`` (checkouts), taking turns,
    ``rounds`` times: each version's runs, in order."""
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(rounds):
        for name, found in runs.items():
            found.append(measure(getattr(args, name)))
    return runs


def versions_cpu(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The figures of two versions' runs (``before``, ``after``; each run's ``cpu_seconds`` and
    ``peak_rss_mb``): every run's CPU seconds, each version's best, their ratio and peak RSS."""
    best = {name: min(run["cpu_seconds"] for run in found) for name, found in runs.items()}
    return {
        "cpu_seconds": {name: [round(r["cpu_seconds"], 3) for r in found] for name, found in runs.items()},
        "best_cpu_seconds": {name: round(v, 3) for name, v in best.items()},
        "ratio": round(best["before"] / best["after"], 2),
        "peak_rss_mb": {name: round(max(r["peak_rss_mb"] for r in found), 1) for name, found in runs.items()},
    }


def version_child(script: str, version: Path, *args: str) -> dict[str, Any]:
    """The figures a bench script's ``--child`` run prints (JSON, its last line), run with the
    ``archiver`` of checkout ``version`` first on ``PYTHONPATH``; refused (exit) when another
    copy of archiver answered (its ``module`` names where it was imported from)."""
    env = {**os.environ, "PYTHONPATH": str(version.resolve())}
    out = subprocess.run(
        [sys.executable, script, "--child", *args], env=env, check=True, capture_output=True, text=True
    )
    figures: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    if not Path(figures["module"]).resolve().is_relative_to(version.resolve()):
        raise SystemExit(f"{Path(script).stem}: {version} did not provide archiver ({figures['module']})")
    return figures
