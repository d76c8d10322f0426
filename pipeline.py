"""The nightly job: ``python pipeline.py [OPTIONS] [INBOX ...]`` is ``archiver run`` exactly.

The config is found as every ``archiver`` command finds it (``--config``, ``ARCHIVER_CONFIG``,
``./config.toml``, the defaults), so the two never archive different things; exit statuses are
``archiver``'s (0 done, 1 error, 2 usage, 75 busy).
"""

from __future__ import annotations

import sys

from archiver.cli import console

if __name__ == "__main__":
    console(["run", *sys.argv[1:]], prog_name="pipeline.py")
