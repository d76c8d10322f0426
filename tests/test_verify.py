"""Verifying candidate pairs as tasks (``stages.verify``): the rows do not depend on how a
batch's candidates are cut into tasks, nor on where the tasks run."""

from __future__ import annotations

import pickle
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archiver.config import FingerprintConfig, MatchConfig
from archiver.index import _buckets as buckets
from archiver.index import levels, links
from archiver.records import NewParagraph
from archiver.stages import align, verify
from archiver.stages import fingerprint as fp
from archiver.stages.shingle import normalise
from archiver.store import db
from tests.conftest import make_config
from tests.test_align import near_minimum_tasks
from tests.test_index import MOSAIC, P1, P2, P3, P3_EDITED, P4, SENTENCES, copied, write_inbox

FINGERPRINT = FingerprintConfig()
MATCH = MatchConfig()

# passage id → (submission id, text): 1–4 archived earlier, 11–15 new, 11 and 12 of one submission.
TEXTS = {
    1: (1, P1),
    2: (1, P2),
    3: (2, P3),
    4: (3, P4),
    11: (10, P3_EDITED),
    12: (10, P3),
    13: (11, MOSAIC),
    14: (12, P4),
    15: (12, P1 + P2),
}
NORMALISED = {pid: (sub, normalise(text)) for pid, (sub, text) in TEXTS.items()}
# The new passages' texts come with the task, normalised (by the workers that split them); the
# archived ones' ids, their texts read where the task runs (``read_earlier``).
NEW = {pid: text for pid, text in NORMALISED.items() if pid > 10}
EARLIER = {pid for pid in TEXTS if pid < 10}


def read_earlier(ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    assert set(ids) <= EARLIER
    return {pid: NORMALISED[pid] for pid in ids}


BAND = [(11, 3), (11, 12), (12, 3), (14, 4), (15, 1)]
ANCHORED = [(12, 3), (13, 1), (13, 2), (14, 4), (15, 1), (15, 2)]


def judged(size: int, match: MatchConfig = MATCH) -> tuple[list[tuple[int, int, float]], list[verify.Span]]:
    tasks = verify.tasks(BAND, ANCHORED, NEW, size)
    return verify.merged(links.verify_here(tasks, FINGERPRINT, match, read_earlier))


def test_a_task_links_band_and_whole_copies_and_aligns_copied_sentences() -> None:
    links, spans = judged(size=1000)
    assert [(a, b) for a, b, _ in links] == [(11, 3), (12, 3), (14, 4)]
    assert all(score >= MATCH.match_at for _, _, score in links)
    aligned = {(a, b) for a, b, *_ in spans}
    # Links are aligned too; 13 lifts a sentence of 1 (a span, no link); 15 holds 1 and 2
    # whole, far below match_at with either; (11, 12) is one submission's pair, judged as a
    # repeat, not here; (13, 2) shares no long run.
    assert aligned == {(11, 3), (12, 3), (13, 1), (14, 4), (15, 1), (15, 2)}
    length = len(NORMALISED[4][1])
    assert [s for s in spans if s[:2] == (14, 4)] == [(14, 4, 0, length, 0, length, length, length)]


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=1, max_value=12))
def test_any_cut_into_tasks_gives_the_rows_of_one_task(size: int) -> None:
    tasks = verify.tasks(BAND, ANCHORED, NEW, size)
    news = [{a for a, _ in (*task.pairs, *task.anchored)} for task in tasks]
    assert sum(map(len, news)) == len({a for a, _ in BAND + ANCHORED})  # each passage in one task
    assert all(len(task.pairs) + len(task.anchored) >= size for task in tasks[:-1])
    for task in tasks:
        involved = {pid for pair in (*task.pairs, *task.anchored) for pid in pair}
        assert set(task.texts) | set(task.earlier) == involved
        assert set(task.texts) <= set(NEW) and set(task.earlier) <= EARLIER
    assert judged(size) == judged(1000)


