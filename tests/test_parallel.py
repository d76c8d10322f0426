"""A parallel run files exactly what a serial run files (byte-identical exports), and a worker
sends the coordinator only what it files."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit.export import export_lines
from archiver.cli import main
from archiver.errors import ConfigError
from archiver.records import Processed, Stored
from archiver.stages import ingest, process
from archiver.stages.report import clerk_report
from archiver.store import db, worker
from archiver.store.vault import Vault
from tests.conftest import SAMPLES, make_config
from tests.test_postgres import generated_inbox


def exported(tmp_path: Path, inbox: Path, workers: int, batch_size: int) -> str:
    config = make_config(tmp_path, run={"workers": workers, "batch_size": batch_size})
    flow.run(config, [inbox])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        text = "\n".join(export_lines(session))
    engine.dispose()
    return text


def test_parallel_and_serial_runs_export_the_same_bytes_on_samples(tmp_path: Path) -> None:
    serial = exported(tmp_path / "serial", SAMPLES, workers=1, batch_size=64)
    parallel = exported(tmp_path / "parallel", SAMPLES, workers=2, batch_size=2)
    assert '"matches": [{' in serial  # the comparison covers reuse links, not only texts
    assert parallel.encode() == serial.encode()


@pytest.mark.shared
def test_parallel_and_serial_runs_export_the_same_bytes_on_a_bench_inbox(
    tmp_path: Path, bench_inbox: Path
) -> None:
    serial = exported(tmp_path / "serial", bench_inbox / "inbox", workers=1, batch_size=64)
    parallel = exported(tmp_path / "parallel", bench_inbox / "inbox", workers=2, batch_size=7)
    assert serial.count("\n") == 149
    assert parallel.encode() == serial.encode()


def exported_by_the_cli(folder: Path, inboxes: list[Path], run: str) -> bytes:
    """``archiver run`` of ``inboxes`` with ``run`` as the config's [run] table, then the bytes
    ``archiver export`` writes."""
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[store]\ndatabase = "{folder / "archive.sqlite3"}"\nvault = "{folder / "objects"}"\n[run]\n{run}\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    for command in (["run", *map(str, inboxes)], ["export", "-o", str(folder / "export.jsonl")]):
        result = runner.invoke(main, ["--config", str(config), *command], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return (folder / "export.jsonl").read_bytes()


def executed(dask_worker: Any) -> list[str]:
    """The functions of the tasks a Dask worker has run (``Client.run`` passes the worker as
    ``dask_worker``; a task's key is its function's name and a token)."""
    from dask.utils import key_split

    log = dask_worker.state.log
    return [key_split(entry[0]) for entry in log if entry[1:3] == ("executing", "memory")]


def test_archiver_run_on_a_dask_local_cluster_exports_what_the_process_pool_does(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    inboxes = [SAMPLES, generated_inbox(tmp_path / "generated")]
    pool = exported_by_the_cli(
        tmp_path / "pool", inboxes, 'executor = "process"\nworkers = 2\nbatch_size = 8'
    )
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        assert len(cluster.workers) == 2
        on_dask = exported_by_the_cli(
            tmp_path / "dask",
            inboxes,
            f'executor = "dask"\ndask_scheduler = "{cluster.scheduler_address}"\nbatch_size = 8',
        )
        with distributed.Client(cluster) as client:
            ran = client.run(executed)
    tasks = Counter(name for names in ran.values() for name in names)
    # The 24 files went through the cluster's workers, 8 a task, and each batch's candidates
    # were looked up and verified there, 200 new passages a task (the samples' long State
    # Council reports make one batch two tasks).
    assert tasks == {"process_chunk": 3, "find_and_verify_stored": 4}
    assert pool.count(b"\n") == 9 + 15 and b'"matches": [{' in pool  # reuse links are compared too
    assert on_dask == pool


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("tcp://127.0.0.1:1", "Timed out trying to connect to tcp://127.0.0.1:1 after 1 s"),
        ("no-port", "missing port number in address 'no-port'"),
    ],
)
def test_an_unreachable_dask_scheduler_is_a_config_error_naming_its_address(
    tmp_path: Path, address: str, reason: str
) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    config = make_config(tmp_path, run={"executor": "dask", "dask_scheduler": address})
    message = (
        f"cannot reach the Dask scheduler at {address}: {reason}; "
        "check that it runs and [run] dask_scheduler in config.toml"
    )
    # distributed's connect timeout is 30 s; the test does not need to wait that long.
    timeout = dask.config.set({"distributed.comm.timeouts.connect": "1s"})
    with timeout, pytest.raises(ConfigError, match=re.escape(message)), flow.executor_for(config):
        pass


def test_the_dask_executor_without_distributed_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    config = make_config(tmp_path, run={"executor": "dask", "dask_scheduler": "tcp://127.0.0.1:8786"})
    missing = re.escape("needs the distributed package: pip install 'archiver[dask]'")
    with pytest.raises(ConfigError, match=missing), flow.executor_for(config):
        pass


def test_a_worker_sends_back_what_the_coordinator_files_and_leaves_the_rest_in_the_vault(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    located = list(ingest.locate([SAMPLES], config.ingest))
    results = worker.process_chunk([(loc, None) for loc in located], config).results
    vault = Vault(config.resolve(config.store.vault))
    archived = changes_seen = 0
    for loc, result in zip(located, results, strict=True):
        assert isinstance(result, Stored)
        if not isinstance(result.outcome, Processed):
            continue
        archived += 1
        sent = result.outcome
        assert result.report is not None
        report = json.loads(result.report)  # as the column's type would encode it: the same text
        assert result.report == json.dumps(report)
        assert sent.submission.raw == b"" and sent.decoded.text == sent.cleaned.text == ""
        assert sent.cleaned.changes == () and "changes" not in report
        full = process.process_located(loc, config)
        assert isinstance(full, Processed)
        # What the coordinator files is intact; every change is in the vault's provenance.
        assert (sent.text, sent.passages, sent.fingerprints) == (full.text, full.passages, full.fingerprints)
        provenance = json.loads(vault.read(loc.relpath, "provenance.json"))
        assert provenance["report"] == {**report, "changes": clerk_report(full)["changes"]}
        changes_seen += len(full.cleaned.changes)
    assert archived >= 8 and changes_seen > 0


def test_a_worker_hands_its_commit_over_only_to_a_coordinator_writing_through_its_kernel(
    tmp_path: Path,
) -> None:
    """The coordinator's barrier covers a worker's writes only through one kernel into one file
    system (``_vault_batch.Writer``): such a worker stages and hands over, any other lands its own."""
    config = make_config(tmp_path)
    vault = Vault(config.resolve(config.store.vault))
    located = list(ingest.locate([SAMPLES], config.ingest))
    here, elsewhere = [(loc, None) for loc in located[:4]], [(loc, None) for loc in located[4:]]
    writer = vault.writer()
    assert writer is not None
    handed = worker.process_chunk(here, config, lander=writer)
    assert handed.staged is not None and len(handed.staged.objects) == 4
    assert not any(vault.holds(loc.relpath) for loc, _ in here)  # staged, not landed
    another_machine = dataclasses.replace(writer, boot_id="0" * 36)
    landed = worker.process_chunk(elsewhere, config, lander=another_machine)
    assert landed.staged is None and all(vault.holds(loc.relpath) for loc, _ in elsewhere)
    vault.land([handed.staged])
    assert all(vault.holds(loc.relpath) for loc in located) and vault.verify(full=True) == []
