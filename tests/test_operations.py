"""The nightly operator's view: which config a command reads from cron, that a wrong input
creates nothing, exit statuses a scheduler can act on, output to standard output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import main
from tests.conftest import ROOT, SAMPLES

ARCHIVER = [sys.executable, "-m", "archiver"]


def write_config(folder: Path, inbox: Path, database: str = "archive/db.sqlite3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'[store]\ndatabase = "{database}"\nvault = "archive/objects"\n'
        f'[run]\ninbox = ["{inbox.as_posix()}"]\nworkers = 1\n',
        encoding="utf-8",
    )
    return path


def command(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``args`` run in a fresh process in ``cwd``, as cron would: only ``env`` and a PATH."""
    environment = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env=environment)


def everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def test_from_the_root_folder_archiver_config_names_the_archive_and_pipeline_is_archiver_run(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "site", SAMPLES)
    first = command([*ARCHIVER, "run"], Path("/"), ARCHIVER_CONFIG=str(config))
    assert first.returncode == 0, first.stderr
    assert "new 9," in first.stdout and (tmp_path / "site" / "archive" / "db.sqlite3").is_file()
    assert not Path("/archive").exists()
    # pipeline.py, started from yet another folder, reads the same config and finds it all there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = command([sys.executable, str(ROOT / "pipeline.py")], elsewhere, ARCHIVER_CONFIG=str(config))
    assert again.returncode == 0, again.stderr
    assert "new 0, new versions 0, unchanged 9" in again.stdout
    assert everything_under(elsewhere) == []


def test_config_option_beats_the_variable_which_beats_the_config_in_the_folder(tmp_path: Path) -> None:
    here = write_config(tmp_path / "here", SAMPLES)
    named = write_config(tmp_path / "named", SAMPLES)
    option = write_config(tmp_path / "option", SAMPLES)
    shown = command([*ARCHIVER, "--config", str(option), "config"], here.parent, ARCHIVER_CONFIG=str(named))
    assert f"# config: {option.resolve()} (from --config)" in shown.stdout
    shown = command([*ARCHIVER, "config"], here.parent, ARCHIVER_CONFIG=str(named))
    assert f"# config: {named.resolve()} (from ARCHIVER_CONFIG)" in shown.stdout
    shown = command([*ARCHIVER, "config"], here.parent)
    assert f"# config: {here.resolve()} (from ./config.toml)" in shown.stdout


def test_a_missing_inbox_from_cron_creates_nothing_and_says_no_config_was_found(tmp_path: Path) -> None:
    done = command([*ARCHIVER, "run"], tmp_path)
    assert done.returncode == 1
    assert f"inbox {tmp_path / 'samples'} does not exist" in done.stderr
    assert "no config file was found" in done.stderr and "ARCHIVER_CONFIG" in done.stderr
    assert everything_under(tmp_path) == []


@pytest.mark.parametrize(
    "mistake",
    [
        "missing inbox",
        "missing config named by the variable",
        "missing config named by the option",
        "database",
    ],
)
def test_a_wrong_input_stops_the_run_before_any_archive_file_or_folder_is_made(
    tmp_path: Path, mistake: str
) -> None:
    site = tmp_path / "site"
    if mistake == "missing inbox":
        write_config(site, tmp_path / "no-inbox")
    elif mistake == "database":  # nothing listens on port 1
        write_config(site, SAMPLES, database="postgresql+psycopg://postgres@127.0.0.1:1/archive")
    else:
        site.mkdir()
    before = everything_under(tmp_path)
    env = {"ARCHIVER_CONFIG": str(site / "config.toml")}
    args = [*ARCHIVER, "run"]
    if mistake == "missing config named by the option":
        env, args = {}, [*ARCHIVER, "--config", str(site / "config.toml"), "run"]
    done = command(args, site, **env)
    assert done.returncode == 1 and done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1
    assert everything_under(tmp_path) == before