def test_the_cap_on_links_per_passage_holds_over_tasks() -> None:
    # 12 and 16 are copies of 3, and 17 another: with one link a passage, 12 keeps its band
    # link to 3 and not its whole-paragraph match with 17.
    anchored = [(12, 3), (12, 17), (16, 3)]
    texts = NORMALISED | {16: (13, normalise(P3)), 17: (14, normalise(P3))}
    for size in (1, 2, 100):
        for cap, expected in ((1, [(12, 3), (16, 3)]), (50, [(12, 3), (12, 17), (16, 3)])):
            tasks = verify.tasks([(12, 3)], anchored, texts, size=size)
            match = MatchConfig(max_candidates=cap)
            links, _ = verify.merged(verify.verify(task, FINGERPRINT, match) for task in tasks)
            assert [(a, b) for a, b, _ in links] == expected


def plain_verify(task: verify.Candidates, config: FingerprintConfig, match: MatchConfig) -> verify.Verified:
    """``verify.verify`` in its plain form: each pair aligned (``align.align``), its regions
    judged one pair at a time."""
    texts = task.texts
    links: list[tuple[int, int, float]] = []
    spans: list[verify.Span] = []
    scores: dict[verify.Pair, float] = {}
    for a, b in task.pairs:
        if texts[a][0] != texts[b][0]:
            scores[a, b] = score = fp.jaccard(*fp.shingle_sets([texts[a][1], texts[b][1]], config))
            if score >= match.match_at:
                links.append((a, b, score))
    band_links = len(links)
    linked = {(a, b) for a, b, _ in links}
    per_passage = Counter(a for a, _ in linked)
    anchored = {(a, b) for a, b in task.anchored if texts[a][0] != texts[b][0]}
    for a, b in sorted(linked | anchored):
        (_, mine), (_, other) = texts[a], texts[b]
        regions = align.align(mine, other)
        if not regions:
            continue
        if (a, b) not in linked and align.whole_paragraph(regions, len(mine), len(other)):
            if (a, b) not in scores:
                scores[a, b] = fp.jaccard(*fp.shingle_sets([mine, other], config))
            if scores[a, b] < match.match_at:
                continue
            if per_passage[a] < match.max_candidates:
                per_passage[a] += 1
                links.append((a, b, scores[a, b]))
        spans += [(a, b, *region) for region in regions]
    return verify.Verified(tuple(links), band_links, tuple(spans))


# Texts a generated task draws from: the real paragraphs, copies of them in part or whole, with
# light edits, and unrelated text.
PIECES = [normalise(t) for t in (P1, P2, P3, P4, P3_EDITED, MOSAIC)]


@st.composite
def candidate_tasks(draw: st.DrawFn) -> tuple[verify.Candidates, MatchConfig]:
    count = draw(st.integers(2, 9))
    texts: dict[int, tuple[int, str]] = {}
    for pid in range(1, count + 1):
        parts = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=3))
        cut = draw(st.integers(0, 40))
        text = "".join(parts)[cut:] if draw(st.booleans()) else "".join(parts)
        if draw(st.booleans()):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(alphabet="甲乙丙丁戊己庚辛", max_size=6)) + text[at:]
        if texts and draw(st.booleans()):
            # a copy of an earlier text edited every few characters: aligned whole, its Jaccard
            # low or high
            source = texts[draw(st.integers(1, len(texts)))][1]
            every = draw(st.integers(4, 30))
            text = "".join(source[k : k + every] + "甲" for k in range(0, len(source), every))
            text = source if every > 25 else text  # or an exact copy
        texts[pid] = (draw(st.integers(1, 3)), text)
    pair = st.tuples(st.integers(1, count), st.integers(1, count)).filter(lambda p: p[0] != p[1])
    pairs = tuple(sorted(set(draw(st.lists(pair, max_size=12)))))
    anchored = tuple(sorted(set(draw(st.lists(pair, max_size=20)))))
    match = MatchConfig(
        match_at=draw(st.sampled_from([0.3, 0.5, 0.7, 0.9])),
        max_candidates=draw(st.sampled_from([1, 1, 2, 50])),
    )
    return verify.Candidates(pairs, anchored, texts), match


@settings(max_examples=150, deadline=None)
@given(candidate_tasks())
def test_a_task_judged_at_once_gives_the_plain_forms_links_and_spans(
    found: tuple[verify.Candidates, MatchConfig],
) -> None:
    task, match = found
    assert verify.verify(task, FINGERPRINT, match) == plain_verify(task, FINGERPRINT, match)


