"""archiver against the naive peer on one generated inbox: throughput, memory, quality, stages.

    /work/venv/bin/python bench/run_bench.py [--scale N] [--seed S] [--mosaic F] [--workers W]
                                             [--skip-peer] [--profile] [--keep]

1. generates (or reuses, from bench/work/) an inbox with ../shared/bench/make_inbox.py (with
   ``--mosaic F``: sentence mosaics and embedded paragraphs, and the span truth that scores the
   export's ``reused`` characters);
2. runs ``archiver run --json`` on a fresh archive, then ``archiver export --format jsonl``,
   and ``../shared/bench/naive_peer.py`` (as shipped: jieba) on the same inbox, each as a child
   process measured by ``measure.py`` (wall seconds, peak RSS of the largest process and of
   the whole process tree);
3. scores both outputs with ``../shared/bench/evaluate.py --json``;
4. prints the figures side by side, the ratio archiver/peer and archiver's stage breakdown;
5. writes everything to bench/results/<date>-scale<N>-seed<S>.json (with the machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from measure import Measured, measure

QUALITY = (
    "status_acc",
    "intra_recall",
    "intra_precision",
    "clean_sim_mean",
    "clean_sim_min",
    "pair_recall",
    "pair_precision",
    "pair_recall_script_damaged",
    "pair_recall_both_simplified",
    "span_recall",
    "span_precision",
    "span_recall_paragraph",
    "span_recall_sentence",
    "span_recall_embedded",
    "span_recall_script_damaged",
    "span_share_within_005",
)
SPAN_KEYS = ("span_recall", "span_precision", "span_share_within_005", "span_share_error_mean")
# Higher is better for every quality figure above.
# Summed over the pool workers; "archive" is the vault's group commits staged (objects.stage_all;
# the coordinator's "land" puts them in place),
# "verify" the index's candidate pairs judged and aligned (stages.verify).
STAGES = ("decode", "clean", "split", "fingerprint", "match", "checks", "archive", "verify")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=1, help="make_inbox.py --scale (1 ≈ 3.4 MB, 8 ≈ 25 MB)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--mosaic",
        type=float,
        default=0.0,
        help="make_inbox.py --mosaic F (0: none; 0.3 for issue 20's figures)",
    )
    ap.add_argument("--authorities", type=int, default=20)
    ap.add_argument("--years", default="2019-2025")
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="[run] workers for archiver (default: config.toml's, 0 = one per core)",
    )
    ap.add_argument("--batch-size", type=int, default=None, help="[run] batch_size for archiver")
    ap.add_argument("--skip-peer", action="store_true", help="do not run naive_peer.py")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run archiver serially under cProfile and group its self time by module",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary archive and outputs")
    ap.add_argument("--work-dir", type=Path, default=common.WORK, help="where inboxes are cached")
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    return ap.parse_args(argv)


def ratio(recall_by: dict[str, str], label: str) -> float | None:
    """The value of evaluate.py's ``"201/202 = 0.995"`` breakdown strings, or None."""
    text = recall_by.get(label)
    match = re.match(r"\s*(\d+)/(\d+)", text or "")
    return int(match.group(1)) / int(match.group(2)) if match and int(match.group(2)) else None


