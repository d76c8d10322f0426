"""Smoke test of bench/run_bench.py: its argument parsing, measurement helpers and result JSON shape.

The end-to-end part generates a tiny inbox (2 authorities × 2 years) with ../shared/bench and
runs archiver on it without the peer; it skips when ../shared is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import measure  # noqa: E402
import run_bench  # noqa: E402


def test_defaults_and_options() -> None:
    args = run_bench.parse_args([])
    assert (args.scale, args.seed, args.skip_peer, args.workers, args.keep) == (1, 7, False, None, False)
    args = run_bench.parse_args(["--scale", "8", "--seed", "3", "--skip-peer", "--workers", "2", "--keep"])
    assert (args.scale, args.seed, args.skip_peer, args.workers, args.keep) == (8, 3, True, 2, True)


def test_breakdown_strings_parse() -> None:
    by = {"script-damaged side": "201/202 = 0.995", "both sides Simplified": "0/0 = n/a"}
    assert run_bench.ratio(by, "script-damaged side") == pytest.approx(201 / 202)
    assert run_bench.ratio(by, "both sides Simplified") is None
    assert run_bench.ratio(by, "missing") is None


def test_config_override_points_store_into_folder(tmp_path: Path) -> None:
    from archiver import config

    path = common.write_config(tmp_path, workers=1, batch_size=7)
    loaded = config.load(path)
    assert loaded.run.workers == 1 and loaded.run.batch_size == 7
    assert loaded.resolve(loaded.store.database) == tmp_path / "archive.sqlite3"
    assert loaded.resolve(loaded.store.vault) == tmp_path / "objects"


def test_measure_sees_a_child_and_its_memory() -> None:
    # The child holds ~60 MB for half a second: both RSS figures must see it.
    code = "import time; b = bytearray(60 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    result = measure.measure([sys.executable, "-c", code], interval=0.05)
    assert result.returncode == 0
    assert result.wall_seconds >= 0.5
    assert result.peak_rss_tree_mb >= 60
    if result.peak_rss_max_process_mb is not None:  # /usr/bin/time present
        assert result.peak_rss_max_process_mb >= 60


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus) not present")
def test_tiny_run_writes_result_json(tmp_path: Path) -> None:
    argv = [
        "--authorities",
        "2",
        "--years",
        "2024-2025",
        "--skip-peer",
        "--workers",
        "1",
        "--work-dir",
        str(tmp_path / "work"),
        "--results-dir",
        str(tmp_path / "results"),
    ]
    assert run_bench.main(argv) == 0
    (result_file,) = (tmp_path / "results").glob("*-scale1-seed7.json")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    arch = result["archiver"]
    assert arch["passages"] > 0 and arch["mb_per_s"] > 0 and arch["peak_rss_tree_mb"] > 0
    span = {k for k in run_bench.QUALITY if k.startswith("span_")}
    assert set(run_bench.QUALITY) - span <= set(arch["quality"])
    assert not span & set(arch["quality"])  # no span truth without --mosaic, so no span figures
    assert arch["quality"]["status_acc"] > 0.9  # the tiny inbox still has the 7 bad files
    assert {"decode", "clean", "fingerprint"} <= set(result["archiver_stages"]["worker_stages_seconds"])
    assert result["machine"]["nproc"] >= 1 and "peer" not in result


@pytest.mark.ocfl_damaged
def test_nightly_copies_are_set_aside_not_deleted(tmp_path: Path) -> None:
    import nightly_cost

    night = tmp_path / "night"
    for name in ("archive.sqlite3", "archive.sqlite3-wal", "config.toml", "objects/0=ocfl_1.1"):
        (night / name).parent.mkdir(parents=True, exist_ok=True)
        (night / name).write_text(name)
    nightly_cost.set_aside(night)
    nightly_cost.set_aside(night)  # nothing there any more: a no-op
    assert not night.exists()
    (aside,) = (tmp_path / nightly_cost.TRASH).iterdir()
    # The vault's files wait to be deleted with the rest; the database's are gone at once.
    assert (aside / "objects" / "0=ocfl_1.1").read_text() == "objects/0=ocfl_1.1"
    assert (aside / "config.toml").is_file() and not list(aside.glob("archive.sqlite3*"))
    night.mkdir()
    nightly_cost.set_aside(night)
    assert len(list((tmp_path / nightly_cost.TRASH).iterdir())) == 2  # a second copy, beside the first


def test_nightly_summary_gives_the_wall_and_the_cpu_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    import nightly_cost

    def state(seconds: float, cpu: float) -> dict[str, float]:
        return {"night_seconds_median": seconds, "night_cpu_seconds_median": cpu}

    large = state(4.0, 6.0) | {"steady": state(5.0, 7.5) | {"compaction": {"seconds": 9.0}}}
    result = {"sizes": {"10": state(2.0, 5.0), "1000": large}}
    nightly_cost.summarise(result, [10, 1000])
    assert (result["ratio_largest_over_smallest"], result["ratio_steady"]) == (2.0, 2.5)
    assert (result["cpu_ratio_largest_over_smallest"], result["cpu_ratio_steady"]) == (1.2, 1.5)
    assert "CPU seconds (median) 5.0, ratios [1.2, 1.5]" in capsys.readouterr().out


def test_nightly_summary_of_a_build_only_run_adds_no_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    import nightly_cost

    # --repeat 0 (build and keep, time later with --reuse): no state has a night
    large = {"nights": [], "steady": {"nights": []}}
    result: dict[str, object] = {"sizes": {"10": {"nights": []}, "1000": large}}
    nightly_cost.summarise(result, [10, 1000])
    assert set(result) == {"sizes"}
    assert capsys.readouterr().out == ""


def test_nightly_spread_keeps_every_night_and_splits_the_growing_stages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nightly_cost

    def timed(seconds: float, cpu: float, verify: float, clean: float) -> dict[str, object]:
        stages = {"verify": verify, "compact": 0.5, "clean": clean, "decode": 0.25}
        return {"seconds": seconds, "cpu_seconds": cpu, "stage_seconds": stages}

    small: dict[str, object] = {"nights": [timed(2.0, 4.0, 1.0, 1.5), timed(3.0, 6.0, 1.0, 3.0)]}
    large: dict[str, object] = {"nights": [timed(3.0, 5.0, 2.0, 1.5), timed(6.0, 9.0, 2.5, 4.0)]}
    large["nights"].append(timed(4.0, 7.0, 2.0, 2.0))  # type: ignore[attr-defined]
    for entry in (small, large):
        nightly_cost.spread(entry)
    assert (large["night_seconds_median"], large["night_seconds_min"], large["night_seconds_max"]) == (
        4,
        3,
        6,
    )
    assert (large["night_growing_stage_seconds_median"], small["night_growing_stage_seconds_min"]) == (
        2.5,
        1.5,
    )
    assert (large["night_fixed_stage_seconds_min"], large["night_fixed_stage_seconds_max"]) == (1.75, 4.25)
    assert large["stage_seconds_median"] == {"clean": 2.0, "compact": 0.5, "decode": 0.25, "verify": 2.0}
    result = {"sizes": {"10": small, "1000": large}}
    nightly_cost.summarise(result, [10, 1000])
    assert (result["seconds_ratio_largest_best"], result["cpu_seconds_ratio_largest_best"]) == (1.5, 1.25)
    assert result["growing_stage_seconds_added_largest"] == 1.0
    assert "best-night ratios wall 1.5, CPU 1.25" in capsys.readouterr().out


def test_nightly_stage_clock_makes_the_stages_thread_cpu_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import time

    import nightly_cost

    modules = [importlib.import_module(name) for name in nightly_cost.TIMING_MODULES]
    for module in modules:  # put back after the test
        monkeypatch.setattr(module, "time", module.time)
    nightly_cost.stage_clock(False)
    assert all(module.time is time for module in modules)
    nightly_cost.stage_clock(True)
    for module in modules:
        assert module.time.perf_counter is time.thread_time
        assert module.time.process_time is time.process_time  # the rest of ``time`` as it is


def test_blocks_memory_counts_the_held_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import blocks_memory
    import numpy as np

    from archiver.index import levels
    from archiver.store import db

    archive = tmp_path / "archive.sqlite3"
    engine = db.open_engine(f"sqlite:///{archive}")
    rows = np.array([(band, key, 7 + key) for band in range(3) for key in range(5)], dtype=np.int64)
    with engine.begin() as connection:
        levels.write_blocks(connection, rows)
    engine.dispose()
    assert blocks_memory.main([str(archive)]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert (measured["blocks"], measured["rows"], measured["bytes_per_row"]) == (3, 15, 16.0)


def test_lookup_cost_reads_the_same_rows_under_every_variant(tmp_path: Path) -> None:
    import lookup_cost

    from archiver.store import bulk, db

    archive = tmp_path / "archive.sqlite3"
    engine = db.open_engine(f"sqlite:///{archive}")
    keys = range(-40, 40, 3)
    # Passage 61 in band 0 is the one the script takes as hits (passage id % 61 == band).
    rows = [(band, key, 61 if band == 0 else 5) for band in range(3) for key in keys]
    with engine.begin() as connection:
        bulk.insert_tuples(connection, db.table(db.PassageBand), rows)
    engine.dispose()
    argv = [str(archive), "--tasks", "2", "--repeat", "2", "--results-dir", str(tmp_path)]
    assert lookup_cost.main(argv) == 0
    (written,) = tmp_path.glob("*-lookup-cost.json")
    variants = json.loads(written.read_text())["variants"]
    assert sorted(variants) == ["both", "cache", "default", "mmap"]
    assert all(len(v["trials"]) == 2 for v in variants.values())
    # Every hit is found under every variant (the random keys miss).
    assert {trial["rows"] for v in variants.values() for trial in v["trials"]} == {len(keys)}


def test_scaleout_model_from_a_serial_runs_stage_seconds() -> None:
    import scaleout

    stages = {"decode": 1.0, "fingerprint": 1.0, "verify": 1.0, "archive": 1.0, "file": 0.25, "link": 0.75}
    stages |= {"compact": 0.0}
    fitted = scaleout.model(stages, megabytes=2.0)
    assert (fitted["worker_seconds_per_mb"], fitted["coordinator_seconds_per_mb"]) == (2.0, 0.5)
    assert fitted["workers_fed"] == 4.0
    # 2 workers make 2 × 2 MB / 4 s = 1 MB/s; from 4 on, the coordinator's 2 MB / 1 s is the limit.
    assert fitted["modelled_mb_per_s"] == {"2": 1.0, "8": 2.0, "32": 2.0}


def test_config_for_postgresql_and_dask(tmp_path: Path) -> None:
    from archiver import config

    url = "postgresql+psycopg://postgres@127.0.0.1:5432/x_scaleout"
    loaded = config.load(common.write_config(tmp_path, database=url, dask_scheduler="tcp://127.0.0.1:8786"))
    assert loaded.database_url == url
    assert (loaded.run.executor, loaded.run.dask_scheduler) == ("dask", "tcp://127.0.0.1:8786")
    assert common.inbox_key(20, 7, 20, "2019-2025", mosaic=0.3).endswith("years2019-2025-mosaic0.3")
    assert common.inbox_key(1, 7, 20, "2019-2025") == "inbox-scale1-seed7-auth20-years2019-2025"


def test_scaleout_on_samples_writes_its_model_and_compares_exports(tmp_path: Path) -> None:
    import scaleout

    from tests.conftest import SAMPLES

    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "inbox").symlink_to(SAMPLES)
    argv = ["--inbox", str(tmp_path / "given"), "--repeat", "2", "--skip-real"]
    argv += ["--work-dir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")]
    assert scaleout.main(argv) == 0
    (result_file,) = (tmp_path / "results").glob("*-scaleout-given.json")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    runs = result["serial"]["sqlite"]
    assert len(runs) == 2 and result["exports_identical"] is True
    assert runs[0]["summary"]["files"] == 9 and runs[0]["summary"]["links"] > 0
    fitted = result["model"]["sqlite"]
    assert fitted in [run["model"] for run in runs]
    assert fitted["worker_seconds_per_mb"] > 0 and fitted["coordinator_seconds_per_mb"] > 0
    assert not (tmp_path / "work").exists() or not list((tmp_path / "work").glob("scaleout-*"))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (corpus) not present")
def test_nightly_filler_is_indexed_in_key_order_and_skipped_by_search(tmp_path: Path) -> None:
    import nightly_cost
    import numpy as np
    from sqlalchemy import text

    from archiver import config
    from archiver.stages import fingerprint
    from archiver.store import db, search_index

    cfg = config.load(common.write_config(tmp_path))
    filler = nightly_cost.synthesise(cfg.database_url, 45, cfg)
    assert (filler["passages"], filler["last_passage_id"]) == (45, 45)
    engine = db.open_engine(cfg.database_url)
    with engine.connect() as conn:
        signatures = [bytes(s) for (s,) in conn.execute(text("SELECT signature FROM passages ORDER BY id"))]
        rows = conn.execute(text("SELECT band, key, passage_id FROM passage_bands")).all()
        last_submission = conn.execute(text("SELECT max(id) FROM submissions")).scalar_one()
        caught_up = conn.execute(
            text("SELECT value FROM meta WHERE key = :k"), {"k": search_index.SEARCH_META}
        )
        watermark = json.loads(caught_up.scalar_one())
    engine.dispose()
    keys = fingerprint.band_keys_bulk(signatures, cfg.fingerprint)
    expected = sorted((b, int(keys[i, b]), i + 1) for i in range(45) for b in range(keys.shape[1]))
    assert [tuple(r) for r in rows] == expected and filler["band_rows"] == len(expected) == 45 * 32
    assert np.unique(keys).size > 1  # random signatures: the rows are not all one bucket
    # The texts count as in the search index, so a night indexes only the last run's.
    assert watermark == {"indexed_through": last_submission} and last_submission == 3


def test_process_memory_finds_each_worker_and_what_it_holds(tmp_path: Path) -> None:
    import process_memory

    samples = Path(__file__).resolve().parents[1] / "samples"
    out = tmp_path / "memory.json"
    assert process_memory.main([str(samples), "--workers", "2", "--inside", "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())
    assert len(run["workers"]) == 2  # the pool's two processes, the coordinator apart
    peaks = [run["coordinator"]["peak_mb"], *(w["peak_mb"] for w in run["workers"])]
    assert run["largest_mb"] == max(peaks) > 0
    assert len(run["inside"]) == 2  # each worker wrote what it held as it exited
    assert sum(held["fingerprint_memo"] for held in run["inside"]) > 0  # the samples were fingerprinted
    assert all(held["VmHWM_mb"] >= held["VmRSS_mb"] > 0 for held in run["inside"])
