"""`archiver find`: the archive's passages a text's paragraphs match, from the LSH index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit.find import find, prepare
from archiver.cli import main
from archiver.config import Config
from archiver.errors import InputError
from archiver.store import db
from tests.conftest import make_config
from tests.test_search import FILES, LINES, write_inbox


def found_files(config: Config, raw: bytes) -> dict[str, set[str]]:
    """Paragraph text → files the archive has it in."""
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        found = find(session, prepare(raw, "probe", config), config)
    engine.dispose()
    return {f.passage.text: {o.file for o in f.occurrences} for f in found}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("find")
    config = make_config(root)
    flow.run(config, [write_inbox(root / "in", FILES)])
    return config


def test_a_paragraph_is_found_in_every_file_that_has_it(small: Config) -> None:
    got = found_files(
        small, (LINES[4] + "\n" + LINES[10] + "\n新写的一段话，档案里没有这样的句子，也不会有。").encode()
    )
    assert got[LINES[4]] == {"jia/2023/a.txt", "jia/2024/b.txt"}
    assert got[LINES[10]] == {"yi/2024/c.txt"}
    assert got["新写的一段话，档案里没有这样的句子，也不会有。"] == set()


def test_an_edited_copy_is_found_with_its_similarity(small: Config) -> None:
    edited = LINES[5].replace("。", "，并取得新进展。", 1)
    engine = db.open_engine(small.database_url)
    with Session(engine) as session:
        (item,) = find(session, prepare(edited.encode(), "probe", small), small)
    engine.dispose()
    assert {o.file for o in item.occurrences} == {"jia/2023/a.txt", "jia/2024/b.txt"}
    assert all(small.match.match_at <= o.similarity < 1.0 for o in item.occurrences)
    for o in item.occurrences:
        assert o.start is not None and o.end is not None and o.end - o.start == len(o.text)


def sentences(text: str) -> list[str]:
    return [part + "。" for part in text.split("。") if part]


def test_a_copied_sentence_is_found_with_its_span_either_way_round(small: Config) -> None:
    """A sentence of an archived paragraph, alone or inside a new paragraph, is found in that
    paragraph's file, far below match_at as a whole: the spans are the sentence on both sides."""
    sentence = max(sentences(LINES[10]), key=len)
    assert len(sentence) >= 30 and len(sentence) < len(LINES[10]) / 2
    fresh = "今年我们新建了三座桥梁和两所学校，群众出行和上学更加方便。"
    archived = FILES["yi/2024/c.txt"]
    engine = db.open_engine(small.database_url)
    with Session(engine) as session:
        for probe in (sentence, fresh + sentence + "下一步还要继续努力，把实事办实办好办到群众心坎上。"):
            (item,) = find(session, prepare(probe.encode(), "probe", small), small)
            (o,) = item.occurrences
            assert o.file == "yi/2024/c.txt" and o.similarity < small.match.match_at
            (span,) = o.spans
            assert probe[span.start : span.end] == sentence
            assert archived[span.other_start : span.other_end] == sentence
    engine.dispose()


def test_the_command_reads_a_file_stdin_or_text(small: Config, tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[store]\ndatabase = "{small.store.database}"\nvault = "{small.store.vault}"\n', encoding="utf-8"
    )
    probe = tmp_path / "probe.txt"
    probe.write_text(LINES[10] + "\n", encoding="utf-8")
    runner = CliRunner()
    base = ["--config", str(config_file), "find"]
    by_file = runner.invoke(main, [*base, str(probe)], catch_exceptions=False)
    assert by_file.exit_code == 0 and "yi/2024/c.txt" in by_file.output and "1 / 1" in by_file.output
    by_stdin = runner.invoke(main, [*base, "-", "--json"], input=LINES[10].encode())
    payload = json.loads(by_stdin.output)
    assert [o["file"] for o in payload["found"][0]["occurrences"]] == ["yi/2024/c.txt"]
    by_text = runner.invoke(main, [*base, "--text", LINES[4], "--json"])
    assert {o["file"] for o in json.loads(by_text.output)["found"][0]["occurrences"]} == {
        "jia/2023/a.txt",
        "jia/2024/b.txt",
    }
    neither = runner.invoke(main, base)
    assert neither.exit_code == 1 and "--text" in neither.output


def test_a_text_with_nothing_to_look_up_is_an_input_error(small: Config) -> None:
    with pytest.raises(InputError):
        prepare(b"\x00\x01\x02\x03", "probe", small)


def kept(text: str, found: dict[str, set[str]]) -> str:
    """The paragraph of the file that stands for the truth item ``text``: itself, or for a
    repeat removed from the file, the kept copy most like it."""
    if text in found:
        return text
    best = process.extractOne(text, list(found), scorer=fuzz.ratio)
    assert best is not None and best[1] >= 90, text
    return str(best[0])


def find_recall(config: Config, inbox: Path) -> tuple[int, int]:
    """(found, positive pairs): for each positive truth pair of paragraphs (both sides), whether
    finding the first side's file lists the other side's file for that paragraph."""
    truth = [json.loads(line) for line in (inbox / "truth.jsonl").open(encoding="utf-8")]
    items = {t["file"]: {i["i"]: i for i in t["items"]} for t in truth if t["status"] == "archived"}
    pairs = [json.loads(line) for line in (inbox / "truth_pairs.jsonl").open(encoding="utf-8")]
    pairs = [p for p in pairs if p["positive"] and "via" not in p and p["a"] in items and p["b"] in items]
    by_file: dict[str, dict[str, set[str]]] = {}
    hits = total = 0
    for pair in pairs:
        for mine, i, other in ((pair["a"], pair["ai"], pair["b"]), (pair["b"], pair["bi"], pair["a"])):
            if mine not in by_file:
                by_file[mine] = found_files(config, (inbox / mine).read_bytes())
            total += 1
            hits += other.removeprefix("inbox/") in by_file[mine][kept(items[mine][i]["text"], by_file[mine])]
    return hits, total


def test_find_recalls_the_copies_of_the_bench_inbox(bench_inbox: Path, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [bench_inbox / "inbox"])
    hits, total = find_recall(config, bench_inbox)
    assert total > 100 and hits / total >= 0.95, (hits, total)
