"""What the PostgreSQL server spends on the coordinator's bulk writes, and what each part of the
schema costs in them: rows of a finished archive written again, in transactions rolled back.

    python bench/pg_write_floor.py URL [--repeat R] [--submissions N] [--label NAME]

URL names a PostgreSQL database holding a finished serial run (e.g. of /tmp/base/s20m7; it is
not changed: every write is rolled back). The rows of its first N submissions (default 640, ten
batches of 64) are read out in ``COPY … (FORMAT BINARY)`` form, their ids shifted past the
table's, their texts and arrays made fresh values (so that they are compressed again, as a
batch's are), then written back with the same ``COPY`` the coordinator uses, once as the schema
is and once for each variant: without the foreign key's checks, without the secondary indexes,
with the signature column empty, with the ids given rather than drawn from the sequence. Each
variant's schema change is made inside the transaction and rolled back with it. The variants
take turns, ``--repeat`` times; the minimum and median seconds of each are reported, and per
row, so that a whole run's share can be worked out (a serial s20m7 run writes 70,449 passages,
26,899 sections, 97,645 span packs, 2,924 submissions). Wall seconds of the client waiting on
the server's COPY, on a shared host: compare variants by their minimum.
Writes bench/results/<date>-pg-write-floor[-label].json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg

RESULTS = Path(__file__).resolve().parent / "results"
SHIFT = 10_000_000  # ids moved past the archive's own

PASSAGE_COLUMNS = (
    'id, submission_id, idx, kind, section_idx, start, "end", text, removed, exact, chars, '
    "signature, year, rep_id, canonical_id"
)
SECTION_COLUMNS = 'submission_id, idx, level, number, heading, start, "end"'
FRESH_SECTION_COLUMNS = SECTION_COLUMNS.replace("heading", "heading || ''")
FK_PASSAGES = "ALTER TABLE passages DROP CONSTRAINT passages_submission_id_fkey"
FK_SECTIONS = "ALTER TABLE sections DROP CONSTRAINT sections_submission_id_fkey"
FK_SUBMISSIONS = (
    "ALTER TABLE submissions DROP CONSTRAINT submissions_document_id_fkey",
    "ALTER TABLE submissions DROP CONSTRAINT submissions_run_id_fkey",
)
PASSAGE_INDEXES = tuple(
    f"DROP INDEX {name}"
    for name in ("ix_passages_exact_rep", "ix_passages_rep_id", "ix_passages_submission_idx")
)
SUBMISSION_INDEXES = tuple(
    f"DROP INDEX {name}"
    for name in ("ix_submissions_run_id", "ix_submissions_document_id", "ix_submissions_sha512")
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="a PostgreSQL database holding a finished run (libpq or SQLAlchemy form)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--submissions", type=int, default=640, help="the first N submissions' rows")
    ap.add_argument("--label", default="")
    return ap.parse_args(argv)


def copied_out(connection: psycopg.Connection[Any], sql: str) -> bytes:
    """The rows of ``sql`` as ``COPY … TO STDOUT (FORMAT BINARY)`` gives them."""
    data = bytearray()
    with connection.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        for chunk in copy:
            data += chunk
    connection.rollback()
    return bytes(data)


def variants(
    connection: psycopg.Connection[Any], submissions: int
) -> list[tuple[str, str, tuple[str, ...], str, bytes]]:
    """(table, variant, schema changes, COPY statement, data) of every case."""
    within = f"submission_id BETWEEN 1 AND {submissions}"
    last_passage = f"(SELECT max(id) FROM passages WHERE {within})"
    passages = copied_out(
        connection,
        f"SELECT id + {SHIFT}, submission_id, idx, kind, section_idx, start, \"end\", text || '', removed, "
        f"exact, chars, signature || '', year, rep_id + {SHIFT}, canonical_id FROM passages "
        f"WHERE {within} ORDER BY id",
    )
    unsigned = copied_out(
        connection,
        f"SELECT id + {SHIFT}, submission_id, idx, kind, section_idx, start, \"end\", text || '', removed, "
        f"exact, chars, NULL::bytea, year, rep_id + {SHIFT}, canonical_id FROM passages "
        f"WHERE {within} ORDER BY id",
    )
    sections = copied_out(
        connection,
        f"SELECT {FRESH_SECTION_COLUMNS} FROM sections WHERE {within}",
    )
    packs = copied_out(
        connection,
        f"SELECT passage_id, data || '' FROM span_packs WHERE passage_id <= {last_passage} ORDER BY id",
    )
    packs_with_ids = copied_out(
        connection,
        f"SELECT id + {SHIFT}, passage_id, data || '' FROM span_packs "
        f"WHERE passage_id <= {last_passage} ORDER BY id",
    )
    columns = [
        str(name)
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'submissions' "
            "ORDER BY ordinal_position"
        )
    ]
    connection.rollback()
    fresh = {"id": f"id + {SHIFT}", "cleaned_text": "cleaned_text || ''", "sha512": "sha512 || ''"}
    submission_rows = copied_out(
        connection,
        "SELECT "
        + ", ".join(fresh.get(c, f'"{c}"') for c in columns)
        + f" FROM submissions WHERE id <= {submissions} ORDER BY id",
    )
    listed = ", ".join(f'"{c}"' for c in columns)
    copy_passages = f"COPY passages ({PASSAGE_COLUMNS}) FROM STDIN (FORMAT BINARY)"
    copy_sections = f"COPY sections ({SECTION_COLUMNS}) FROM STDIN (FORMAT BINARY)"
    copy_submissions = f"COPY submissions ({listed}) FROM STDIN (FORMAT BINARY)"
    return [
        ("passages", "as is", (), copy_passages, passages),
        ("passages", "no foreign key", (FK_PASSAGES,), copy_passages, passages),
        ("passages", "no secondary index", PASSAGE_INDEXES, copy_passages, passages),
        ("passages", "signature empty", (), copy_passages, unsigned),
        ("passages", "none of the three", (FK_PASSAGES, *PASSAGE_INDEXES), copy_passages, unsigned),
        ("sections", "as is", (), copy_sections, sections),
        ("sections", "no foreign key", (FK_SECTIONS,), copy_sections, sections),
        (
            "span_packs",
            "as is (ids by the sequence)",
            (),
            "COPY span_packs (passage_id, data) FROM STDIN (FORMAT BINARY)",
            packs,
        ),
        (
            "span_packs",
            "ids given",
            (),
            "COPY span_packs (id, passage_id, data) FROM STDIN (FORMAT BINARY)",
            packs_with_ids,
        ),
        ("submissions", "as is", (), copy_submissions, submission_rows),
        ("submissions", "no foreign keys", FK_SUBMISSIONS, copy_submissions, submission_rows),
        ("submissions", "no secondary index", SUBMISSION_INDEXES, copy_submissions, submission_rows),
        (
            "submissions",
            "texts uncompressed",
            ("ALTER TABLE submissions ALTER COLUMN cleaned_text SET STORAGE EXTERNAL",),
            copy_submissions,
            submission_rows,
        ),
    ]


def row_count(data: bytes) -> int:
    """The rows of a binary COPY's data: each starts with its field count, a big-endian int16."""
    header = 11 + 4 + 4
    at, rows = header, 0
    while True:
        fields = int.from_bytes(data[at : at + 2], "big", signed=True)
        if fields == -1:
            return rows
        at += 2
        for _ in range(fields):
            size = int.from_bytes(data[at : at + 4], "big", signed=True)
            at += 4 + max(size, 0)
        rows += 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url.replace("postgresql+psycopg://", "postgresql://")
    connection = psycopg.connect(url)
    cases = variants(connection, args.submissions)
    seconds: dict[str, list[float]] = {f"{t}: {v}": [] for t, v, *_ in cases}
    for _ in range(args.repeat):
        for table, variant, changes, copy_sql, data in cases:
            with connection.cursor() as cursor:
                for change in changes:
                    cursor.execute(change)
                started = time.perf_counter()
                with cursor.copy(copy_sql) as copy:
                    copy.write(data)
                seconds[f"{table}: {variant}"].append(time.perf_counter() - started)
            connection.rollback()
    connection.close()
    rows = {f"{t}: {v}": row_count(data) for t, v, _, _, data in cases}
    result = {
        "database": url.rsplit("/", 1)[1],
        "submissions": args.submissions,
        "repeat": args.repeat,
        "cases": {
            name: {
                "rows": rows[name],
                "min_s": round(min(times), 4),
                "median_s": round(statistics.median(times), 4),
                "min_us_per_row": round(1e6 * min(times) / max(rows[name], 1), 2),
                "seconds": [round(t, 4) for t in times],
            }
            for name, times in seconds.items()
        },
    }
    for name, case in result["cases"].items():
        print(f"{case['min_s']:8.4f} {case['median_s']:8.4f} {case['min_us_per_row']:8.2f} µs/row  {name}")
    label = f"-{args.label}" if args.label else ""
    out = RESULTS / f"{dt.date.today().isoformat()}-pg-write-floor{label}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
