"""How fast `archiver find` and `archiver search` answer on an archive.

    .venv/bin/python bench/find_speed.py --inbox /tmp/base/inbox7/inbox [--archive DIR] [--count 200]
        [--truth /tmp/base/mosaic7/truth.jsonl]

Builds an archive of ``--inbox`` in ``--archive`` (kept there, reused when it exists), then
times, in this process with warm caches:

- ``find`` of ``--count`` paragraphs drawn (seeded) from the archived passages, one call each
  as the command makes it: the text through decode, clean, split and fingerprint, then the
  lookup in the LSH index and the occurrences; and the share of them that list their own file;
- with ``--truth`` (a ``--mosaic`` inbox's truth.jsonl), ``find`` of ``--count`` copied sentences
  drawn from it, each alone, and the share of them that list the file they were copied from;
- ``search`` of substrings of 1 to 8 characters drawn from the same paragraphs.

Prints the medians, 95th percentiles and maxima as JSON (``-o`` also writes them to a file).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import config as config_mod
from archiver import flow
from archiver.audit.find import find, prepare
from archiver.audit.search import search
from archiver.stages.shingle import normalise
from archiver.store import db


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "max": round(ordered[-1], 4),
    }


def archive_config(folder: Path) -> config_mod.Config:
    """The config of the archive in ``folder`` (``archive.sqlite3`` and ``objects/``)."""
    store = {"database": str(folder / "archive.sqlite3"), "vault": str(folder / "objects")}
    return config_mod.from_mapping({"store": store}, base_dir=folder)


def timed_finds(
    session: Session, config: config_mod.Config, probes: Sequence[tuple[str, str]]
) -> tuple[list[float], int]:
    """The seconds of ``find`` for each (text, file) of ``probes``, and how many list their file."""
    seconds: list[float] = []
    hits = 0
    for text, file in probes:
        started = time.perf_counter()
        found = find(session, prepare(text.encode("utf-8"), "probe", config), config)
        seconds.append(time.perf_counter() - started)
        hits += any(o.file == file for f in found for o in f.occurrences)
    return seconds, hits


def copied_sentences(truth: Path, rng: random.Random, count: int, min_chars: int) -> list[tuple[str, str]]:
    """(sentence, the file it was copied from) for ``count`` copied sentences of the truth
    (``kind`` sentence) of at least ``min_chars`` normalised characters (``find`` looks up no
    shorter paragraph)."""
    found = []
    with truth.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            for item in record.get("items", []):
                for span in item.get("spans") or []:
                    text = item["text"][span["start"] : span["end"]]
                    if span["kind"] == "sentence" and len(normalise(text)) >= min_chars:
                        found.append((text, span["from"].split("#")[0].removeprefix("inbox/")))
    return rng.sample(found, min(count, len(found)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument("--archive", type=Path, default=Path("/tmp/find-speed-archive"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--truth", type=Path, help="truth.jsonl of a --mosaic inbox: copied sentences")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    config = archive_config(args.archive)
    built = None
    if not (args.archive / "archive.sqlite3").exists():
        started = time.perf_counter()
        flow.run(config, [args.inbox])
        built = round(time.perf_counter() - started, 2)
    engine = db.open_engine(config.database_url, create=False)
    rng = random.Random(args.seed)
    with Session(engine) as session:
        s, p = db.Submission, db.PassageRow
        rows = session.execute(
            select(p.text, s.relpath)
            .join(s, s.id == p.submission_id)
            .where(s.current.is_(True), p.kind == "para", p.removed.is_(False), p.chars >= 20)
        ).all()
        drawn = rng.sample(rows, min(args.count, len(rows)))
        find_times, own = timed_finds(session, config, drawn)
        sentences = (
            copied_sentences(args.truth, rng, args.count, config.fingerprint.min_chars) if args.truth else []
        )
        sentence_times, from_source = timed_finds(session, config, sentences)
        search_times: list[float] = []
        for text, _ in drawn:
            size = rng.randint(1, 8)
            start = rng.randint(0, max(0, len(text) - size))
            started = time.perf_counter()
            search(session, text[start : start + size])
            search_times.append(time.perf_counter() - started)
        passages = len(rows)
    engine.dispose()
    result: dict[str, Any] = {
        "inbox": str(args.inbox),
        "paragraphs_in_archive": passages,
        "archive_built_seconds": built,
        "find": {"count": len(drawn), "found_own_file": own, **summary(find_times)},
        "search": {"count": len(drawn), **summary(search_times)},
    }
    if sentences:
        result["sentences"] = {
            "count": len(sentences),
            "found_source": from_source,
            **summary(sentence_times),
        }
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
