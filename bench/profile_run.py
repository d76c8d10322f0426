"""Run the archiver CLI under cProfile, and group a profile's self time by where it is spent.

    python bench/profile_run.py OUT.prof --config CFG run --json INBOX

With ``[run] workers = 1`` every stage runs in this one process, so the grouping below shows
the whole cost of a run by module and function, below the stages ``stage_seconds`` times. Used
by ``run_bench.py --profile``.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from collections import defaultdict
from pathlib import Path

# Self time of C functions is attributed by their name (pstats records them as file "~").
_BUILTIN_GROUPS = (
    ("sqlite3", "sqlite"),
    ("fsync", "os/io"),
    ("posix", "os/io"),
    ("io.", "os/io"),
    ("_io", "os/io"),
    ("open", "os/io"),
    ("rename", "os/io"),
    ("numpy", "numpy"),
    ("_hashlib", "hashlib"),
    ("blake2b", "hashlib"),
    ("opencc", "opencc"),
    ("re.Pattern", "re"),
    ("_sre", "re"),
    ("rapidfuzz", "rapidfuzz"),
)
_PATH_GROUPS = (
    "sqlalchemy",
    "alembic",
    "numpy",
    "chardet",
    "opencc",
    "pypinyin",
    "jieba",
    "datasketch",
    "rapidfuzz",
    "json",
    "click",
)


def group_of(filename: str, name: str) -> str:
    """A short label for one profiled function: ``archiver.<module>``, a library, or a builtin kind."""
    path = filename.replace("\\", "/")
    if "/archiver/" in path and path.endswith(".py"):
        return "archiver." + Path(path).stem
    for lib in _PATH_GROUPS:
        if f"/{lib}/" in path or f"/{lib}." in path:
            return lib
    if filename == "~":
        for needle, label in _BUILTIN_GROUPS:
            if needle in name:
                return label
        return "builtins (other)"
    return "python (other)"


def grouped_self_time(profile: Path, top: int = 25) -> dict[str, float]:
    """Self seconds per group, largest first (``top`` groups, the rest summed as "rest")."""
    stats = pstats.Stats(str(profile))
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[group_of(filename, name)] += row[2]  # tottime: self time
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    out = {k: round(v, 3) for k, v in ranked[:top]}
    rest = sum(v for _, v in ranked[top:])
    if rest:
        out["rest"] = round(rest, 3)
    return out


def top_functions(profile: Path, count: int = 15) -> list[dict[str, object]]:
    """The ``count`` functions with the most self time."""
    stats = pstats.Stats(str(profile))
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:count]  # type: ignore[attr-defined]
    return [
        {
            "function": f"{Path(fn).name}:{line}({name})",
            "self_s": round(r[2], 3),
            "cumulative_s": round(r[3], 3),
            "calls": r[1],
        }
        for (fn, line, name), r in rows
    ]


def archiver_cumulative(profile: Path, count: int = 20) -> list[dict[str, object]]:
    """archiver's own functions with the most cumulative time: where a serial run's time goes."""
    stats = pstats.Stats(str(profile))
    rows = [
        (key, row)
        for key, row in stats.stats.items()  # type: ignore[attr-defined]
        if "/archiver/" in key[0].replace("\\", "/") and key[2] != "<module>"
    ]
    rows.sort(key=lambda kv: -kv[1][3])
    return [
        {"function": f"{Path(fn).stem}.{name}", "cumulative_s": round(r[3], 3), "calls": r[1]}
        for (fn, _line, name), r in rows[:count]
    ]


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1].startswith("-"):
        # Without this, `profile_run.py --help` wrote its profile to a file named "--help".
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    from archiver.cli import main as cli_main

    profiler = cProfile.Profile()
    code = 0
    profiler.enable()
    try:
        cli_main(argv, standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        profiler.disable()
        profiler.dump_stats(str(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