@pytest.mark.ocfl_damaged  # flips a byte to get the fixity status
def test_exit_statuses_done_error_usage_fixity_and_busy_come_from_real_situations(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLES)
    env = {"ARCHIVER_CONFIG": str(config)}
    done = command([*ARCHIVER, "run"], tmp_path, **env)
    assert done.returncode == 0 and "rejected 1 (1 binary)" in done.stdout  # a rejection is no failure
    assert command([*ARCHIVER, "run", str(tmp_path / "gone")], tmp_path, **env).returncode == 1
    assert command([*ARCHIVER, "run", "--no-such-option"], tmp_path, **env).returncode == 2
    # a second writer really holding the lock: another process inside guard.writing
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from archiver.store.guard import writing; from archiver.store.vault import Vault\n"
            f"with writing(Vault({str(tmp_path / 'archive' / 'objects')!r}, create=False)):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == "held\n"
        busy = command([*ARCHIVER, "run"], tmp_path, **env)
        assert busy.returncode == 75 and "another archiver run" in busy.stderr
        assert command([*ARCHIVER, "compact"], tmp_path, **env).returncode == 75
    finally:
        holder.stdin.close()
        holder.wait()
    assert command([*ARCHIVER, "verify", "--full"], tmp_path, **env).returncode == 0
    content = next(p for p in (tmp_path / "archive" / "objects").rglob("*.txt") if "/content/" in str(p))
    data = bytearray(content.read_bytes())
    data[len(data) // 2] ^= 0x01
    content.write_bytes(bytes(data))
    flipped = command([*ARCHIVER, "verify", "--full"], tmp_path, **env)
    assert flipped.returncode == 3 and "fixity problem" in flipped.stderr


def test_a_dash_sends_export_and_audit_to_standard_output(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLES)
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "run"], catch_exceptions=False).exit_code == 0
    for args in (["export", "-o", "-"], ["audit", "-o", "-"], ["audit", "--format", "csv", "-o", "-"]):
        to_dash = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        plain = runner.invoke(main, ["--config", str(config), *args[:-2]], catch_exceptions=False)
        assert to_dash.exit_code == 0 and to_dash.output == plain.output and plain.output
    assert len(to_dash.output.splitlines()) == 9  # the CSV: a header and the 8 archived documents
    exported = runner.invoke(main, ["--config", str(config), "export", "-o", "-"]).output.splitlines()
    assert len([json.loads(line) for line in exported]) == 9
    seed = ROOT / "tests" / "data" / "seed.txt"
    cleaned = runner.invoke(main, ["clean", str(seed), "-o", "-"], catch_exceptions=False)
    assert cleaned.exit_code == 0 and cleaned.output == runner.invoke(main, ["clean", str(seed)]).output
    assert not (tmp_path / "-").exists() and not Path("-").exists()
    html = runner.invoke(main, ["--config", str(config), "audit", "--format", "html", "-o", "-"])
    assert html.exit_code == 1 and "give it with -o DIR" in html.output


