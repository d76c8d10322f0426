"""ingest: the inbox walk (order, hidden files, links), path layouts and title years."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.config import IngestConfig
from archiver.errors import InputError
from archiver.stages.ingest import Located, locate, parse_relpath, read, storable_name, year_from_title

CONFIG = IngestConfig()
FOLLOW = IngestConfig(follow_links=True)


def make(root: Path, relpath: str, data: bytes = b"x") -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def relpaths(inboxes: list[Path], config: IngestConfig = CONFIG) -> list[str]:
    return [found.relpath for found in locate(inboxes, config)]


def test_walk_is_sorted_recursive_and_numbered_across_inboxes(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for rel in ["b/2020/z.txt", "a/2021/y.txt", "a/2020/x.txt", "top.txt"]:
        make(one, rel)
    make(two, "c/2019/w.txt")
    found = list(locate([one, two], CONFIG))
    assert [(f.root.name, f.relpath, f.order) for f in found] == [
        ("one", "a/2020/x.txt", 0),
        ("one", "a/2021/y.txt", 1),
        ("one", "b/2020/z.txt", 2),
        ("one", "top.txt", 3),
        ("two", "c/2019/w.txt", 4),
    ]
    assert all(f.path.is_absolute() and f.path.is_file() for f in found)
    assert all(f.path.relative_to(f.root).as_posix() == f.relpath for f in found)


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    make(tmp_path, "a/2020/.draft.txt")
    make(tmp_path, ".git/objects/x")
    make(tmp_path, "a/.cache/2020/y.txt")
    make(tmp_path, "a/2020/kept.txt")
    assert relpaths([tmp_path]) == ["a/2020/kept.txt"]


def test_missing_inbox_is_an_input_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist; create it"):
        list(locate([tmp_path / "nowhere"], CONFIG))
    make(tmp_path, "file.txt")
    with pytest.raises(InputError, match="is not a directory"):
        list(locate([tmp_path / "file.txt"], CONFIG))


def test_links_leaving_the_inbox_are_never_followed(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    make(inbox, "a/2020/real.txt")
    make(outside, "secret.txt")
    (inbox / "a" / "2020" / "leak.txt").symlink_to(outside / "secret.txt")
    (inbox / "b").symlink_to(outside, target_is_directory=True)
    for config in (CONFIG, FOLLOW):
        assert relpaths([inbox], config) == ["a/2020/real.txt"]


def test_links_inside_the_inbox_are_followed_only_when_asked(tmp_path: Path) -> None:
    make(tmp_path, "a/2020/real.txt")
    (tmp_path / "a" / "2020" / "alias.txt").symlink_to(tmp_path / "a" / "2020" / "real.txt")
    (tmp_path / "b").symlink_to(tmp_path / "a", target_is_directory=True)
    assert relpaths([tmp_path]) == ["a/2020/real.txt"]
    assert relpaths([tmp_path], FOLLOW) == [
        "a/2020/alias.txt",
        "a/2020/real.txt",
        "b/2020/alias.txt",
        "b/2020/real.txt",
    ]
    assert all(f.path.relative_to(f.root).as_posix() == f.relpath for f in locate([tmp_path], FOLLOW))


def test_link_loops_end(tmp_path: Path) -> None:
    make(tmp_path, "a/2020/real.txt")
    (tmp_path / "a" / "2020" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "self").symlink_to(tmp_path / "self")  # a link to itself: resolving it fails
    assert relpaths([tmp_path], FOLLOW) == ["a/2020/real.txt"]


def test_read_gives_bytes_digest_and_layout_metadata(tmp_path: Path) -> None:
    data = "国务院2024年政府工作报告\n".encode("gbk")
    make(tmp_path, "guowuyuan/2024/2025年 工作总结（定稿） 终版.txt", data)
    [found] = locate([tmp_path], CONFIG)
    submission = read(found, CONFIG)
    assert submission.raw == data
    assert submission.sha512 == hashlib.sha512(data).hexdigest()
    assert (submission.authority, submission.year) == ("guowuyuan", 2024)
    assert submission.relpath == "guowuyuan/2024/2025年 工作总结（定稿） 终版.txt"
    assert (submission.order, submission.path) == (0, found.path)


def test_read_raises_oserror_for_an_unreadable_file(tmp_path: Path) -> None:
    gone = Located(tmp_path / "a/2020/gone.txt", tmp_path, "a/2020/gone.txt", 0)
    with pytest.raises(OSError):
        read(gone, CONFIG)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without read permission")
def test_read_raises_oserror_without_permission(tmp_path: Path) -> None:
    path = make(tmp_path, "a/2020/locked.txt")
    path.chmod(0)
    [found] = locate([tmp_path], CONFIG)
    with pytest.raises(OSError):
        read(found, CONFIG)


@pytest.mark.parametrize(
    ("relpath", "layout", "expected"),
    [
        ("jtj/2024/2024-report.txt", "{authority}/{year}/{file}", ("jtj", 2024)),
        ("jtj/2024/sub/report.txt", "{authority}/{year}/{file}", ("jtj", 2024)),
        ("jtj/report.txt", "{authority}/{year}/{file}", (None, None)),
        ("report.txt", "{authority}/{year}/{file}", (None, None)),
        ("jtj/20xx/report.txt", "{authority}/{year}/{file}", ("jtj", None)),
        ("jtj/1900/report.txt", "{authority}/{year}/{file}", ("jtj", None)),
        ("jtj/2101/report.txt", "{authority}/{year}/{file}", ("jtj", None)),
        ("jtj/1949/report.txt", "{authority}/{year}/{file}", ("jtj", 1949)),
        ("in/jtj/2020/r.txt", "in/{authority}/{year}/{file}", ("jtj", 2020)),
        ("out/jtj/2020/r.txt", "in/{authority}/{year}/{file}", (None, None)),
        ("2020-jtj/r.txt", "{year}-{authority}/{file}", ("jtj", 2020)),
        ("2020/r.txt", "{year}/{file}", (None, 2020)),
        ("双桥乡/2010/报告 终版.txt", "{authority}/{year}/{file}", ("双桥乡", 2010)),
    ],
)
def test_layout_parsing(relpath: str, layout: str, expected: tuple[str | None, int | None]) -> None:
    assert parse_relpath(relpath, layout) == expected


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("某某县2019年政府信息公开工作年度报告", 2019),
        ("2019年度政府信息公开工作年度报告", 2019),
        ("二〇一九年政府工作报告", 2019),
        ("一九五四年政府工作报告", 1954),
        ("２０２１年工作总结", 2021),
        ("编号12345年 2020年工作总结", 2020),
        ("3000年规划与2022年计划", 2022),
        ("20xx年政府信息公开工作年度报告", None),
        ("政府工作报告", None),
    ],
)
def test_year_from_title(title: str, year: int | None) -> None:
    assert year_from_title(title) == year


def test_a_name_that_is_not_utf8_is_listed_with_its_bytes_written_as_percent_escapes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    folder = os.path.join(os.fsencode(inbox), b"\xb9\xfa/2024")  # "国" in GBK: a folder name too
    os.makedirs(folder)
    for name in (b"\xff\xfe.txt", b"50%\xe4.txt"):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(b"x")
    assert relpaths([inbox]) == ["%B9%FA/2024/50%25%E4.txt", "%B9%FA/2024/%FF%FE.txt"]
    assert {found.path.read_bytes() for found in locate([inbox], CONFIG)} == {b"x"}  # still opens


@given(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b))
def test_storable_names_are_utf8_and_give_back_the_name_on_disk(raw: bytes) -> None:
    stored = storable_name(os.fsdecode(raw))
    stored.encode("utf-8")  # raises for a lone surrogate
    if stored == os.fsdecode(raw):
        return  # a valid name is kept as it is
    unescaped = re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), stored.encode("utf-8"))
    assert unescaped == raw


@pytest.mark.ocfl_damaged
def test_the_archive_s_own_files_are_never_listed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make(inbox, "a/2024/report.txt")
    make(inbox, "archive/objects/0=ocfl_1.1")
    for name in ("archive.sqlite3", "archive.sqlite3-wal", "archive.sqlite3-shm", "notes.txt"):
        make(inbox, f"archive/{name}")
    database = (inbox / "archive" / "archive.sqlite3").resolve()
    store = {(inbox / "archive" / "objects").resolve(), database, database.with_name(database.name + "-wal")}
    store.add(database.with_name(database.name + "-shm"))
    found = [f.relpath for f in locate([inbox], CONFIG, store)]
    assert found == ["a/2024/report.txt", "archive/notes.txt"]


def test_a_newline_in_a_file_name_still_fits_the_layout() -> None:
    assert parse_relpath("jtj/2021/new\nline.txt", "{authority}/{year}/{file}") == ("jtj", 2021)
