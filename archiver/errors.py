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
