"""The nightly job: load config.toml beside this file, archive the inbox, print the summary.

Exit status 0 when the run completed (rejected submissions are counted, not fatal), 1 when the
run itself failed. ``archiver run`` does the same with more options.
"""

from __future__ import annotations

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
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    status = main()
    flow.freeze_for_exit()
    sys.exit(status)
