"""Filing writes exactly the rows the plain per-passage definitions give, from the rows the
workers prepare (``filing.prepare``) and the ids the coordinator takes.

The plain forms below are the construction the coordinator used before the workers prepared
the rows: each passage's row from its record and fingerprint, ids looked up by (submission,
index), a submission's first passage id as the least of its ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.records import NewParagraph, Prepared, Processed, Rejection, Stored
from archiver.stages import fingerprint, ingest
from archiver.stages.process import process_submission
from archiver.store import db, filing
from archiver.store.db import MatchRow, PassageRow, SectionRow
from tests.conftest import SAMPLES

# Sentences drawn with repetition, so that files repeat paragraphs inside and across them;
# headings, short lines and a long paragraph that the splitter cuts.
_LINES = (
    "一、总体情况",
    "（一）主要工作",
    "本年度政府信息公开工作在上级部门的指导下有序开展，各项制度进一步完善。",
    "全年共主动公开政府信息一千二百条，其中规章三件，规范性文件十五件。",
    "依申请公开方面，全年共收到申请四十件，均在法定期限内予以答复。",
    "好。",
    "二、存在的主要问题及改进情况",
    "工作人员业务能力有待提高，下一步将加强培训，提升公开质量和水平。" * 3,
    "下一步，我们将继续深化政务公开，回应社会关切，推进决策公开。" * 20,
)


def _plain_rows(outcome: Processed, sub_id: int, id_of: dict[int, int]) -> list[tuple[Any, ...]]:
    prints = {f.passage: f for f in outcome.fingerprints}
    removed = {p.index for p in outcome.removed}
    return [
        (
            id_of[p.index],
            sub_id,
            p.index,
            p.kind,
            p.section,
            None if p.index in removed else p.start,
            None if p.index in removed else p.end,
            p.text,
            p.index in removed,
            prints[p.index].exact,
            prints[p.index].normalised_chars,
            prints[p.index].signature,
            outcome.year,
        )
        for p in sorted([*outcome.passages, *outcome.removed], key=lambda p: p.index)
    ]


def _plain_paragraphs(
    outcome: Processed, sub_id: int, id_of: dict[int, int], min_chars: int
) -> list[NewParagraph]:
    prints = {f.passage: f for f in outcome.fingerprints}
    return [
        NewParagraph(
            id_of[p.index],
            sub_id,
            prints[p.index].exact,
            prints[p.index].signature,
            prints[p.index].normalised,
            outcome.year,
            prints[p.index].anchors,
        )
        for p in outcome.passages
        if fingerprint.reusable(p.kind, prints[p.index].normalised_chars, min_chars)
    ]


def _filed_as_plain(tmp_path: Path, outcomes: list[Processed | Rejection], config: Config) -> None:
    """File ``outcomes`` as one batch (each paragraph its own group, canonical the one before it)
    and compare every row written and returned with the plain forms."""
    engine = db.open_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    min_chars = config.fingerprint.min_chars
    batch = [
        Stored(
            o, 1, "v1", True, None, 0.0, filing.prepare(o, min_chars) if isinstance(o, Processed) else None
        )
        for o in outcomes
    ]
    with Session(engine) as session, session.begin():
        run = db.Run(command="run", tool_version="test")
        session.add(run)
        session.flush()
        filed = filing.file_batch(session, run.id, batch)
        groups = {p.id: (p.id, p.id - 1 if p.id % 2 else None) for p in filed.paragraphs}
        filing.file_passages(session, filed.passages, groups)
        written = session.execute(select(*PassageRow.__table__.columns).order_by(PassageRow.id)).all()
        matches = session.execute(
            select(MatchRow.passage_id, MatchRow.other_id, MatchRow.similarity, MatchRow.action)
        ).all()
        sections = session.execute(select(SectionRow.submission_id, SectionRow.idx, SectionRow.heading)).all()
    engine.dispose()
    by_id = {row[0]: tuple(row) for row in written}
    plain_rows: list[tuple[Any, ...]] = []
    plain_paragraphs: list[NewParagraph] = []
    plain_matches: list[tuple[Any, ...]] = []
    firsts: dict[int, int] = {}
    next_id = min(by_id, default=1)
    for sub_id, outcome in zip(range(1, len(outcomes) + 1), outcomes, strict=True):
        if not isinstance(outcome, Processed):
            continue
        indices = sorted(p.index for p in (*outcome.passages, *outcome.removed))
        id_of = {idx: next_id + i for i, idx in enumerate(indices)}
        next_id += len(indices)
        if indices:
            firsts[sub_id] = min(id_of.values())
        plain_rows += _plain_rows(outcome, sub_id, id_of)
        plain_paragraphs += _plain_paragraphs(outcome, sub_id, id_of, min_chars)
        plain_matches += [
            (id_of[r.passage], id_of[r.of], r.similarity, "removed" if r.removed else "warned")
            for r in outcome.repeats
        ]
    assert list(filed.paragraphs) == plain_paragraphs
    assert filed.first_passage_ids == firsts
    assert [tuple(r) for r in matches] == plain_matches
    assert sections == [
        (sub_id, i, section.heading)
        for sub_id, o in enumerate(outcomes, 1)
        if isinstance(o, Processed)
        for i, section in enumerate(o.sections)
    ]
    plain_groups = [groups.get(row[0], (None, None)) for row in plain_rows]
    column = [c.name for c in PassageRow.__table__.columns]
    order = ["id", *filing.PASSAGE_COLUMNS, "rep_id", "canonical_id"]
    assert [tuple(by_id[row[0]][column.index(name)] for name in order) for row in plain_rows] == [
        (*row, *group) for row, group in zip(plain_rows, plain_groups, strict=True)
    ]
    assert len(written) == len(plain_rows)


def _prepared(outcome: Processed | Rejection, min_chars: int) -> Prepared | None:
    return filing.prepare(outcome, min_chars) if isinstance(outcome, Processed) else None


def _processed(text: str, name: str, config: Config) -> Processed:
    raw = text.encode()
    outcome = process_submission(ingest.submission_of(raw, Path(name), name, config.ingest), config)
    assert isinstance(outcome, Processed)
    return outcome


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example([[_LINES[0], _LINES[2], _LINES[2], _LINES[5], _LINES[8]], [_LINES[2], _LINES[7]]])
@given(
    st.lists(
        st.lists(st.sampled_from(_LINES), min_size=1, max_size=12),
        min_size=1,
        max_size=3,
    )
)
def test_filed_rows_are_the_plain_rows_of_generated_files(
    tmp_path_factory: Any, files: list[list[str]]
) -> None:
    config = Config()
    outcomes: list[Processed | Rejection] = [
        _processed("2023年政府信息公开工作年度报告\n" + "\n".join(lines) + "\n", f"a/2023/{i}.txt", config)
        for i, lines in enumerate(files)
    ]
    _filed_as_plain(tmp_path_factory.mktemp("filing"), outcomes, config)


def test_filed_rows_are_the_plain_rows_of_the_samples(tmp_path: Path) -> None:
    config = Config()
    outcomes = [
        process_submission(
            ingest.submission_of(
                path.read_bytes(), path, path.relative_to(SAMPLES).as_posix(), config.ingest
            ),
            config,
        )
        for path in sorted(SAMPLES.rglob("*.txt"))
    ]
    archived = [o for o in outcomes if isinstance(o, Processed)]
    assert len(archived) < len(outcomes), "a rejected file among them"
    assert any(o.removed for o in archived), "repeats removed inside a file among them"
    _filed_as_plain(tmp_path, outcomes, config)
