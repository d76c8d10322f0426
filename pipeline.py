"""The nightly job: load config.toml beside this file, archive the inbox, print the summary.

Exit status 0 when the run completed (rejected submissions are counted, not fatal), 1 when the
run itself failed. ``archiver run`` does the same with more options.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from archiver import config, flow
from archiver.errors import ArchiverError


def main() -> int:
    try:
        settings = config.load(Path(__file__).with_name("config.toml"))
        summary = flow.run(settings, [settings.resolve(p) for p in settings.run.inbox])
    except ArchiverError as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 1
    try:
        print("\n".join(summary.lines()), flush=True)
    except BrokenPipeError:
        # The reader went away (`| head`); as `archiver run` (click) does: no traceback, status 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 1
    return 0


if __name__ == "__main__":
    status = main()
    flow.freeze_for_exit()
    sys.exit(status)