def test_python_m_archiver_is_the_archiver_command(tmp_path: Path) -> None:
    done = command([*ARCHIVER, "--version"], tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("archiver, version ")
    assert os.listdir(tmp_path) == []


def test_config_prints_each_value_with_where_it_came_from_as_toml_that_loads_back(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLES)
    shown = CliRunner().invoke(main, ["--config", str(config), "config"], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "\nworkers = 1  # file\n" in shown.output and "\nbatch_size = 64  # default\n" in shown.output
    assert '\nlayout = "{authority}/{year}/{file}"  # default\n' in shown.output
    from archiver import config as config_mod

    again = tmp_path / "again.toml"
    again.write_text(shown.output, encoding="utf-8")
    assert config_mod.load(again) == config_mod.load(config)
    as_json = CliRunner().invoke(main, ["--config", str(config), "config", "--json"], catch_exceptions=False)
    tables = json.loads(as_json.output)["tables"]
    assert tables["run"]["inbox"] == {"value": [SAMPLES.as_posix()], "from": "file"}
    assert tables["match"]["match_at"] == {"value": 0.5, "from": "default"}


def test_config_check_names_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    config = write_config(site, tmp_path / "no-inbox")
    (site / "archive").mkdir()
    (site / "archive" / "objects").write_text("in the way", encoding="utf-8")
    before = everything_under(tmp_path)
    checked = CliRunner().invoke(main, ["--config", str(config), "config", "check"], catch_exceptions=False)
    assert checked.exit_code == 1
    lines = checked.output.splitlines()
    assert lines[1].startswith("PROBLEM  inbox    ") and "no-inbox does not exist" in lines[1]
    assert lines[2].startswith("ok       database not there yet: a run creates ")
    assert lines[3].startswith("PROBLEM  vault    ") and "is a file" in lines[3]
    assert lines[-1] == "Error: 2 problems above; fix them, then check again"
    assert everything_under(tmp_path) == before
    good = write_config(tmp_path / "good", SAMPLES)
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(good), "config", "check"]).exit_code == 0
    assert everything_under(tmp_path / "good") == [good]
    runner.invoke(main, ["--config", str(good), "run"], catch_exceptions=False)
    after = runner.invoke(main, ["--config", str(good), "config", "check"], catch_exceptions=False).output
    assert "ok       database an SQLite database at " in after and "an OCFL storage root at " in after


def inbox_with_rejections(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """samples/ plus an empty file and a second binary one: relpath → the reason each is rejected for."""
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / "bangongshi" / "2024" / "empty.txt").write_bytes(b"")
    (inbox / "bangongshi" / "2024" / "zip.txt").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    reasons = {
        "bangongshi/2024/photo.txt": "binary",
        "bangongshi/2024/empty.txt": "empty",
        "bangongshi/2024/zip.txt": "binary",
    }
    return inbox, reasons


