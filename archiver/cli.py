"""The command line: a thin click layer over flow, export, audit and vault.

``ArchiverError`` becomes a one-line ``click.ClickException`` here and nowhere else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import __version__, flow, runlog
from archiver import config as config_mod
from archiver.errors import ArchiverError, ConfigError, FixityError, InputError, describe
from archiver.records import Processed, Rejection
from archiver.reindex import refuse_if_pending
from archiver.stages import ingest
from archiver.stages.process import process_submission
from archiver.stages.report import clerk_report, rejection_report, warning_lines
from archiver.store import db
from archiver.store.guard import reading, store_paths
from archiver.store.vault import Tick

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def friendly(func: F) -> F:
    """Turn ArchiverError into the one-line message click prints, with the error's exit status
    (``errors``: 1 to fix, 3 fixity, 75 busy). The one place errors become exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            raise _Failure(str(exc), exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


class _Failure(click.ClickException):
    """A ClickException that exits with the status of the ArchiverError it reports."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property  # click declares exit_code per class; this one's is per error
    def exit_code(self) -> int:  # type: ignore[override]
        return self.status


def console(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The ``archiver`` executable: ``main`` as click runs it (it ends by raising SystemExit),
    then a quick exit (``flow.freeze_for_exit``). ``main`` itself stays free of that for tests
    and other callers that go on running."""
    try:
        main(args=args, prog_name=prog_name)
    finally:
        flow.freeze_for_exit()


@dataclass(frozen=True)
class Invocation:
    """What every command gets: the configuration and which file it came from."""

    config: config_mod.Config
    found: config_mod.Found


def _config(ctx: click.Context) -> config_mod.Config:
    return _invocation(ctx).config


def _invocation(ctx: click.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    assert invocation is not None  # main sets it before any command runs
    return invocation


def _file(output: Path | None) -> Path | None:
    """The file -o names; None for standard output (no -o, or ``-o -``)."""
    return None if output is None or str(output) == "-" else output


@contextmanager
def _writing(output: Path, wanted: str = "a file in an existing folder") -> Iterator[None]:
    """Run the block that writes ``output``; an OSError in it becomes a one-line InputError
    saying that -o must be ``wanted``."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"cannot write {output}: {describe(exc)}; give -o {wanted}") from exc


def _archive_engine(config: config_mod.Config) -> Engine:
    """The database of an existing archive, for the commands that only read: a mistyped
    ``[store] database`` is an error, not a new empty archive."""
    return db.open_engine(config.database_url, create=False)


@click.group()
@click.version_option(__version__, prog_name="archiver")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="config.toml to use (default: the file $ARCHIVER_CONFIG names, else ./config.toml when "
    "present, else built-in defaults)",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="append the log here (-: standard error); every run also keeps its own in the archive",
)
@click.option(
    "--log-format",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="json: one object per line, for log collectors",
)
@click.pass_context
@friendly
def main(ctx: click.Context, config_path: Path | None, log_file: Path | None, log_format: str) -> None:
    """Decode, repair, split, de-duplicate and archive report submissions."""
    found = config_mod.discover(config_path)
    ctx.obj = Invocation(config_mod.load(found.path), found)
    if log_file is not None:
        fmt: runlog.LogFormat = "json" if log_format == "json" else "human"
        ctx.call_on_close(runlog.configure(fmt, None if str(log_file) == "-" else log_file))


@main.command()
@click.argument("inbox", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.pass_context
@friendly
def run(ctx: click.Context, inbox: tuple[Path, ...], as_json: bool) -> None:
    """The nightly job: archive every file under INBOX (default: [run] inbox of the config)."""
    config, found = _config(ctx), _invocation(ctx).found
    inboxes = list(inbox) or [config.resolve(p) for p in config.run.inbox]
    try:
        ingest.check_inboxes(inboxes)
    except InputError as exc:
        if found.path is None and not inbox:
            raise InputError(
                f"{exc}; the built-in defaults were used, as no config file was found (no --config, "
                f"no {config_mod.CONFIG_ENV}, no config.toml in {Path.cwd()}): name one"
            ) from exc
        raise
    with _progress(inboxes, config) as progress:
        summary = flow.run(config, inboxes, progress)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=1))
    else:
        for line in summary.lines():
            click.echo(line)


@contextmanager
def _bar(label: str | None) -> Iterator[Tick | None]:
    """A progress bar on standard error for a long command, fed ``tick(done, total)``; only on a
    terminal (never in a log or a pipe), and none for ``label`` None."""
    if label is None or not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as stack:
        bars: list[Any] = []  # click's ProgressBar, a private class

        def tick(done: int, total: int) -> None:
            if not bars:  # the total is known once the work has started
                bars.append(
                    stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr))
                )
            bars[0].update(done - bars[0].pos)

        yield tick


@contextmanager
def _progress(inboxes: list[Path], config: config_mod.Config) -> Iterator[flow.Progress | None]:
    if not sys.stderr.isatty():
        yield None
        return
    total = sum(1 for _ in ingest.locate(inboxes, config.ingest, store_paths(config)))
    with click.progressbar(length=total, label="archiving", file=sys.stderr) as bar:
        yield bar.update


STDIN = "-"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, allow_dash=True),
    help="write the cleaned text here (- for stdout; a folder, made when missing, for several files)",
)
@click.option("--json", "as_json", is_flag=True, help="print the full report as JSON")
@click.option(
    "--html",
    "html",
    type=click.Path(path_type=Path),
    help="write the review page here: the file as submitted beside the cleaned text (a folder for several)",
)
@click.pass_context
@friendly
def clean(
    ctx: click.Context, files: tuple[Path, ...], output: Path | None, as_json: bool, html: Path | None
) -> None:
    """Clean FILE... (- for standard input) without touching the archive; report what changed
    and list the warnings (in Chinese) on standard error."""
    config = _config(ctx)
    several = len(files) > 1
    if several and (output is None or str(output) == STDIN):
        raise InputError(f"{len(files)} files: give -o DIR, the folder to write each cleaned file into")
    missing = [str(f) for f in files if str(f) != STDIN and not f.is_file()]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such file; give the path of a submission to clean")
    if files.count(Path(STDIN)) > 1:
        raise InputError("standard input (-) can be cleaned only once per call")
    targets = _clean_targets(files, output) if several and output else {files[0]: _file(output)}
    reports: list[dict[str, Any]] = []
    rejected: list[str] = []
    for file, target in targets.items():
        outcome = _clean_outcome(file, config)
        if isinstance(outcome, Rejection):
            rejected.append(f"{_shown(file)}: rejected ({outcome.reason}): {outcome.detail}")
            reports.append(rejection_report(outcome))
            if several:
                click.echo(rejected[-1], err=True)
            continue
        report = clerk_report(outcome, original_offsets=as_json)
        reports.append(report | {"cleaned_text": outcome.text} if as_json else report)
        if target is not None:
            with _writing(target):
                target.write_text(outcome.text + "\n", encoding="utf-8")
        elif not as_json:
            click.echo(outcome.text)
        if html is not None:
            _write_review(outcome, html / f"{Path(_shown(file)).stem}.html" if several else html)
        _say_what_changed(file, report, target)
    if as_json:
        click.echo(json.dumps(reports if several else reports[0], ensure_ascii=False, indent=1))
    if rejected:
        raise click.ClickException(
            f"{len(rejected)} of {len(files)} files rejected" if several else rejected[0]
        )


def _write_review(outcome: Processed, page: Path) -> None:
    from archiver.audit.review import review_html

    with _writing(page, "a file in an existing folder (a folder for several files)"):
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(review_html(outcome), encoding="utf-8")


def _shown(file: Path) -> str:
    return "(standard input)" if str(file) == STDIN else str(file)


def _clean_targets(files: tuple[Path, ...], folder: Path) -> dict[Path, Path | None]:
    """Where each of several files' cleaned text goes: ``folder``/its name; names must differ."""
    names: dict[str, Path] = {}
    for file in files:
        name = "stdin.txt" if str(file) == STDIN else file.name
        if name in names:
            raise InputError(
                f"{names[name]} and {file} have the same name {name}: clean them into different folders"
            )
        names[name] = file
    with _writing(folder, "a folder (made when missing)"):
        folder.mkdir(parents=True, exist_ok=True)
    return {file: folder / name for name, file in names.items()}


def _clean_outcome(file: Path, config: config_mod.Config) -> Processed | Rejection:
    if str(file) == STDIN:
        raw = sys.stdin.buffer.read()
        submission = ingest.submission_of(raw, Path(STDIN), STDIN, config.ingest)
    else:
        located = ingest.Located(file.resolve(), file.resolve().parent, ingest.storable_name(file.name), 0)
        submission = ingest.read(located, config.ingest)
    return process_submission(submission, config)


def _say_what_changed(file: Path, report: dict[str, Any], target: Path | None) -> None:
    """The clerk's summary on standard error: counts, where the text went, every warning."""
    kinds = "，".join(f"{_KIND_ZH.get(k, k)} {n}" for k, n in report["changes_by_kind"].items())
    written = f" → {target}" if target is not None else ""
    click.echo(
        f"{_shown(file)}：{report['encoding']}，修改 {len(report['changes'])} 处（{kinds or '无'}），"
        f"删除重复段落 {len(report['removed'])} 段，警告 {len(report['warnings'])} 条{written}",
        err=True,
    )
    for line in warning_lines(report):
        click.echo(line, err=True)


_KIND_ZH = {
    "pinyin": "拼音",
    "t2s": "繁转简",
    "punctuation": "标点",
    "nfc": "字形规范",
    "invisible": "不可见字符",
    "newline": "换行符",
    "indent": "空白与缩进",
    "heading_split": "标题分行",
}


@main.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, allow_dash=True),
    help="write here (default, or -: stdout)",
)
@click.pass_context
@friendly
def export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """One JSON line per current submission, in the benchmark kit's format."""
    from archiver.audit.export import export_lines

    engine = _archive_engine(_config(ctx))
    with reading(engine) as session:
        refuse_if_pending(session)
        lines = export_lines(session)
        output = _file(output)
        if output is None:
            for line in lines:
                click.echo(line)
        else:
            with _writing(output), output.open("w", encoding="utf-8") as out:
                for line in lines:
                    out.write(line + "\n")