def unfiltered(texts: Sequence[str], ia: align.I64, ib: align.I64) -> align.Columns:
    """``align.align_columns`` with every pair seeded: no ``_may_align`` bound."""
    return align.align_columns(texts, ia, ib, prefilter=False)


@st.composite
def near_minimum_candidates(draw: st.DrawFn) -> verify.Candidates:
    """A task whose anchored pairs share runs just at or below a region's minimum
    (``tests.test_align.near_minimum_tasks``), its lead texts the new passages."""
    texts, ia, ib = draw(near_minimum_tasks())
    ids = {k: (100 + k if k in ia else k + 1) for k in range(len(texts))}
    normalised = {ids[k]: (draw(st.integers(1, 2)), text) for k, text in enumerate(texts)}
    anchored = tuple(sorted({(ids[x], ids[y]) for x, y in zip(ia, ib, strict=True)}))
    return verify.Candidates((), anchored, normalised)


@settings(max_examples=150, deadline=None)
@given(st.one_of(candidate_tasks(), near_minimum_candidates().map(lambda task: (task, MATCH))))
def test_the_pairs_shown_to_have_no_region_change_no_link_or_span(
    found: tuple[verify.Candidates, MatchConfig],
) -> None:
    task, match = found
    judged = verify.verify(task, FINGERPRINT, match)
    assert judged == verify.verify(task, FINGERPRINT, match, unfiltered)
    assert judged == plain_verify(task, FINGERPRINT, match)


def archive_of(folder: Path, files: dict[str, str]) -> tuple[str, dict[int, tuple[int, str]]]:
    """An archive of ``files`` run into ``folder``: its URL and its passages' (submission, text)."""
    from archiver import flow

    config = make_config(folder / "archive", run={"workers": 1})
    flow.run(config, [write_inbox(folder / "inbox", files)])
    with db.reading_engine(config.database_url).connect() as connection:
        rows = connection.execute(select(db.PassageRow.id, db.PassageRow.submission_id, db.PassageRow.text))
        return config.database_url, {pid: (sub, text) for pid, sub, text in rows}


