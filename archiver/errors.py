"""One error tree for everything a user can act on.

::

    ArchiverError                 any failure that ends a command with a one-line message
    ├── ConfigError               config.toml is wrong: says which key and what to write
    ├── StoreError                the database or the file store cannot be used
    │   ├── ParameterMismatch     fingerprint settings differ from the archive's: run `archiver reindex`
    │   └── FixityError           a stored file no longer matches its digest
    └── InputError                a path given on the command line is missing or unreadable

A bad *submission* is not an error: it is a ``records.Rejection`` and the run goes on.
"""

from __future__ import annotations

from pathlib import Path


class ArchiverError(Exception):
    """Base of every error that ends a command; ``str(err)`` is the one line shown."""


class ConfigError(ArchiverError):
    pass


class StoreError(ArchiverError):
    pass


class ParameterMismatch(StoreError):
    pass


class FixityError(StoreError):
    pass


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