def test_the_log_has_a_line_per_rejected_file_and_runs_show_lists_them(tmp_path: Path) -> None:
    inbox, reasons = inbox_with_rejections(tmp_path)
    config = write_config(tmp_path, inbox)
    log = tmp_path / "archiver.log"
    runner = CliRunner()
    args = ["--config", str(config), "--log-file", str(log), "--log-format", "json"]
    first = runner.invoke(main, [*args, "run"], catch_exceptions=False)
    assert first.exit_code == 0
    assert (
        "    rejected: bangongshi/2024/empty.txt (empty), bangongshi/2024/photo.txt (binary), "
        in first.output
    )
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    rejected = {line["path"]: line["reason"] for line in lines if line["event"] == "rejected"}
    assert rejected == reasons
    assert all(line["level"] == "warning" and line["detail"] for line in lines if line["event"] == "rejected")
    assert lines[0]["event"] == "started" and lines[-1]["event"] == "completed"
    # the archive keeps the run's own log, in the human format
    kept = (tmp_path / "archive" / "logs" / "run-1.log").read_text(encoding="utf-8").splitlines()
    for relpath, reason in reasons.items():
        assert sum(f" WARNING rejected {relpath}: {reason} (" in line for line in kept) == 1
    shown = runner.invoke(
        main, ["--config", str(config), "runs", "show", "1", "--json"], catch_exceptions=False
    )
    listed = json.loads(shown.output)
    assert {r["file"]: r["reason"] for r in listed["rejected"]} == reasons
    assert len(listed["new"]) == 11 and listed["status"] == "completed"
    text = runner.invoke(main, ["--config", str(config), "runs", "show", "1"], catch_exceptions=False).output
    assert "rejected (3):\n  bangongshi/2024/empty.txt: empty (" in text
    # a night later: one file changed, one path clash; the log and `runs show 2` name them
    changed = inbox / "guowuyuan" / "2024" / "2024-zhengfu-gongzuo-baogao.txt"
    changed.write_bytes(changed.read_bytes() + "\n补充说明。\n".encode())
    other = tmp_path / "other"
    (other / "bangongshi" / "2024").mkdir(parents=True)
    (other / "bangongshi" / "2024" / "zip.txt").write_bytes(b"\x00" * 10)
    second = runner.invoke(main, [*args, "run", str(inbox), str(other)], catch_exceptions=False)
    assert second.exit_code == 0
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()][len(lines) :]
    assert [(e["path"], e["version"]) for e in events if e["event"] == "new_version"] == [
        ("guowuyuan/2024/2024-zhengfu-gongzuo-baogao.txt", "v2")
    ]
    assert [e["relpath"] for e in events if e["event"] == "skipped_path_clash"] == ["bangongshi/2024/zip.txt"]
    again = json.loads(runner.invoke(main, ["--config", str(config), "runs", "show", "2", "--json"]).output)
    assert again["new_versions"] == [
        {"file": "guowuyuan/2024/2024-zhengfu-gongzuo-baogao.txt", "version": "v2"}
    ]
    assert [e["relpath"] for e in again["events"]["skipped_path_clash"]] == ["bangongshi/2024/zip.txt"]
    table = runner.invoke(main, ["--config", str(config), "runs"], catch_exceptions=False).output.splitlines()
    assert table[0].split() == [
        "run",
        "started",
        "(UTC)",
        "command",
        "status",
        "files",
        "new",
        "rejected",
        "duration",
    ]
    assert [row.split()[0:1] + row.split()[3:8] for row in table[1:]] == [
        ["1", "run", "completed", "11", "11", "3"],
        ["2", "run", "completed", "12", "0", "0"],
    ]
    listed_runs = json.loads(runner.invoke(main, ["--config", str(config), "runs", "--json"]).output)
    assert [(r["run"], r["files"], r["status"]) for r in listed_runs] == [
        (1, 11, "completed"),
        (2, 12, "completed"),
    ]
    missing = runner.invoke(main, ["--config", str(config), "runs", "show", "9"])
    assert missing.exit_code == 1 and "there is no run 9" in missing.output


CONTRIB = ROOT / "contrib"
INSTALLED = "/opt/archiver/.venv/bin/archiver"


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (.ci/run installs it)"
)
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    service = (CONTRIB / "archiver.service").read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED} --log-file " in service and "Environment=ARCHIVER_CONFIG=" in service
    assert "flock" not in service.replace("No flock", "")
    # verify wants the executable to exist: this checkout's stands in for the installed one
    (tmp_path / "archiver.service").write_text(
        service.replace(INSTALLED, str(Path(sys.executable).with_name("archiver"))), encoding="utf-8"
    )
    shutil.copy(CONTRIB / "archiver.timer", tmp_path / "archiver.timer")
    done = subprocess.run(
        ["systemd-analyze", "verify", "archiver.service", "archiver.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_crontab_line_runs_the_configured_archive_from_the_root_folder(tmp_path: Path) -> None:
    lines = [
        line for line in (CONTRIB / "crontab").read_text(encoding="utf-8").splitlines() if line[:1].isdigit()
    ]
    assert len(lines) == 1 and "flock" not in lines[0]
    fields = lines[0].split(maxsplit=5)
    assert fields[:5] == ["30", "1", "*", "*", "*"]
    config = write_config(tmp_path, SAMPLES)
    log = tmp_path / "archiver.log"
    job = (
        fields[5]
        .replace("/etc/archiver/config.toml", str(config))
        .replace(INSTALLED, str(Path(sys.executable).with_name("archiver")))
        .replace("/var/log/archiver/archiver.log", str(log))
    )
    done = command(["/bin/sh", "-c", job], Path("/"))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert "WARNING rejected bangongshi/2024/photo.txt: binary (" in log.read_text(encoding="utf-8")
    assert (tmp_path / "archive" / "logs" / "run-1.log").is_file()


def on_a_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str]:
    """``args`` with standard error on a pseudo-terminal (as an operator at a shell sees it)."""
    import pty

    leader, follower = pty.openpty()
    environment = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TERM": "xterm", **env}
    job = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=follower, env=environment)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    out = job.stdout.read() if job.stdout else b""
    os.close(leader)
    return job.wait(), out.decode(), seen.decode(errors="replace")