def test_the_earlier_texts_a_worker_remembers_are_read_once_bounded_and_never_another_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``links.earlier_texts`` (``verify.earlier_texts``): a passage read in a session is taken
    from memory the next time, normalised as read; at most ``EARLIER_KEPT`` are kept, the least
    recently used dropped; another session (here another archive, whose passages have the same
    ids and other texts) reads its own."""
    monkeypatch.setattr(verify, "EARLIER_KEPT", 3)
    monkeypatch.setattr(verify, "_earlier", verify._earlier)  # put back afterwards
    monkeypatch.setattr(verify, "_earlier_run", "")
    monkeypatch.setattr(verify, "earlier_counts", {"kept": 0, "read": 0})
    url, stored = archive_of(tmp_path / "one", SENTENCES)
    other_url, other = archive_of(tmp_path / "two", {path: text[::-1] for path, text in SENTENCES.items()})
    ids = sorted(set(stored) & set(other))[:5]
    assert len(ids) == 5 and all(stored[pid] != other[pid] for pid in ids)
    normalised = {pid: (sub, normalise(text)) for pid, (sub, text) in stored.items()}
    with db.reading_engine(url).connect() as connection:
        assert links.earlier_texts(connection, "run one", ids[:2]) == {
            pid: normalised[pid] for pid in ids[:2]
        }
        assert verify.earlier_counts == {"kept": 0, "read": 2}
        assert links.earlier_texts(connection, "run one", ids[1:4]) == {
            pid: normalised[pid] for pid in ids[1:4]
        }
        assert verify.earlier_counts == {"kept": 1, "read": 4}
        assert list(verify._earlier._entries) == [
            ids[1],
            ids[2],
            ids[3],
        ]  # ids[0] dropped: least recently used
        assert links.earlier_texts(connection, "run one", ids[:2]) == {
            pid: normalised[pid] for pid in ids[:2]
        }
        assert verify.earlier_counts == {"kept": 2, "read": 5}
        assert list(verify._earlier._entries) == [ids[3], ids[1], ids[0]]
    with db.reading_engine(other_url).connect() as connection:
        again = links.earlier_texts(connection, "run two", ids)
    assert again == {pid: (other[pid][0], normalise(other[pid][1])) for pid in ids}
    assert verify.earlier_counts == {"kept": 2, "read": 10}
    assert list(verify._earlier._entries) == ids[2:]


def test_a_task_and_its_result_cross_process_boundaries() -> None:
    task = verify.tasks(BAND, ANCHORED, NEW)[0]
    result = verify.verify(links.with_stored(task, read_earlier), FINGERPRINT, MATCH)
    assert pickle.loads(pickle.dumps(task)) == task
    assert pickle.loads(pickle.dumps(result)) == result


def test_a_run_verifying_on_a_process_pool_stores_the_spans_of_a_serial_run(tmp_path: Path) -> None:
    from archiver import flow

    inbox = write_inbox(tmp_path / "inbox", SENTENCES)
    serial = make_config(tmp_path / "serial", run={"workers": 1})
    flow.run(serial, [inbox])
    pooled = make_config(tmp_path / "pooled", run={"workers": 2, "batch_size": 1})
    summary = flow.run(pooled, [inbox])
    assert summary.stage_seconds["verify"] > 0
    found = copied(serial)
    assert len(found) >= 2
    assert copied(pooled) == found


def judgement(result: verify.Verified) -> tuple[object, ...]:
    return result.links, result.band_links, result.spans


def test_a_task_sent_the_ids_of_the_earlier_passages_reads_them_and_judges_as_if_sent_their_texts() -> None:
    sent = verify.tasks(BAND, ANCHORED, NORMALISED, size=3)  # every text sent with the tasks
    bare = verify.tasks(BAND, ANCHORED, NEW, size=3)
    assert len(bare) == len(sent) > 1
    assert not any(task.earlier for task in sent)
    assert [task.earlier for task in bare] == [tuple(sorted(set(task.texts) & EARLIER)) for task in sent]
    asked: list[Sequence[int]] = []

    def read(ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        asked.append(ids)
        return read_earlier(ids)

    filled = [links.with_stored(task, read) for task in bare]
    assert asked == [task.earlier for task in bare]
    assert [task.texts for task in filled] == [task.texts for task in sent]
    assert not any(task.earlier for task in filled)
    assert [judgement(verify.verify(task, FINGERPRINT, MATCH)) for task in filled] == [
        judgement(verify.verify(task, FINGERPRINT, MATCH)) for task in sent
    ]
    assert verify.merged(links.verify_here(bare, FINGERPRINT, MATCH, read)) == judged(size=3)


def test_a_worker_looks_candidates_up_in_the_archive_while_a_batch_is_written(tmp_path: Path) -> None:
    """A lookup task of the last submission's paragraphs, as if they were a new batch, run on a
    process pool (its own read-only engine) while the coordinator holds the write lock, finds and
    verifies what it finds in this process afterwards."""
    from archiver import flow

    config = make_config(tmp_path / "archive", run={"workers": 1})
    flow.run(config, [write_inbox(tmp_path / "inbox", SENTENCES)])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session, session.begin():
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        passages = db.PassageRow
        last = session.scalar(select(func.max(passages.submission_id)))
        first = session.scalar(select(func.min(passages.id)).where(passages.submission_id == last))
        signed = session.execute(
            select(passages.id, passages.text, passages.signature)
            .where(passages.submission_id == last, passages.signature.is_not(None))
            .order_by(passages.id)
        ).all()
        indexed = [NewParagraph(pid, last, "", sig, normalise(t), None, b"") for pid, t, sig in signed]
        anchored = fp.anchor_bytes([p.normalised for p in indexed])
        rows = np.concatenate(
            [
                buckets.band_rows([(p.id, p.signature) for p in indexed if p.signature], FINGERPRINT),
                buckets.computed_anchor_rows(
                    [(p.id, a) for p, a in zip(indexed, anchored, strict=True)], FINGERPRINT
                ),
            ]
        )
        night = np.column_stack([rows, np.full(len(rows), first), buckets.rank(rows)])
        [lookup] = links.lookups(night, indexed, uuid.uuid4().hex)
        # The coordinator holds the write lock, as during a batch: the worker still reads.
        session.add(db.Meta(key="probe", value={}))
        session.flush()
        with ProcessPoolExecutor(1) as pool:
            found = pool.submit(links.find_and_verify_stored, lookup, FINGERPRINT, MATCH, config.database_url)
            there = found.result()
        with db.reading_engine(config.database_url).connect() as connection:
            assert connection.execute(select(db.Meta.key)).scalars().all() == ["fingerprint"]  # no probe
            with pytest.raises(OperationalError, match="readonly"):
                connection.execute(text("DELETE FROM meta"))
    with engine.connect() as connection:
        here = links.find_and_verify(lookup, FINGERPRINT, MATCH, connection)
    engine.dispose()
    assert here.candidates > 0 and any(v.spans for v in here.verified)
    assert there.candidates == here.candidates
    assert [judgement(v) for v in there.verified] == [judgement(v) for v in here.verified]


@st.composite
def index_and_night(draw: st.DrawFn) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
    """Rows the index holds (level: 0 the main one, else a block; band, key, passage below 100)
    and a batch's rows (band, key, passage from 100), over few buckets so that they meet and
    fill up."""
    bucket = st.tuples(st.integers(0, 2), st.integers(-3, 3))
    held = draw(st.lists(st.tuples(bucket, st.integers(1, 40)), unique=True, max_size=40))
    night = draw(st.lists(st.tuples(bucket, st.integers(100, 112)), unique=True, max_size=50))
    placed = draw(st.lists(st.integers(0, 2), min_size=len(held), max_size=len(held)))
    return (
        [(level, band, key, pid) for level, ((band, key), pid) in zip(placed, held, strict=True)],
        [(band, key, pid) for (band, key), pid in night],
    )


@given(index_and_night(), st.integers(1, 4), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_the_tasks_find_the_candidates_the_database_join_found(
    drawn: tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int]]], cap: int, per_task: int
) -> None:
    """Each lookup task's shared keys (the index's committed rows read by key, and the batch's
    rows that fit their bucket, judged in NumPy) are those of a join of the night's rows with
    every level once the rows that fit are added (the statements before issue 24's lookup
    tasks), written out here, on a real SQLite archive. Submissions: passages 100–103,
    104–108, 109–112."""
    held, night_rows = drawn
    firsts = {pid: 100 if pid < 104 else 104 if pid < 109 else 109 for pid in range(100, 113)}
    rows = np.array(sorted(night_rows), dtype=np.int64).reshape(-1, 3)
    night = np.column_stack([rows, [firsts[p] for p in rows[:, 2].tolist()], buckets.rank(rows)]).astype(
        np.int64
    )
    index = [(band, key, pid) for _, band, key, pid in held]
    for band, key, pid in rows.tolist():  # a bucket keeps its earliest ``cap`` passages
        if sum((b, k) == (band, key) for b, k, _ in index) < cap:
            index.append((band, key, pid))
    joined = sorted(
        (pid, other, band)
        for band, key, pid in rows.tolist()
        for b, k, other in index
        if (b, k) == (band, key) and other < firsts[pid]
    )
    with tempfile.TemporaryDirectory(prefix="lookup-") as folder:
        engine = db.open_engine(f"sqlite:///{folder}/a.sqlite3")
        with Session(engine) as session, session.begin():
            connection = session.connection()
            for level, band, key, pid in held:  # the main level, or a block of its own
                if level:
                    levels.write_blocks(connection, np.array([[band, key, pid]], dtype=np.int64))
                else:
                    connection.execute(insert(db.PassageBand).values(band=band, key=key, passage_id=pid))
            indexed = [
                NewParagraph(pid, firsts[pid], "", None, "", None, b"")
                for pid in sorted(set(rows[:, 2].tolist()))
            ]
            monkeypatched = links.TASK_PASSAGES
            links.TASK_PASSAGES = per_task
            try:
                tasks = links.lookups(night, indexed, uuid.uuid4().hex)
            finally:
                links.TASK_PASSAGES = monkeypatched
            found = []
            for task in tasks:
                shared = links.look_up(task, connection, cap)[1]
                found += list(zip(*(column.tolist() for column in shared), strict=True))
        engine.dispose()
    assert sorted(found) == joined
    assert [p for task in tasks for p in task.passages] == [p.id for p in indexed]
