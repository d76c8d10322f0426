"""ingest: inbox folders → ``Located`` files (a deterministic walk) → ``Submission``s.

``locate`` lists the regular files of each inbox in sorted order; ``read`` reads one of them
and takes authority and year from its path by the configured layout; ``year_from_title``
finds the year a title line names, for submissions whose path says none.

A file's ``relpath`` is its document's id in the database and the vault, so it must be text
that can be stored: a name that is not valid UTF-8 is written with its undecodable bytes as
``%XX`` (``storable_name``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from archiver.config import IngestConfig
from archiver.errors import InputError
from archiver.records import Submission

YEAR_MIN, YEAR_MAX = 1949, 2100
_PLACEHOLDER = re.compile(r"\{(authority|year|file)\}")
_YEAR_DIGITS = re.compile(r"(?<!\d)(\d{4})\s*年")
_HAN_DIGITS = "〇○零一二三四五六七八九"
_YEAR_HAN = re.compile(f"([{_HAN_DIGITS}]{{4}})\\s*年")
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")  # how os.fsdecode keeps a byte that is not UTF-8


@dataclass(frozen=True)
class Located:
    """One file found in an inbox, before it is read."""

    path: Path  # absolute path as seen in the inbox (a followed link is not resolved)
    root: Path  # the inbox it was found in
    relpath: str  # posix path relative to ``root``
    order: int  # running index across all inboxes of the run: the arrival tie-break


def locate(inboxes: Sequence[Path], config: IngestConfig, store: Collection[Path] = ()) -> Iterator[Located]:
    """Every regular, non-hidden file under ``inboxes``, in sorted order, numbered from 0.

    A symbolic link whose target lies outside its inbox is never followed; one that stays
    inside is followed only with ``config.follow_links``. ``store`` holds the real paths of the
    archive's own files and folders (the vault, the database and its journals): an archive kept
    inside an inbox is never archived into itself. Raises ``InputError`` for an inbox that is
    not a directory.
    """
    order = 0
    skip = frozenset(store)
    check_inboxes(inboxes)
    for inbox in inboxes:
        root = Path(os.path.abspath(inbox))
        real_root = root.resolve()
        for path, relpath in _walk(root, "", real_root, real_root, config.follow_links, {real_root} | skip):
            yield Located(path, root, relpath, order)
            order += 1


def check_inboxes(inboxes: Sequence[Path]) -> None:
    """InputError unless every inbox is a directory: checked before a run creates anything."""
    for inbox in inboxes:
        if not Path(inbox).is_dir():
            what = "is not a directory" if Path(inbox).exists() else "does not exist"
            raise InputError(f"inbox {inbox} {what}; create it or pass an existing inbox folder")


def _walk(
    folder: Path, prefix: str, real_folder: Path, real_root: Path, follow: bool, seen: set[Path]
) -> Iterator[tuple[Path, str]]:
    """(path, path relative to the inbox) of the files under ``folder``, depth first by name.

    ``prefix`` is ``folder`` relative to the inbox (ending in "/"), ``real_folder`` its real
    path, and ``seen`` holds the real folders entered. Only links are resolved: a real path
    per folder costs a system call per path component.
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return  # an unreadable folder holds nothing we can archive; its files are not "lost"
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        link = entry.is_symlink()
        if link and not _may_follow(path, real_root, follow):
            continue
        real = path.resolve() if link else real_folder / entry.name
        if real in seen:  # a link back up the tree would loop forever; or the archive itself
            continue
        name = storable_name(entry.name)
        if entry.is_dir():
            yield from _walk(path, f"{prefix}{name}/", real, real_root, follow, seen | {real})
        elif entry.is_file():
            yield path, prefix + name


def storable_name(name: str) -> str:
    """``name`` as text that can be stored (UTF-8): itself, unless it is a name that was not
    valid UTF-8 on disk. ``os`` gives such a name with each undecodable byte as a lone surrogate
    (PEP 383), which no database or inventory takes; those bytes become ``%XX`` and, so that
    the name can still be read back exactly, its own ``%`` signs ``%25``. (A valid name that
    happens to read the same is caught by the run as a second file with the same path.)
    """
    if not _UNDECODED_BYTE.search(name):
        return name
    return _UNDECODED_BYTE.sub(lambda byte: f"%{ord(byte.group()) - 0xDC00:02X}", name.replace("%", "%25"))


