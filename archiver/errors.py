"""One error tree for everything a user can act on.

::

    ArchiverError                 any failure that ends a command with a one-line message
    ├── ConfigError               config.toml is wrong: says which key and what to write
    ├── StoreError                the database or the file store cannot be used
    │   ├── ParameterMismatch     fingerprint settings differ from the archive's: run `archiver reindex`
    │   ├── FixityError           a stored file no longer matches its digest            (exit 3)
    │   └── BusyError             another run, reindex or compact holds the writer lock (exit 75)
    └── InputError                a path given on the command line is missing or unreadable

Each class carries the exit status a scheduler sees (``exit_code``; the CLI maps it in one
place): 1 for anything to fix, 3 for damaged content, 75 (``EX_TEMPFAIL``) for "try later".
Click's own usage errors exit with 2. A bad *submission* is not an error: it is a
``records.Rejection`` and the run goes on (exit 0).
"""

from __future__ import annotations

from pathlib import Path


class ArchiverError(Exception):
    """Base of every error that ends a command; ``str(err)`` is the one line shown."""

    exit_code = 1


class ConfigError(ArchiverError):
    pass


class StoreError(ArchiverError):
    pass


class ParameterMismatch(StoreError):
    pass


class FixityError(StoreError):
    exit_code = 3


class BusyError(StoreError):
    exit_code = 75  # sysexits.h EX_TEMPFAIL: cron and systemd read it as "try again later"


class InputError(ArchiverError):
    pass


def describe(exc: OSError) -> str:
    """What an OSError says, for a one-line message, without its errno: ``Permission denied:
    '/srv/archive'``; when a file stands where a folder is needed, which file that is."""
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename is not None:
        wanted = Path(exc.filename)
        for place in [*reversed(wanted.parents), wanted]:
            if place.exists() and not place.is_dir():
                return f"{str(place)!r} is a file, not a folder"
    if exc.strerror is None:
        return str(exc)
    return f"{exc.strerror}: {exc.filename!r}" if exc.filename is not None else exc.strerror
