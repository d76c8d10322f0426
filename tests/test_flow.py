"""End to end: the nightly run over samples/, idempotence, new versions, the clerk's clean."""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver import flow
from archiver.cli import main
from archiver.config import Config
from archiver.errors import StoreError
from archiver.index import levels
from archiver.store import db
from archiver.store.guard import writing
from archiver.store.vault import Vault
from tests.conftest import ROOT, SAMPLES, make_config

SEED = ROOT / "tests" / "data" / "seed.txt"
# The archive beside its config file, as a new user's would be; two workers over samples/.
OVER_SAMPLES: dict[str, dict[str, object]] = {
    "store": {"database": "archive/db.sqlite3", "vault": "archive/objects"},
    "run": {"inbox": [str(SAMPLES)], "workers": 2, "batch_size": 4},
}


def counts(config: Config) -> dict[str, int]:
    """Rows of the archive's tables; the band index's levels together, since a run may merge the
    last run's blocks into the main level before it files anything."""
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        rows = {
            table: session.scalar(select(func.count()).select_from(model)) or 0
            for table, model in [
                ("submissions", db.Submission),
                ("passages", db.PassageRow),
                ("bands", db.PassageBand),
                ("matches", db.MatchRow),
            ]
        }
        rows["band rows"] = rows.pop("bands") + levels.recent_rows(session)
    engine.dispose()
    return rows


