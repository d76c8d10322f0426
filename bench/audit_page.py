"""How large the audit site's index page is, and its search box's texts, on an archive.

    .venv/bin/python bench/audit_page.py --archive DIR [--unmeasured] [-o results/FILE.json]

Audits the archive in DIR (``archive.sqlite3`` and ``objects/``), writes the site into a
temporary folder and prints as JSON: the documents, the seconds the audit and the site took,
the bytes of ``index.html`` and of ``search/texts.js`` (loaded by the search box when it is
first used), and what ``index.html`` would weigh with the texts inside it, as the page carried
them before (JSON in a script element, escaped by Jinja's ``tojson``).

``--unmeasured`` skips the audit (long at scale 20 on a shared machine) and renders only the
index page and the texts, every document with zero shares and no source: the page's size is its
rows', give or take the source link each row has when it has one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from find_speed import archive_config  # a sibling: bench scripts run from their folder
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy.orm import Session

from archiver.audit import formula
from archiver.audit import reuse as audit
from archiver.audit.html import TEXTS, index_html, texts_js, write_site
from archiver.store import db


def unmeasured(session: Session) -> audit.Report:
    """Every current document of the archive with zero shares (nothing aligned, no source)."""
    snapshot = audit.load(session)
    docs = tuple(audit.measure(d, snapshot, ()) for d in snapshot.docs.values())
    return audit.Report(0.0, audit.Filters(), docs, (), snapshot, {m.doc.id: m for m in docs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--unmeasured", action="store_true", help="no audit: zero shares, the sizes only")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    config = archive_config(args.archive)
    engine = db.open_engine(config.database_url, create=False)
    started = time.perf_counter()
    with Session(engine) as session:
        if args.unmeasured:
            report = unmeasured(session)
        else:
            rules = formula.rules(session, config)
            report = audit.audit(session, audit.load(session), config.match.match_at, rules=rules)
    audited = time.perf_counter() - started
    engine.dispose()
    started = time.perf_counter()
    if args.unmeasured:
        index, texts = len(index_html(report).encode()), len(texts_js(report).encode())
    else:
        with tempfile.TemporaryDirectory(prefix="audit-page-") as folder:
            write_site(report, Path(folder))
            index = (Path(folder) / "index.html").stat().st_size
            texts = (Path(folder) / TEXTS).stat().st_size
    written = time.perf_counter() - started
    embedded = len(htmlsafe_json_dumps({str(m.doc.id): m.doc.text for m in report.documents}).encode())
    result = {
        "archive": str(args.archive),
        "measured": not args.unmeasured,
        "documents": len(report.documents),
        "audit_seconds": round(audited, 1),
        "site_seconds": round(written, 1),
        "index_html_bytes": index,
        "texts_js_bytes": texts,
        "index_html_bytes_with_texts_inside": index + embedded,
    }
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
