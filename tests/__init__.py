"""The test suite (a package: a dependency of ocfl-py installs a top-level `tests` of its own)."""