def test_verify_full_and_reindex_show_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLES)
    env = {"ARCHIVER_CONFIG": str(config)}
    assert command([*ARCHIVER, "run"], tmp_path, **env).returncode == 0
    status, out, err = on_a_terminal([*ARCHIVER, "verify", "--full"], tmp_path, **env)
    assert status == 0 and "verifying" in err and "100%" in err and out.startswith("ok: 9 objects")
    status, out, err = on_a_terminal([*ARCHIVER, "reindex"], tmp_path, **env)
    assert status == 0 and "reindexing" in err and "100%" in err and out.startswith("reindexed ")
    quick = on_a_terminal([*ARCHIVER, "verify"], tmp_path, **env)
    assert quick[0] == 0 and "verifying" not in quick[2]
    piped = command([*ARCHIVER, "verify", "--full"], tmp_path, **env)
    assert piped.returncode == 0 and piped.stderr == ""


@pytest.mark.ocfl_damaged  # damages a content file to show verify's JSON problems
def test_verify_reindex_and_compact_print_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, SAMPLES)
    runner = CliRunner()
    args = ["--config", str(config)]
    runner.invoke(main, [*args, "run"], catch_exceptions=False)
    verified = json.loads(
        runner.invoke(main, [*args, "verify", "--full", "--json"], catch_exceptions=False).output
    )
    assert verified == {"ok": True, "mode": "full", "objects": 9, "problems": [], "warnings": []}
    merged = json.loads(runner.invoke(main, [*args, "compact", "--json"], catch_exceptions=False).output)
    assert list(merged) == ["merged"] and merged["merged"] > 0  # the run's band rows
    again = json.loads(runner.invoke(main, [*args, "compact", "--json"], catch_exceptions=False).output)
    assert again == {"merged": 0}
    rebuilt = json.loads(runner.invoke(main, [*args, "reindex", "--json"], catch_exceptions=False).output)
    assert set(rebuilt) == {"passages", "signed", "links"}
    assert rebuilt["passages"] > 500 and rebuilt["links"] == 19
    content = next(p for p in (tmp_path / "archive" / "objects").rglob("*.txt") if "/content/" in str(p))
    content.write_bytes(content.read_bytes() + b"!")
    damaged = runner.invoke(main, [*args, "verify", "--full", "--json"])
    assert damaged.exit_code == 3
    shown = json.loads(damaged.stdout)
    assert shown["ok"] is False and len(shown["problems"]) == 1