def _may_follow(link: Path, real_root: Path, follow: bool) -> bool:
    """Follow a link only when asked to and when its target stays inside the inbox."""
    if not follow:
        return False
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop of links
        return False
    return target.is_relative_to(real_root)


def read(located: Located, config: IngestConfig) -> Submission:
    """The bytes of ``located`` with their sha512 and the authority/year its path names.

    Raises ``OSError`` when the file cannot be read; the flow turns that into a
    ``Rejection(reason="unreadable")``.
    """
    return submission_of(located.path.read_bytes(), located.path, located.relpath, config, located.order)


def submission_of(raw: bytes, path: Path, relpath: str, config: IngestConfig, order: int = 0) -> Submission:
    """The submission of bytes ``raw`` found at ``relpath`` (standard input has no file to read)."""
    authority, year = parse_relpath(relpath, config.layout, config.years)
    return Submission(
        path=path,
        relpath=relpath,
        raw=raw,
        sha512=hashlib.sha512(raw).hexdigest(),
        authority=authority,
        year=year,
        order=order,
    )


def parse_relpath(
    relpath: str, layout: str, years: tuple[int, int] = (YEAR_MIN, YEAR_MAX)
) -> tuple[str | None, int | None]:
    """(authority, year) named by ``relpath`` under ``layout``; None for what it does not name.

    ``{authority}`` and ``{year}`` match one path segment (or part of one), ``{file}`` the rest;
    other text must match literally.  A path that does not fit the layout (too few segments, a
    literal that differs) names neither; a ``{year}`` that is not a year within ``years`` is None.
    """
    match = _layout_regex(layout).fullmatch(relpath)
    if match is None:
        return None, None
    found = match.groupdict()
    return found.get("authority"), _plausible_year(found.get("year"), years)


def layout_problem(relpath: str, layout: str, years: tuple[int, int] = (YEAR_MIN, YEAR_MAX)) -> str | None:
    """Why ``relpath`` gives no authority or no year under ``layout``, for the operator; None
    when it gives every one the layout names."""
    match = _layout_regex(layout).fullmatch(relpath)
    if match is None:
        return (
            f"does not fit [ingest] layout {layout!r}: archived without an authority or a year from its path"
        )
    year = match.groupdict().get("year")
    if year is not None and _plausible_year(year, years) is None:
        return (
            f"{year!r} in its path is not a year from {years[0]} to {years[1]} "
            "([ingest] min_year, max_year): archived without a year from its path"
        )
    return None


def _layout_regex(layout: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for piece in _PLACEHOLDER.split(layout):
        if piece in ("authority", "year", "file") and piece not in seen:
            seen.add(piece)
            parts.append(f"(?P<{piece}>.+)" if piece == "file" else f"(?P<{piece}>[^/]+?)")
        elif piece in ("authority", "year", "file"):
            parts.append("[^/]+?")  # a placeholder used twice only has to match a segment
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts), re.DOTALL)  # a file name may hold a newline


def _plausible_year(text: str | None, years: tuple[int, int]) -> int | None:
    if text is None or not re.fullmatch(r"\d{4}", text, flags=re.ASCII):
        return None
    year = int(text)
    return year if years[0] <= year <= years[1] else None


def year_from_title(title: str, years: tuple[int, int] = (YEAR_MIN, YEAR_MAX)) -> int | None:
    """The first year within ``years`` a title names: "…2019年政府信息公开…", "2019年度…", "二〇一九年…"."""
    for match in _YEAR_DIGITS.finditer(title):
        year = int(match.group(1))  # int() also reads full-width digits
        if years[0] <= year <= years[1]:
            return year
    for match in _YEAR_HAN.finditer(title):
        year = int("".join(str(_han_digit(ch)) for ch in match.group(1)))
        if years[0] <= year <= years[1]:
            return year
    return None


def _han_digit(ch: str) -> int:
    return max(_HAN_DIGITS.index(ch) - 2, 0)  # 〇 ○ 零 all mean 0