@main.command()
@click.option("--full", is_flag=True, help="re-compute every stored file's sha512")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON (exit status as without)")
@click.pass_context
@friendly
def verify(ctx: click.Context, full: bool, as_json: bool) -> None:
    """Fixity of the file store, cross-checked with the database (recorded as a fixity check event)."""
    from archiver.store.fixity import verify_archive

    with _bar("verifying" if full else None) as tick:
        result = verify_archive(_config(ctx), full, tick)
    if as_json:
        shown = {"ok": result.ok, "mode": "full" if full else "quick", "objects": result.objects}
        click.echo(json.dumps(shown | {"problems": result.problems, "warnings": result.warnings}, indent=1))
    else:
        for line in result.warnings + result.problems:
            click.echo(line)
    if result.problems:
        raise FixityError(
            f"{len(result.problems)} fixity problems; restore the named objects or files from backup"
        )
    if not as_json:
        click.echo(
            f"ok: {result.objects} objects verified ({'full' if full else 'quick'}), database and vault agree"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.pass_context
@friendly
def reindex(ctx: click.Context, as_json: bool) -> None:
    """Recompute every signature, link and cluster with the current [fingerprint] settings."""
    from archiver.reindex import reindex as rebuild

    with _bar("reindexing") as tick:
        summary = rebuild(_config(ctx), tick)
    if as_json:
        click.echo(json.dumps(asdict(summary), indent=1))
    else:
        click.echo(
            f"reindexed {summary.passages} passages: {summary.signed} signatures, {summary.links} links"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.pass_context
@friendly
def compact(ctx: click.Context, as_json: bool) -> None:
    """Merge the upper levels of the band index into the main one (a run merges only what it must)."""
    from archiver.reindex import compact as merge

    moved = merge(_config(ctx))
    click.echo(json.dumps({"merged": moved}) if as_json else f"merged {moved} band rows into the main index")


@main.command()
@click.argument("file", required=False, type=click.Path(path_type=Path, allow_dash=True))
@click.option("--text", "given", help="look up this text instead of a file")
@click.option("--json", "as_json", is_flag=True, help="print every paragraph and its matches as JSON")
@click.pass_context
@friendly
def find(ctx: click.Context, file: Path | None, given: str | None, as_json: bool) -> None:
    """Where the archive has the paragraphs of FILE (- for standard input, or --text TEXT)."""
    from archiver.audit.find import find as find_passages
    from archiver.audit.find import prepare

    config = _config(ctx)
    if (file is None) == (given is None):
        raise InputError("give a FILE, - for standard input, or --text TEXT (one of them)")
    if given is not None:
        raw, name = given.encode("utf-8"), "--text"
    elif str(file) == "-":
        raw, name = sys.stdin.buffer.read(), "-"
    else:
        assert file is not None
        try:
            raw, name = file.read_bytes(), str(file)
        except OSError as exc:
            raise InputError(f"cannot read {file}: {describe(exc)}; give a readable file") from exc
    outcome = prepare(raw, name, config)
    engine = _archive_engine(config)
    with reading(engine) as session:
        refuse_if_pending(session)  # a half-rebuilt index would miss occurrences without a word
        found = find_passages(session, outcome, config)
    engine.dispose()
    if as_json:
        payload = {"paragraphs": len(found), "found": [f.as_json() for f in found]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    matched = [f for f in found if f.occurrences]
    click.echo(f"{len(matched)} / {len(found)} 段在档案中出现 (paragraphs found in the archive)")
    for item in matched:
        shown = item.passage.text if len(item.passage.text) <= 60 else item.passage.text[:60] + "…"
        click.echo(f"\n[{item.passage.start}–{item.passage.end}] {shown}")
        for o in item.occurrences:
            where = " ".join(str(part) for part in (o.authority, o.year) if part is not None)
            spans = " ".join(f"[{s.other_start}–{s.other_end}]" for s in o.spans) or f"[{o.start}–{o.end}]"
            click.echo(f"    {o.similarity:.2f}  {o.file}  {where}  {spans}")


@main.command()
@click.argument("query")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="documents shown at most"
)
@click.option("--json", "as_json", is_flag=True, help="print every document found as JSON")
@click.pass_context
@friendly
def search(ctx: click.Context, query: str, limit: int, as_json: bool) -> None:
    """Current documents whose cleaned text contains QUERY (a literal substring), with snippets."""
    from archiver.audit.search import search as find_text

    engine = _archive_engine(_config(ctx))
    with reading(engine) as session:
        found = find_text(session, query)
    engine.dispose()
    if as_json:
        payload = {"query": query, "documents": len(found), "found": [f.as_json() for f in found[:limit]]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    click.echo(f"“{query}”：{len(found)} 份文件 (documents)")
    for item in found[:limit]:
        where = " ".join(str(part) for part in (item.authority, item.year) if part is not None)
        click.echo(f"{item.file}  {where}  {item.hits} 处 (hits)  {item.title}")
        for snip in item.snippets:
            click.echo(
                "    " + snip.before + click.style(f"【{snip.match}】", bold=True, fg="red") + snip.after
            )
    if len(found) > limit:
        click.echo(f"…另有 {len(found) - limit} 份 (more): --limit {len(found)}")


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, allow_dash=True),
    help="write here (default, or -: stdout; html: the folder of the site, required)",
)
@click.option("--authority", help="only documents of this authority")
@click.option("--year", type=int, help="only documents of this year")
@click.option("--since", type=int, help="only documents of this year or later")
@click.option("--min-share", type=float, help="only documents whose reused_share is at least this (0–1)")
@click.option(
    "--pairs", "pairs", is_flag=True, help="json/csv: the pairs of documents sharing substantive text instead"
)
@click.pass_context
@friendly
def audit(
    ctx: click.Context,
    fmt: str,
    output: Path | None,
    authority: str | None,
    year: int | None,
    since: int | None,
    min_share: float | None,
    pairs: bool,
) -> None:
    """Reuse across years and authorities: per document, per authority by year, and clusters."""
    import io

    from archiver.audit import docpairs, formula
    from archiver.audit import reuse as audit_mod
    from archiver.audit.html import write_site

    output = _file(output)
    if fmt == "html" and output is None:
        raise InputError("--format html writes a folder; give it with -o DIR")
    config = _config(ctx)
    engine = _archive_engine(config)
    with reading(engine) as session:
        refuse_if_pending(session)
        filters = audit_mod.Filters(authority, year, since, min_share)
        report = audit_mod.audit(
            session,
            audit_mod.load(session),
            config.match.match_at,
            filters,
            rules=formula.rules(session, config),
            resubmission_at=config.audit.resubmission_at,
        )
        if fmt == "html" and output is not None:
            from archiver.audit.review import stored_review_html
            from archiver.store.vault import Vault

            vault = Vault(config.resolve(config.store.vault), sweep_staging=False, create=False)
            with _writing(output, "a folder (made when missing)"):
                files = write_site(
                    report, output, review=lambda i: stored_review_html(session, vault, i, config.decode)
                )
            click.echo(f"{len(files)} pages → {output / 'index.html'}", err=True)
            return
    buffer = io.StringIO(newline="")
    if fmt == "csv":
        buffer.write("\ufeff")  # the BOM: Excel then reads the CSV as UTF-8
    if pairs:
        found = docpairs.selected(docpairs.document_pairs(report), report.filters)
        if fmt == "csv":
            docpairs.write_csv(found, buffer)
        else:
            buffer.write(json.dumps(docpairs.as_json(found, report), ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        audit_mod.write_csv(report, buffer)
    else:
        buffer.write(json.dumps(audit_mod.as_json(report), ensure_ascii=False, indent=1) + "\n")
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
    else:
        with _writing(output):
            output.write_bytes(buffer.getvalue().encode("utf-8"))


@main.group("config", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@click.pass_context
@friendly
def config_command(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration: which file, and where each value came from."""
    if ctx.invoked_subcommand is not None:
        return
    invocation = _invocation(ctx)
    values = config_mod.effective(invocation.config, config_mod.keys_set(invocation.found.path))
    if as_json:
        found = invocation.found
        shown = {
            "config": None if found.path is None else str(found.path.resolve()),
            "source": found.source,
            "base_dir": str(invocation.config.base_dir),
            "tables": {
                table: {key: {"value": value, "from": origin} for key, (value, origin) in keys.items()}
                for table, keys in values.items()
            },
        }
        click.echo(json.dumps(shown, ensure_ascii=False, indent=1))
        return
    click.echo(f"# config: {invocation.found.describe()}")
    click.echo(f"# relative paths resolve against {invocation.config.base_dir}")
    for table, keys in values.items():
        click.echo(f"\n[{table}]")
        for key, (value, origin) in keys.items():
            click.echo(f"{key} = {config_mod.toml_value(value)}  # {origin}")


@config_command.command("check")
@click.pass_context
@friendly
def config_check(ctx: click.Context) -> None:
    """Check the configuration without writing: inboxes exist, the store is reachable."""
    from archiver.preflight import check

    checks = check(_config(ctx))
    click.echo(f"ok       config   {_invocation(ctx).found.describe()}")
    for item in checks:
        click.echo(f"{'ok' if item.ok else 'PROBLEM':8} {item.what:8} {item.detail}")
    problems = sum(not item.ok for item in checks)
    if problems:
        raise ConfigError(
            f"{problems} problem{'s' if problems > 1 else ''} above; fix them, then check again"
        )


def _read(ctx: click.Context, query: Callable[[Session], T]) -> T:
    """``query`` answered by the existing archive's database."""
    engine = _archive_engine(_config(ctx))
    try:
        with reading(engine) as session:
            return query(session)
    finally:
        engine.dispose()


def _show(data: T, as_json: bool, lines: Callable[[T], list[str]]) -> None:
    """``data`` as indented JSON, or as the text ``lines`` makes of it."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=1) if as_json else "\n".join(lines(data)))


@main.group("runs", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="print them as JSON")
@click.pass_context
@friendly
def runs_command(ctx: click.Context, as_json: bool) -> None:
    """The archive's runs: when, files, new, rejected, status, duration."""
    from archiver import history

    if ctx.invoked_subcommand is None:
        _show(_read(ctx, history.runs), as_json, history.table)


@runs_command.command("show")
@click.argument("run_id", metavar="N", type=int)
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@click.pass_context
@friendly
def runs_show(ctx: click.Context, run_id: int, as_json: bool) -> None:
    """Run N's files: rejected and warned (with reasons), new, new versions, and its events."""
    from archiver import history

    _show(_read(ctx, lambda session: history.show(session, run_id)), as_json, history.report)