def test_layout_problems_and_identical_copies_are_named_in_the_log_and_in_runs_show(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES / "guowuyuan", inbox / "guowuyuan")
    report = inbox / "guowuyuan" / "2024" / "2024-zhengfu-gongzuo-baogao.txt"
    shutil.copy(report, inbox / "loose.txt")  # at the inbox root: no authority, no year
    (inbox / "minguo" / "1937").mkdir(parents=True)
    (inbox / "minguo" / "1937" / "report.txt").write_text(
        "民国二十六年政府工作报告\n\n　　今年工作如下。\n", encoding="utf-8"
    )
    config = write_config(tmp_path, inbox)
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "run"], catch_exceptions=False)
    assert "  layout: 2 files without an authority or year from their path" in first.output
    assert "  identical: 1 new files are copies of archived documents" in first.output
    log = (tmp_path / "archive" / "logs" / "run-1.log").read_text(encoding="utf-8")
    assert " WARNING loose.txt: does not fit [ingest] layout '{authority}/{year}/{file}'" in log
    assert " WARNING minguo/1937/report.txt: '1937' in its path is not a year from 1949 to 2100" in log
    assert f" INFO    loose.txt is byte-identical to {report.relative_to(inbox).as_posix()}" in log
    shown = json.loads(runner.invoke(main, ["--config", str(config), "runs", "show", "1", "--json"]).output)
    assert [e["relpath"] for e in shown["events"]["layout"]] == ["loose.txt", "minguo/1937/report.txt"]
    assert shown["events"]["identical"] == [
        {"relpath": "loose.txt", "identical_to": report.relative_to(inbox).as_posix()}
    ]
    exported = runner.invoke(main, ["--config", str(config), "export"], catch_exceptions=False).output
    years = {line["file"]: line.get("year") for line in map(json.loads, exported.splitlines())}
    assert years["minguo/1937/report.txt"] is None
    # an archive of older reports says so in its config: the year is taken, and nothing is warned
    older = tmp_path / "older"
    older_config = write_config(older, inbox)
    with older_config.open("a", encoding="utf-8") as handle:
        handle.write("[ingest]\nmin_year = 1900\n")
    again = runner.invoke(main, ["--config", str(older_config), "run"], catch_exceptions=False)
    assert "  layout: 1 files without" in again.output
    exported = runner.invoke(main, ["--config", str(older_config), "export"], catch_exceptions=False).output
    years = {line["file"]: line.get("year") for line in map(json.loads, exported.splitlines())}
    assert years["minguo/1937/report.txt"] == 1937


@pytest.mark.parametrize("on_missing", ["keep", "withdraw"])
def test_a_file_that_left_the_inbox_is_reported_once_kept_and_withdrawn_only_when_asked(
    tmp_path: Path, on_missing: str
) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    config = write_config(tmp_path, inbox)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'[ingest]\non_missing = "{on_missing}"\n')
    runner = CliRunner()

    def run_and_export() -> tuple[str, list[str]]:
        summary = runner.invoke(main, ["--config", str(config), "run"], catch_exceptions=False).output
        exported = runner.invoke(main, ["--config", str(config), "export"], catch_exceptions=False).output
        return summary, sorted(json.loads(line)["file"] for line in exported.splitlines())

    _, before = run_and_export()
    gone = "guowuyuan/2023/2023年 政府工作报告（全文）.txt"
    moved = tmp_path / "moved.txt"
    (inbox / gone).rename(moved)
    summary, after = run_and_export()
    assert "  left the inbox 1, back in it 0 (see `archiver runs show 2`)" in summary
    assert after == (before if on_missing == "keep" else [f for f in before if f != gone])
    audited = json.loads(
        runner.invoke(main, ["--config", str(config), "audit"], catch_exceptions=False).output
    )
    assert (gone in {d["file"] for d in audited["documents"]}) == (on_missing == "keep")
    shown = json.loads(runner.invoke(main, ["--config", str(config), "runs", "show", "2", "--json"]).output)
    assert shown["events"]["withdrawn"] == [{"relpath": gone, "current": on_missing == "keep"}]
    log = (tmp_path / "archive" / "logs" / "run-2.log").read_text(encoding="utf-8")
    assert f" WARNING {gone} has left the inbox: kept in the archive, " in log
    summary, again = run_and_export()  # reported once, not every night
    assert "left the inbox" not in summary and again == after
    moved.rename(inbox / gone)
    summary, back = run_and_export()
    assert "  left the inbox 0, back in it 1" in summary and back == before
    audit = json.loads(runner.invoke(main, ["--config", str(config), "audit"], catch_exceptions=False).output)
    assert gone in {d["file"] for d in audit["documents"]}
    (inbox / gone).rename(moved)  # its latest event, not its first, says whether it is reported
    summary, _ = run_and_export()
    assert "  left the inbox 1, back in it 0" in summary
