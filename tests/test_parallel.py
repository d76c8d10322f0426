"""A parallel run files exactly what a serial run files: byte-identical exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiver import db, flow
from archiver.export import export_lines
from tests.conftest import SAMPLES, make_config


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


def test_a_dask_cluster_files_the_same_as_a_serial_run(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    serial = exported(tmp_path / "serial", SAMPLES, workers=1, batch_size=64)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        config = make_config(
            tmp_path / "dask",
            run={"executor": "dask", "dask_scheduler": cluster.scheduler_address, "batch_size": 4},
        )
        flow.run(config, [SAMPLES])
        engine = db.open_engine(config.database_url)
        with Session(engine) as session:
            on_dask = "\n".join(export_lines(session))
        engine.dispose()
    assert on_dask.encode() == serial.encode()