def test_run_over_samples_twice_adds_nothing_the_second_time(
    tmp_path: Path, runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    config_path = write_config(**OVER_SAMPLES)
    first = runner.invoke(main, ["--config", str(config_path), "run", "--json"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    files = sum(1 for p in SAMPLES.rglob("*") if p.is_file())
    assert summary["files"] == files
    assert summary["rejected"] == {"binary": 1}
    assert summary["archived"] == files - 1
    assert summary["repeats_removed"] >= 10  # the seed's body, pasted twice
    assert summary["links"] > 0  # the 2022 report arrives from two sources
    # Every stage of the run is timed, the vault's group commits ("archive") included.
    stages = {"decode", "clean", "split", "fingerprint", "match", "checks", "archive", "verify"}
    stages |= {"file", "link"}
    assert stages <= {stage for stage, seconds in summary["stage_seconds"].items() if seconds > 0}
    from archiver import config as config_mod

    config = config_mod.load(config_path)
    before = counts(config)
    assert before["band rows"] > 0 and before["passages"] > 0
    second = runner.invoke(main, ["--config", str(config_path), "run", "--json"], catch_exceptions=False)
    assert second.exit_code == 0
    again = json.loads(second.output)
    assert again["unchanged"] == files and again["new"] == 0 and again["archived"] == 0
    assert "archive" not in again["stage_seconds"]  # nothing was stored
    assert counts(config) == before
    vault = Vault(config.resolve(config.store.vault))
    assert all(vault.versions(o) == ["v1"] for o in vault.objects())
    verified = runner.invoke(main, ["--config", str(config_path), "verify", "--full"], catch_exceptions=False)
    assert verified.exit_code == 0 and f"{files} objects" in verified.output


def test_changed_file_becomes_a_new_version_and_rejected_bytes_are_kept(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    config = make_config(tmp_path)
    flow.run(config, [inbox])
    target = next(inbox.glob("quanguorenda/2025/*.txt"))
    target.write_bytes(target.read_bytes() + "\n附：本决议自通过之日起施行。\n".encode())
    summary = flow.run(config, [inbox])
    assert (summary.new_versions, summary.new, summary.unchanged) == (1, 0, summary.files - 1)
    vault = Vault(config.resolve(config.store.vault))
    relpath = target.relative_to(inbox).as_posix()
    assert vault.versions(relpath) == ["v1", "v2"]
    assert vault.read(relpath, f"original/{target.name}", "v2") == target.read_bytes()
    png = next(inbox.glob("bangongshi/2024/*"))
    assert vault.read(png.relative_to(inbox).as_posix(), f"original/{png.name}") == png.read_bytes()
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        rows = session.execute(
            select(db.Submission.version, db.Submission.current)
            .where(db.Submission.relpath == relpath)
            .order_by(db.Submission.id)
        ).all()
    assert [tuple(r) for r in rows] == [("v1", False), ("v2", True)]


def test_clean_on_the_seed_matches_the_golden_report(
    runner: CliRunner, golden: Callable[[str, str], None]
) -> None:
    result = runner.invoke(main, ["clean", str(SEED), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    text = report["cleaned_text"]
    assert not re.search(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)", text), "a pinyin annotation is left"
    import opencc

    assert opencc.OpenCC("t2s").convert(text) == text, "Traditional characters are left"
    assert "着眼" in text and "著眼" not in text
    level1 = [s["number"] for s in report["sections"] if s["level"] == 1]
    level2 = [s["number"] for s in report["sections"] if s["level"] == 2]
    assert level1 == ["一", "二", "三", "四", "五"]
    assert [re.sub(r"\W", "", n) for n in level2] == ["一", "二", "三", "四"]
    assert len(report["removed"]) >= 10 and all(r["similarity"] >= 0.9 for r in report["removed"])
    assert any(w["kind"] == "placeholder" and "20xx" in w["text"] for w in report["warnings"])
    golden("seed.clean.txt", text + "\n")


def test_clean_writes_the_output_file_and_rejects_binary_with_a_reason(
    tmp_path: Path, runner: CliRunner, golden: Callable[[str, str], None]
) -> None:
    out = tmp_path / "seed.clean.txt"
    result = runner.invoke(main, ["clean", str(SEED), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0
    golden("seed.clean.txt", out.read_text(encoding="utf-8"))
    png = next(SAMPLES.glob("bangongshi/2024/*"))
    rejected = runner.invoke(main, ["clean", str(png)], catch_exceptions=False)
    assert rejected.exit_code == 1 and "rejected (binary)" in rejected.output


INVISIBLE_ONLY = {"zero-width.txt": b"\xe2\x80\x8b\xe2\x80\x8b\n", "controls.txt": b"\x01\x02\x03\x04\n"}


@pytest.mark.parametrize("name", list(INVISIBLE_ONLY))
def test_clean_rejects_a_file_of_invisible_characters_as_empty(
    tmp_path: Path, name: str, runner: CliRunner
) -> None:
    path = tmp_path / name
    path.write_bytes(INVISIBLE_ONLY[name])
    result = runner.invoke(main, ["clean", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.count("rejected (empty): no text after cleaning") == 1
    assert "zero-width/control characters" in result.output


def test_a_run_keeps_the_bytes_of_files_that_clean_leaves_empty(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    for name, raw in INVISIBLE_ONLY.items():
        (inbox / "jtj" / "2024").mkdir(parents=True, exist_ok=True)
        (inbox / "jtj" / "2024" / name).write_bytes(raw)
    config = make_config(tmp_path)
    summary = flow.run(config, [inbox])
    assert (summary.as_dict()["rejected"], summary.as_dict()["archived"]) == ({"empty": 2}, 0)
    vault = Vault(config.resolve(config.store.vault))
    for name, raw in INVISIBLE_ONLY.items():
        assert vault.read(f"jtj/2024/{name}", f"original/{name}") == raw


def test_clean_warns_when_a_latin_file_is_read_by_an_unsure_code_page_guess(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("naïve café\n".encode("latin-1"))
    result = runner.invoke(main, ["clean", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    warnings = json.loads(result.stdout)["warnings"]
    assert [(w["kind"], w["span"]) for w in warnings] == [("encoding", [2, 3])]
    assert "confidence" in warnings[0]["message"]


def test_config_mistakes_stop_with_a_message_that_says_what_to_fix(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[match]\nremove_at = 0.3\nmatch_at = 0.5\n", encoding="utf-8")
    result = runner.invoke(main, ["--config", str(bad), "run"], catch_exceptions=False)
    assert result.exit_code == 1 and "match_at ≤ remove_at" in result.output
    bad.write_text("[fingerprint]\nnum_perms = 64\n", encoding="utf-8")
    result = runner.invoke(main, ["--config", str(bad), "run"], catch_exceptions=False)
    assert result.exit_code == 1 and "unknown key 'num_perms'" in result.output
    missing = runner.invoke(main, ["--config", str(tmp_path / "nope.toml"), "run"], catch_exceptions=False)
    assert missing.exit_code == 1 and "no such config file" in missing.output


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("gbk.toml", "gbk.toml: line 1 is not UTF-8 (byte 0xd6); save the file as UTF-8"),
        ("folder", "folder: a folder, not a config file; pass --config PATH of a config.toml"),
        ("", ".: a folder, not a config file; pass --config PATH of a config.toml"),
    ],
)
def test_a_config_file_that_cannot_be_read_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, message: str, runner: CliRunner
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gbk.toml").write_bytes("# 中文注释\n[run]\nworkers = 1\n".encode("gbk"))
    (tmp_path / "folder").mkdir()
    result = runner.invoke(main, ["--config", given, "verify"], catch_exceptions=False)
    assert result.exit_code == 1 and result.output == f"Error: {message}\n"


@pytest.mark.parametrize(
    "command", [["verify"], ["export", "--format", "jsonl"], ["audit"], ["reindex"], ["compact"]]
)
def test_commands_on_an_existing_archive_stop_at_a_mistyped_store_and_create_nothing(
    tmp_path: Path, command: list[str], runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    config_path = write_config(**OVER_SAMPLES)
    result = runner.invoke(main, ["--config", str(config_path), *command], catch_exceptions=False)
    assert result.exit_code == 1
    assert re.fullmatch(
        r"Error: no archive at .*archive/\S+: check \[store\] (vault|database) in config\.toml "
        r"or run `archiver run` first\n",
        result.output,
    )
    assert not (tmp_path / "archive").exists()


def unwritable(tmp_path: Path, kind: str) -> Path:
    """An output path that cannot be written: in a missing folder, a folder, or under a file."""
    (tmp_path / "a-folder").mkdir(exist_ok=True)
    (tmp_path / "a-file").write_bytes(b"x")
    return {
        "missing folder": tmp_path / "nonexistent" / "out.txt",
        "folder": tmp_path / "a-folder",
        "under a file": tmp_path / "a-file" / "out.txt",
    }[kind]


@pytest.mark.parametrize("kind", ["missing folder", "folder", "under a file"])
def test_clean_and_export_to_an_unwritable_output_stop_with_one_line(
    tmp_path: Path, kind: str, runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    output = unwritable(tmp_path, kind)
    cleaned = runner.invoke(main, ["clean", str(SEED), "-o", str(output)], catch_exceptions=False)
    assert cleaned.exit_code == 1 and cleaned.output.count("\n") == 1
    assert cleaned.output.startswith(f"Error: cannot write {output}: ")
    assert cleaned.output.endswith("; give -o a file in an existing folder\n")
    config_path = write_config(**OVER_SAMPLES)
    db.open_engine(f"sqlite:///{tmp_path / 'archive' / 'db.sqlite3'}").dispose()  # an empty archive
    args = ["--config", str(config_path), "export", "--format", "jsonl", "-o", str(output)]
    exported = runner.invoke(main, args, catch_exceptions=False)
    assert exported.exit_code == 1 and exported.output.startswith(f"Error: cannot write {output}: ")
    assert exported.output.count("\n") == 1


PIPELINE = [sys.executable, "pipeline.py"]


@pytest.fixture
def pipeline_beside_a_config(tmp_path: Path, write_config: Callable[..., Path]) -> dict[str, str]:
    """pipeline.py and a config of SAMPLES in ``tmp_path``; the environment to run it in."""
    shutil.copy(ROOT / "pipeline.py", tmp_path / "pipeline.py")
    write_config(**OVER_SAMPLES)
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


def test_pipeline_script_runs_the_config_beside_it(
    tmp_path: Path, pipeline_beside_a_config: dict[str, str]
) -> None:
    env = pipeline_beside_a_config
    done = subprocess.run(PIPELINE, cwd=tmp_path, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "rejected 1 (1 binary)" in done.stdout
    assert (tmp_path / "archive" / "db.sqlite3").is_file()


def test_pipeline_script_whose_reader_went_away_ends_without_a_traceback(
    tmp_path: Path, pipeline_beside_a_config: dict[str, str]
) -> None:
    env = pipeline_beside_a_config
    job = subprocess.Popen(PIPELINE, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert job.stdout is not None and job.stderr is not None
    job.stdout.close()  # as `python pipeline.py | head -0` would, before the summary is printed
    errors = job.stderr.read().decode()
    assert job.wait() == 1 and "Traceback" not in errors, errors
    assert (tmp_path / "archive" / "db.sqlite3").is_file()  # the run itself completed


def test_the_executable_runs_main_then_freezes_the_collector_for_its_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pins a mechanism: its only effect is speed, which bench/ measures, not tests."""
    from archiver import cli

    calls: list[str] = []

    def finished(**_: object) -> None:  # as click's standalone main ends: SystemExit with the status
        calls.append("main")
        raise SystemExit(3)

    monkeypatch.setattr(cli, "main", finished)
    monkeypatch.setattr(flow, "freeze_for_exit", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as ended:
        cli.console()
    assert ended.value.code == 3 and calls == ["main", "freeze"]


def test_freezing_for_exit_takes_every_tracked_object_out_of_collections() -> None:
    """Pins a mechanism: its only effect is speed, which bench/ measures, not tests."""
    assert gc.get_freeze_count() == 0
    try:
        flow.freeze_for_exit()
        assert gc.get_freeze_count() > 10_000  # the imports alone
    finally:
        gc.unfreeze()


def test_a_run_sets_the_garbage_collector_for_itself_and_puts_it_back(tmp_path: Path) -> None:
    """Pins the thresholds (their only effect is speed), and that the caller gets its own back."""
    before = gc.get_threshold()
    seen: list[tuple[tuple[int, int, int], int]] = []
    config = make_config(tmp_path, run={"workers": 1, "batch_size": 4})
    flow.run(config, [SAMPLES], progress=lambda _: seen.append((gc.get_threshold(), gc.get_freeze_count())))
    assert seen and all(thresholds == flow.RUN_GC_THRESHOLDS and frozen > 0 for thresholds, frozen in seen)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)


def test_a_file_named_in_another_encoding_is_archived_with_the_rest(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES / "guowuyuan", inbox / "guowuyuan")
    report = next((inbox / "guowuyuan").glob("*/*.txt"))
    files = sum(1 for path in inbox.rglob("*") if path.is_file())
    odd = os.path.join(os.fsencode(report.parent), "工作报告.txt".encode("gb18030"))  # not UTF-8
    with open(odd, "wb") as handle:
        handle.write(report.read_bytes())
    config = make_config(tmp_path)
    summary = flow.run(config, [inbox])
    assert summary.archived == summary.files == files + 1
    relpath = report.parent.relative_to(inbox).as_posix() + "/%B9%A4%D7%F7%B1%A8%B8%E6.txt"
    vault = Vault(config.resolve(config.store.vault))
    assert vault.read(relpath, f"original/{relpath.rsplit('/', 1)[1]}") == report.read_bytes()
    assert flow.run(config, [inbox]).unchanged == summary.files


def test_an_archive_kept_inside_the_inbox_is_not_archived_into_itself(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    files = sum(1 for path in inbox.rglob("*") if path.is_file() and not path.name.startswith("."))
    config = make_config(inbox)  # the store in the inbox, as `archiver run .` with the defaults
    assert config.resolve(config.store.vault).is_relative_to(inbox)
    first = flow.run(config, [inbox])
    second = flow.run(config, [inbox])
    assert first.files == second.files == second.unchanged == files


def test_a_path_found_in_two_inboxes_is_archived_once_and_the_other_file_left_alone(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(SAMPLES / "guowuyuan", one / "guowuyuan")
    shutil.copytree(SAMPLES / "guowuyuan", two / "guowuyuan")
    report = next(two.glob("guowuyuan/*/*.txt"))
    report.write_bytes(report.read_bytes() + "\n（另一份）\n".encode())
    config = make_config(tmp_path)
    files = len(list(one.rglob("*.txt")))
    first = flow.run(config, [one, two])
    assert (first.new, first.clashes, first.files) == (files, files, 2 * files)
    second = flow.run(config, [one, two])
    assert (second.new_versions, second.unchanged, second.clashes) == (0, files, files)
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        skipped = session.scalars(
            select(db.EventRow.detail).where(db.EventRow.kind == "skipped_path_clash")
        ).all()
    engine.dispose()
    clash = report.relative_to(two).as_posix()
    assert {"relpath": clash, "inbox": str(two), "first_inbox": str(one)} in skipped
    assert len(skipped) == 2 * files


def test_a_second_writer_is_refused_while_a_run_holds_the_archive(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    vault = Vault(config.resolve(config.store.vault))
    with writing(vault), pytest.raises(StoreError, match="is locked"):
        flow.run(config, [SAMPLES])
    assert flow.run(config, [SAMPLES]).archived > 0  # the lock went with its holder


def test_a_run_that_stops_on_an_error_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)

    def broken(*args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(flow, "_file_batch", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        flow.run(config, [SAMPLES])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        statuses = session.scalars(select(db.Run.status).where(db.Run.command == "run")).all()
    engine.dispose()
    assert statuses == ["failed"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batchs_files_land_between_two_barriers_of_the_coordinator_before_its_rows_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The vault is written before the database: the workers (or this process, serially) only
    stage their chunks' group commits; the coordinator lands a batch's at once, a barrier before
    any rename and one after, and only then commits the batch's rows (``_vault_batch``). No
    worker makes a barrier or a rename. Events go to a file, as a pool's workers are processes."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from archiver.store import _vault_batch

    log = tmp_path / "events.log"

    def record(what: str) -> None:
        with log.open("a") as out:  # one short appended line a write: whole lines, in order
            out.write(f"{os.getpid()} {what}\n")

    real_barrier, real_land, real_file = _vault_batch.barrier, _vault_batch.Batch._land, flow._file_batch
    # The landing runs in a thread beside the filing: a commit that did not wait for it would
    # most often still come after it. So each barrier waits (up to a second) for a commit after
    # the filing: one that waits for the landing never comes, and one that does not is seen.
    committed = threading.Event()

    def barrier(root: Path) -> None:
        real_barrier(root)
        committed.wait(1.0)
        record("barrier")

    def landing(root: Path, one: Any) -> None:
        record("land")
        real_land(root, one)

    def filing(*args: Any) -> None:
        record("file")
        committed.clear()
        real_file(*args)

    def record_commit(connection: Any) -> None:
        record("commit")
        committed.set()

    monkeypatch.setattr(_vault_batch, "barrier", barrier)
    monkeypatch.setattr(_vault_batch.Batch, "_land", staticmethod(landing))
    monkeypatch.setattr(flow, "_file_batch", filing)
    event.listen(Engine, "commit", record_commit)

    def events() -> list[str]:
        lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
        assert {pid for pid, what in lines if what != "commit"} <= {str(os.getpid())}  # none a worker's
        return [what for pid, what in lines if pid == str(os.getpid())]

    try:
        config = make_config(tmp_path, run={"workers": workers, "batch_size": 16})
        summary = flow.run(config, [SAMPLES])
        assert summary.archived + sum(summary.rejected.values()) == summary.files == 9
        # one batch of two chunks (8 files and 1): two barriers for the batch, not one a chunk
        seen = events()
        assert seen.count("barrier") == 2 and seen.count("land") == 9
        first, last = seen.index("barrier"), len(seen) - seen[::-1].index("barrier") - 1
        assert [i for i, e in enumerate(seen) if e == "land"] == list(range(first + 1, first + 10))
        assert last == first + 10
        assert seen.index("commit", seen.index("file")) > last  # the batch's rows commit after barrier 2
        log.unlink()
        again = flow.run(config, [SAMPLES])  # nothing written, no barrier
        assert again.unchanged == 9 and "barrier" not in events() and "land" not in events()
        vault = Vault(config.resolve(config.store.vault), create=False)
        assert vault.verify(full=True) == []
        assert not any((vault.root / "extensions" / "archiver-staging").iterdir())
    finally:
        event.remove(Engine, "commit", record_commit)


def test_the_documents_a_run_reads_ahead_are_those_filing_would_read(tmp_path: Path) -> None:
    """``flow._known_heads`` gives ``filing.file_batch`` each archived document as
    ``filing.archived_documents_of`` reads it (the one reader of both): heads or none, current
    or none, and paths not archived left out; the heads are the documents that have one."""
    from archiver.store import filing

    engine = db.open_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    with Session(engine) as session:
        with session.begin():
            session.add_all(
                [
                    db.Document(
                        id=7,
                        object_id="a/2020/x.txt",
                        head_sha512="s",
                        head_version="v2",
                        current_submission_id=3,
                    ),
                    db.Document(id=9, object_id="b/2021/y.txt", head_sha512=None, current_submission_id=None),
                    db.Document(id=11, object_id="c/2022/z.txt", head_sha512="t", current_submission_id=None),
                ]
            )
        paths = ["a/2020/x.txt", "b/2021/y.txt", "c/2022/z.txt", "d/2023/new.txt"]
        heads, documents = flow._known_heads(session, paths)
        with session.begin():
            read = filing.archived_documents_of(session, paths)
    engine.dispose()
    assert documents == read
    assert {path: ids[:2] for path, ids in documents.items()} == {
        "a/2020/x.txt": (7, 3),
        "b/2021/y.txt": (9, None),
        "c/2022/z.txt": (11, None),
    }
    assert heads == {"a/2020/x.txt": flow.Known("s", "v2"), "c/2022/z.txt": flow.Known("t", None)}
