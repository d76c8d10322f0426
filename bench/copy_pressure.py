"""Does copying a large file just before a night cost that night CPU? (``nightly_cost.py``'s copies)

    /work/venv/bin/python bench/copy_pressure.py ARCHIVE_FOLDER NIGHT_INBOX LARGE_FILE [--rounds 4]

``nightly_cost.py`` times each night on a fresh copy of its archive: 42 MB for the 10k state,
2.6 GB for the 1M ones. This times the same night (``nightly_cost.night`` on a fresh copy of
``ARCHIVE_FOLDER``, stages in thread CPU) after each of: nothing (``plain``); a copy of
``LARGE_FILE`` beside it, kept until the night is over (``copy``); the same, then the copied-from
file dropped from the page cache (``copy-evict-src``, what the bench would do to hold one copy
of an archive in the page cache, as a night's host does), or both files (``copy-evict-all``).
Variants alternate direction round by round; every night is printed and kept, with the host's
steal and iowait seconds over it (``/proc/stat``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import nightly_cost

VARIANTS = ("plain", "copy", "copy-evict-src", "copy-evict-all")


def _host() -> tuple[float, float]:
    """The host's iowait and steal seconds so far (``/proc/stat``, 100 ticks a second)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[5]) / 100, int(fields[8]) / 100


def _evict(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def timed(variant: str, archive: Path, inbox: Path, large: Path, scratch: Path) -> dict[str, Any]:
    ballast = scratch / "ballast"
    if variant != "plain":
        shutil.copyfile(large, ballast)
    if variant.startswith("copy-evict"):
        os.sync()
        for path in (large,) if variant == "copy-evict-src" else (ballast, large):
            _evict(path)
    iowait, steal = _host()
    night = nightly_cost.night(scratch / "night", archive, inbox)
    after = _host()
    ballast.unlink(missing_ok=True)
    return night | {
        "variant": variant,
        "iowait": round(after[0] - iowait, 2),
        "steal": round(after[1] - steal, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="a kept archive's folder (copied for each night)")
    ap.add_argument("inbox", type=Path, help="the night's inbox")
    ap.add_argument("large", type=Path, help="the file copied before a night (the 1M archive's)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--scratch", type=Path, default=common.WORK / "copy-pressure")
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    variants = args.variants.split(",")
    args.scratch.mkdir(parents=True, exist_ok=True)
    nights = []
    for round_ in range(args.rounds):
        for variant in variants[::-1] if round_ % 2 else variants:
            night = timed(variant, args.archive, args.inbox, args.large, args.scratch)
            nights.append(night)
            stages = {k: round(night["stage_seconds"][k], 2) for k in ("clean", "verify")}
            print(
                f"{variant}: {night['cpu_seconds']} CPU-s, {night['seconds']} s, steal {night['steal']}, "
                f"iowait {night['iowait']}, {stages}",
                flush=True,
            )
    tag = f"-{args.tag}" if args.tag else ""
    result = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": common.machine_info()}
    common.dump_json(
        common.RESULTS / f"{dt.date.today().isoformat()}-copy-pressure{tag}.json", result | {"nights": nights}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
