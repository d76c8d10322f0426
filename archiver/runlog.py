"""The run log: what a night did to which file, for the operator to read the next morning.

Standard ``logging`` under the ``archiver`` logger, one line per event: a rejected file (path,
reason, detail), a class of warnings (how many files, which), a path clash, a new version, a
merge of the band index. ``event`` attaches the event's name and fields to the record, so the
same line is human text (``HumanFormatter``) or one JSON object (``JsonFormatter``, for log
collectors). Every run keeps its own log in the archive (``kept``): ``logs/run-N.log`` beside
the database (``logs_folder``); the CLI's ``--log-file`` adds a copy (``configure``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from archiver.config import Config
from archiver.errors import InputError, describe

LOGGER = logging.getLogger("archiver")
LOGGER.addHandler(logging.NullHandler())  # a library logs nothing until its caller says where
LogFormat = Literal["human", "json"]
SHOWN_NAMES = 5  # file names a warning class's line lists before "and N more"


def event(level: int, name: str, message: str, **fields: Any) -> None:
    """Log ``message`` (already formatted) as the event ``name`` with ``fields`` for JSON."""
    LOGGER.log(level, message, extra={"event": name, "fields": fields})


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, event, message and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": when,
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
            "message": record.getMessage(),
        }
        line |= getattr(record, "fields", {})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else HumanFormatter()


def configure(fmt: LogFormat, log_file: Path | None) -> Callable[[], None]:
    """Send the log to ``log_file`` (appended) or, for None, to standard error; returns the
    function that stops it."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            message = f"cannot write the log {log_file}: {describe(exc)}; give --log-file a writable file"
            raise InputError(message) from exc
    handler.setFormatter(formatter(fmt))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)

    def stop() -> None:
        LOGGER.removeHandler(handler)
        handler.close()

    return stop


def logs_folder(config: Config) -> Path:
    """Where each run keeps its log: ``logs/`` beside an SQLite database, else beside the vault
    (never inside the OCFL storage root, whose validator allows no files of ours there)."""
    url = config.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / "logs"
    return config.resolve(config.store.vault).parent / "logs"


@contextmanager
def kept(path: Path) -> Iterator[None]:
    """Copy every line logged while the block runs to ``path`` (human format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(HumanFormatter())
    LOGGER.addHandler(handler)
    level = LOGGER.level
    if LOGGER.getEffectiveLevel() > logging.INFO:
        LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)
        handler.close()


def names(paths: list[str], total: int, more: str) -> str:
    """``paths`` joined, then "and N more: ``more``" for the ``total - len(paths)`` not shown."""
    shown = ", ".join(paths)
    return shown if total <= len(paths) else f"{shown} and {total - len(paths)} more: {more}"