def quality(metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures compared side by side (from evaluate.py's --json output)."""
    by = metrics.get("pair_recall_by", {})
    out = {k: metrics.get(k) for k in QUALITY[:7]}
    out["pair_recall_script_damaged"] = ratio(by, "script-damaged side")
    out["pair_recall_both_simplified"] = ratio(by, "both sides Simplified")
    out["clean_sim_by_damage"] = metrics.get("clean_sim_by_damage")
    out["pair_recall_by"] = by
    out["pair_counts"] = metrics.get("pair_counts")
    out["pairs_reported"] = metrics.get("pairs_reported")
    out["intra_removed_fp"] = metrics.get("intra_removed_fp")
    if "span_recall" in metrics:  # a --mosaic inbox: the characters of `reused`
        out |= {k: metrics.get(k) for k in SPAN_KEYS}
        kinds, damage = metrics.get("span_recall_by_kind", {}), metrics.get("span_recall_by_damage", {})
        out |= {f"span_recall_{k}": kinds.get(k) for k in ("paragraph", "sentence", "embedded")}
        out["span_recall_script_damaged"] = damage.get("script-damaged")
        out["span_recall_by"] = metrics.get("span_recall_by")
        out["span_docs"] = {
            k: metrics.get(k) for k in ("span_docs_scored", "span_docs_aligned", "span_docs_skipped")
        }
    return out


def evaluate(truth: Path, pred: Path, tmp: Path, name: str) -> dict[str, Any]:
    out = tmp / f"{name}-metrics.json"
    measured = measure(
        [
            sys.executable,
            str(common.KIT / "evaluate.py"),
            "--truth",
            str(truth),
            "--pred",
            str(pred),
            "--json",
            str(out),
            "--quiet",
        ]
    )
    _check(measured, f"evaluate.py on {name}")
    metrics: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return metrics


def _check(measured: Measured, what: str) -> None:
    if measured.returncode != 0:
        sys.stderr.write(measured.stdout + measured.stderr)
        raise SystemExit(f"{what} failed with exit code {measured.returncode}")


def _figures(measured: Measured, size: int, passages: int) -> dict[str, Any]:
    wall = measured.wall_seconds
    return {
        "wall_seconds": wall,
        "mb_per_s": round(size / 1e6 / wall, 3),
        "passages": passages,
        "passages_per_s": round(passages / wall, 1),
        "peak_rss_max_process_mb": measured.peak_rss_max_process_mb,
        "peak_rss_tree_mb": measured.peak_rss_tree_mb,
    }


def run_archiver(outdir: Path, tmp: Path, args: argparse.Namespace, size: int) -> dict[str, Any]:
    """archiver run + export on a fresh archive; figures, run summary and quality."""
    config = common.write_config(tmp / "archive", args.workers, args.batch_size)
    inbox = outdir / "inbox"
    run = measure([*common.ARCHIVER, "--config", str(config), "run", "--json", str(inbox)])
    _check(run, "archiver run")
    summary = json.loads(run.stdout)
    pred = tmp / "archiver.jsonl"
    export = measure(
        [*common.ARCHIVER, "--config", str(config), "export", "--format", "jsonl", "-o", str(pred)]
    )
    _check(export, "archiver export")
    result = _figures(run, size, summary["passages"])
    result |= {
        "self_reported_seconds": summary.get("seconds"),
        "export_wall_seconds": export.wall_seconds,
        "export_peak_rss_tree_mb": export.peak_rss_tree_mb,
        "stage_seconds": summary.get("stage_seconds", {}),
        "summary": summary,
        "quality": quality(evaluate(outdir, pred, tmp, "archiver")),
    }
    return result


def run_peer(outdir: Path, tmp: Path, size: int) -> dict[str, Any]:
    """naive_peer.py as shipped (jieba, MinHash.bulk, unverified LSH); figures and quality."""
    pred = tmp / "peer.jsonl"
    run = measure(
        [
            sys.executable,
            str(common.KIT / "naive_peer.py"),
            "--inbox",
            str(outdir / "inbox"),
            "--out",
            str(pred),
        ]
    )
    _check(run, "naive_peer.py")
    passages = re.search(r"(\d+) passages\n", run.stdout)
    elapsed = re.search(r"elapsed ([\d.]+) s", run.stdout)
    times = re.search(r"time: (.*)", run.stdout)
    result = _figures(run, size, int(passages.group(1)) if passages else 0)
    result |= {
        "self_reported_seconds": float(elapsed.group(1)) if elapsed else None,
        "stage_times": times.group(1).strip() if times else None,
        "quality": quality(evaluate(outdir, pred, tmp, "peer")),
    }
    return result


def run_profile(outdir: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A serial archiver run under cProfile: self time grouped by module, and the top functions."""
    import profile_run

    config = common.write_config(tmp / "profiled", workers=1, batch_size=args.batch_size)
    prof = tmp / "archiver.prof"
    run = measure(
        [
            sys.executable,
            str(common.BENCH / "profile_run.py"),
            str(prof),
            "--config",
            str(config),
            "run",
            "--json",
            str(outdir / "inbox"),
        ]
    )
    _check(run, "archiver run under cProfile")
    return {
        "wall_seconds_profiled": run.wall_seconds,
        "self_seconds_by_group": profile_run.grouped_self_time(prof),
        "top_functions": profile_run.top_functions(prof),
        "archiver_cumulative": profile_run.archiver_cumulative(prof),
    }


def stage_breakdown(stage_seconds: dict[str, float]) -> dict[str, Any]:
    """Worker stages (summed over workers) with their shares, and the coordinator's link time."""
    worker = {k: stage_seconds.get(k, 0.0) for k in STAGES}
    total = sum(worker.values()) or 1.0
    other = {k: v for k, v in stage_seconds.items() if k not in STAGES}
    return {
        "worker_stages_seconds": worker,
        "worker_stages_share": {k: round(v / total, 3) for k, v in worker.items()},
        "coordinator_seconds": other,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_report(result: dict[str, Any]) -> None:
    arch, peer = result["archiver"], result.get("peer")
    inbox = result["inbox"]
    print(
        f"\ninbox: scale {inbox['scale']} seed {inbox['seed']} mosaic {inbox.get('mosaic', 0)}: "
        f"{inbox['files']} files, "
        f"{inbox['bytes'] / 1e6:.2f} MB ({inbox['path']})"
    )
    rows = [
        ("wall s", "wall_seconds"),
        ("MB/s", "mb_per_s"),
        ("passages", "passages"),
        ("passages/s", "passages_per_s"),
        ("peak RSS max process MB", "peak_rss_max_process_mb"),
        ("peak RSS process tree MB", "peak_rss_tree_mb"),
    ]
    print(f"\n{'':34}{'archiver':>12}{'naive peer':>12}{'ratio':>9}")
    for label, key in rows:
        a, p = arch.get(key), peer.get(key) if peer else None
        r = f"{a / p:.2f}×" if isinstance(a, int | float) and isinstance(p, int | float) and p else ""
        print(f"{label:34}{_fmt(a):>12}{_fmt(p):>12}{r:>9}")
    for key in QUALITY:
        a, p = arch["quality"].get(key), peer["quality"].get(key) if peer else None
        if a is None and p is None:
            continue  # span figures: only on a --mosaic inbox
        flag = "" if p is None or a is None or a >= p else "  < peer"
        print(f"{key:34}{_fmt(a):>12}{_fmt(p):>12}{flag}")
    stages = result["archiver_stages"]
    print("\narchiver stages (worker stages summed over workers; file, link, settle, compact: coordinator):")
    for name, seconds in stages["worker_stages_seconds"].items():
        print(f"  {name:12}{seconds:8.2f} s  {stages['worker_stages_share'][name]:6.1%}")
    for name, seconds in stages["coordinator_seconds"].items():
        print(f"  {name:12}{seconds:8.2f} s  (coordinator)")
    print(
        f"  run wall {arch['wall_seconds']:.2f} s (self-reported {arch['self_reported_seconds']} s), "
        f"export {arch['export_wall_seconds']:.2f} s"
    )
    if "profile" in result:
        print(
            f"\nserial run under cProfile ({result['profile']['wall_seconds_profiled']:.1f} s), "
            "self time by group:"
        )
        for name, seconds in list(result["profile"]["self_seconds_by_group"].items())[:15]:
            print(f"  {name:28}{seconds:8.2f} s")
        print("  archiver functions by cumulative time:")
        for row in result["profile"]["archiver_cumulative"][:14]:
            print(f"    {row['function']:40}{row['cumulative_s']:8.2f} s  ({row['calls']} calls)")
    if peer:
        print(f"\nnaive peer time split: {peer['stage_times']}")
    print(f"\nresults: {result['results_file']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outdir = common.make_inbox(
        args.scale, args.seed, args.authorities, args.years, work=args.work_dir, mosaic=args.mosaic
    )
    inbox = outdir / "inbox"
    size = common.inbox_bytes(inbox)
    files = sum(1 for p in inbox.rglob("*") if p.is_file())
    args.work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=args.work_dir))
    try:
        result: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "inbox": {
                "path": str(outdir),
                "scale": args.scale,
                "seed": args.seed,
                "authorities": args.authorities,
                "years": args.years,
                "mosaic": args.mosaic,
                "files": files,
                "bytes": size,
            },
            "machine": common.machine_info(),
        }
        result["archiver"] = run_archiver(outdir, tmp, args, size)
        result["archiver_stages"] = stage_breakdown(result["archiver"]["stage_seconds"])
        if not args.skip_peer:
            result["peer"] = run_peer(outdir, tmp, size)
            result["ratio_archiver_over_peer"] = {
                k: round(result["archiver"][k] / result["peer"][k], 2)
                for k in ("mb_per_s", "passages_per_s")
                if result["peer"][k]
            }
        if args.profile:
            result["profile"] = run_profile(outdir, tmp, args)
        mosaic = f"-mosaic{args.mosaic}" if args.mosaic else ""
        name = f"{dt.date.today().isoformat()}-scale{args.scale}-seed{args.seed}{mosaic}.json"
        result["results_file"] = str(args.results_dir / name)
        common.dump_json(args.results_dir / name, result)
        print_report(result)
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
