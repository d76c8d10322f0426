"""The HTML audit report in a real headless Chromium (Debian's /usr/bin/chromium via Playwright).

The archive is built by the real pipeline over the inbox of ``test_audit`` (reuse across years
and authorities, a repeated block, a submission with <script> in it). The report is opened from
disk: highlights match the JSON, a highlight leads to its earlier occurrence, the table sorts,
the <script> text shows literally, and no request leaves file://.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit import reuse as audit
from archiver.audit.html import write_site
from archiver.store import db
from tests.conftest import ROOT, make_config
from tests.test_audit import build_archive

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium missing: apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The written site and the JSON of the same report."""
    root = tmp_path_factory.mktemp("audit-browser")
    config = build_archive(root)
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        report = audit.audit(session, audit.load(session), config.match.match_at)
    write_site(report, root / "site")
    return root / "site", audit.as_json(report)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records every request and every dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def doc_of(data: dict[str, Any], file: str) -> dict[str, Any]:
    return next(d for d in data["documents"] if d["file"] == file)


def only_file_requests(page: Any) -> None:
    outside = [url for url in page.requests if not url.startswith(("file://", "data:"))]
    assert outside == [], outside


def test_highlights_match_the_json_and_lead_to_the_earlier_occurrence(
    site: tuple[Path, dict[str, Any]], page: Any
) -> None:
    folder, data = site
    b = doc_of(data, "auth-a/2021/b.txt")
    page.goto((folder / "docs" / f"{b['id']}.html").as_uri())
    highlights = page.locator('a.reuse[data-kind="earlier"], a.reuse[data-kind="other"]')
    assert highlights.count() == b["reused_passages"] == 3
    first = highlights.first
    href = first.get_attribute("href")
    first.click()
    page.wait_for_load_state()
    a = doc_of(data, "auth-a/2020/a.txt")
    assert page.url.split("#")[0].endswith(f"/docs/{a['id']}.html")
    fragment = page.url.split("#")[1]
    assert href.endswith("#" + fragment)
    target = page.locator(f"#{fragment}")
    assert target.is_visible() and target.evaluate("el => el.matches(':target')")
    box, height = target.bounding_box(), page.viewport_size["height"]
    assert box is not None and 0 <= box["y"] < height  # scrolled into view
    assert target.inner_text() == first_text(page, folder, b["id"], href)
    only_file_requests(page)


def first_text(page: Any, folder: Path, doc_id: int, href: str) -> str:
    """The text of the highlighted passage on the later page (the copy matches the original)."""
    later = page.context.new_page()
    later.goto((folder / "docs" / f"{doc_id}.html").as_uri())
    text: str = later.locator(f'a.reuse[href="{href}"]').first.inner_text()
    later.close()
    return text


def test_table_sorts_and_filters(site: tuple[Path, dict[str, Any]], page: Any) -> None:
    folder, data = site
    page.goto((folder / "index.html").as_uri())
    rows = page.locator("#documents tbody tr")
    assert rows.count() == len(data["documents"])
    page.click('th[data-key="reused_share"]')
    shares = [
        float(v)
        for v in page.locator("#documents tbody tr td:nth-child(5)").evaluate_all(
            "cells => cells.map(c => c.dataset.sort)"
        )
    ]
    assert shares == sorted(shares)
    assert shares[-1] == pytest.approx(max(d["reused_share"] for d in data["documents"]), abs=1e-4)
    assert shares[-1] > 0
    page.click('th[data-key="reused_share"]')
    first_file = page.locator("#documents tbody tr").first.locator("td").first.inner_text()
    assert first_file == max(data["documents"], key=lambda d: d["reused_share"])["file"]
    page.fill("#filter", "auth-b")
    assert page.locator("#documents tbody tr:visible").count() == 1
    page.fill("#filter", "")
    assert page.locator("#chart polyline").count() >= 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "audit-index.png"), full_page=True)
    only_file_requests(page)


def test_script_text_shows_literally(site: tuple[Path, dict[str, Any]], page: Any) -> None:
    folder, data = site
    x = doc_of(data, "auth-c/2022/x.txt")
    page.goto((folder / "docs" / f"{x['id']}.html").as_uri())
    page.wait_for_timeout(200)
    assert "<script>alert(1)</script>" in page.locator("article.text").inner_text()
    assert page.dialogs == []
    assert page.locator("article.text script, article.text b").count() == 0
    page.screenshot(path=str(ARTIFACTS / "audit-script-document.png"), full_page=True)
    only_file_requests(page)


def test_clusters_page_lists_keywords(site: tuple[Path, dict[str, Any]], page: Any) -> None:
    folder, data = site
    page.goto((folder / "clusters.html").as_uri())
    assert page.locator("section.cluster").count() == len(data["clusters"])
    first = data["clusters"][0]
    tags = page.locator("section.cluster").first.locator(".tags span").all_inner_texts()
    assert tags == first["keywords"]
    json.dumps(data)  # the report and the page come from the same object
    only_file_requests(page)


def test_the_index_shows_the_documents_first_and_searches_their_texts(
    site: tuple[Path, dict[str, Any]], page: Any
) -> None:
    folder, data = site
    page.goto((folder / "index.html").as_uri())
    table_top = page.locator("#documents").bounding_box()["y"]
    assert table_top < page.locator("#chart").bounding_box()["y"]  # the table comes first
    assert table_top < 400
    # Charts only for authorities with two or more years: auth-a (2020, 2021) and auth-c (2021, 2022).
    assert page.locator("#chart polyline").count() == 2 * 2
    query = "与 <b>加粗</b>"  # only in x.txt's text, not in any file name
    # The texts are not in the page: the search box loads them from their own file when used.
    assert "加粗" not in (folder / "index.html").read_text(encoding="utf-8")
    assert not any(url.endswith("/search/texts.js") for url in page.requests)
    page.fill("#search", query)
    sync_api.expect(page.locator("#search-count")).to_contain_text("1 份文件包含")
    assert any(url.endswith("/search/texts.js") for url in page.requests)
    visible = page.locator("#documents tbody tr:visible")
    assert visible.count() == 1 and visible.first.locator("td").first.inner_text() == "auth-c/2022/x.txt"
    p0 = data["clusters"][0]["canonical"]["text"][5:20]  # in a.txt, b.txt and c.txt
    page.fill("#search", p0)
    assert page.locator("#documents tbody tr:visible").count() == 3
    page.fill("#filter", "auth-b")  # both boxes apply
    assert page.locator("#documents tbody tr:visible").count() == 1
    page.screenshot(path=str(ARTIFACTS / "audit-index-search.png"), full_page=True)
    assert page.dialogs == []
    only_file_requests(page)


def test_the_pair_page_shows_both_texts_with_the_matches_linked(
    site: tuple[Path, dict[str, Any]], page: Any
) -> None:
    folder, data = site
    a, b = doc_of(data, "auth-a/2020/a.txt"), doc_of(data, "auth-a/2021/b.txt")
    page.goto((folder / "pairs.html").as_uri())
    rows = page.locator("#documents tbody tr")
    assert rows.count() == 3
    page.click('th:has-text("B 中共有")')
    page.click(f'a[href="pairs/{a["id"]}-{b["id"]}.html"]')
    sides = page.locator(".pair > section")
    assert sides.count() == 2
    assert "auth-a/2020/a.txt" in sides.nth(0).locator("h2").inner_text()
    assert "auth-a/2021/b.txt" in sides.nth(1).locator("h2").inner_text()
    left = sides.nth(0).locator("a.reuse")
    assert left.count() == 3 and sides.nth(1).locator("a.reuse").count() == 3
    first = left.first
    text = first.inner_text()
    first.click()
    target = page.evaluate("location.hash")[1:]
    assert target.startswith("b") and page.locator(f"#{target}").inner_text() == text
    page.screenshot(path=str(ARTIFACTS / "audit-pair.png"), full_page=True)
    only_file_requests(page)


SOURCE = (
    "2023年，全县完成植树造林1.2万亩，森林覆盖率达到45.3%，比上年提高1.1个百分点。"
    "关键核心技术攻关成果丰硕，航空发动机、燃气轮机、第四代核电机组等高端装备研制取得长足进展。"
    "全年新建农村公路120公里，改造危桥8座，城乡交通条件明显改善。"
)
LIFTED = "关键核心技术攻关成果丰硕，航空发动机、燃气轮机、第四代核电机组等高端装备研制取得长足进展。"
EDITED = (
    SOURCE.replace("2023年", "2024年")
    .replace("1.2万亩", "1.5万亩")
    .replace("45.3%", "46.8%")
    .replace("120公里", "135公里")
)
MOSAIC = (
    "今年以来，我局紧紧围绕中心工作，认真谋划，狠抓落实。"
    + LIFTED
    + "干部职工精神面貌焕然一新，服务群众能力不断提升。"
)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A site over an edited copy of last year's paragraph and a sentence lifted into another's."""
    root = tmp_path_factory.mktemp("audit-spans")
    texts = {
        "auth-x/2023/a.txt": "戊局2023年工作总结\n" + SOURCE,
        "auth-x/2024/b.txt": "戊局2024年工作总结\n" + EDITED,
        "auth-y/2024/c.txt": "己局2024年工作总结\n" + MOSAIC,
    }
    for relpath, text in texts.items():
        (root / "inbox" / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / "inbox" / relpath).write_text(text + "\n", encoding="utf-8")
    config = make_config(root)
    flow.run(config, [root / "inbox"])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        report = audit.audit(session, audit.load(session), config.match.match_at)
    engine.dispose()
    write_site(report, root / "site")
    return root / "site", audit.as_json(report)


def test_a_lifted_sentence_is_highlighted_alone(copies: tuple[Path, dict[str, Any]], page: Any) -> None:
    folder, data = copies
    c = doc_of(data, "auth-y/2024/c.txt")
    page.goto((folder / "docs" / f"{c['id']}.html").as_uri())
    highlights = page.locator("a.reuse")
    assert highlights.all_inner_texts() == [LIFTED]
    passage = page.locator("span.passage").filter(has_text=LIFTED)
    assert passage.inner_text() == MOSAIC  # the fresh sentences around it are there, not highlighted
    assert c["reused_chars"] == len(LIFTED)
    page.screenshot(path=str(ARTIFACTS / "audit-sentence.png"), full_page=True)
    highlights.first.click()
    page.wait_for_load_state()
    assert page.url.split("#")[0].endswith(f"/docs/{doc_of(data, 'auth-x/2023/a.txt')['id']}.html")
    assert page.locator(f"#{page.url.split('#')[1]}").inner_text() == SOURCE
    only_file_requests(page)


def test_beside_an_edited_copy_the_changed_dates_and_figures_are_marked(
    copies: tuple[Path, dict[str, Any]], page: Any
) -> None:
    folder, data = copies
    b = doc_of(data, "auth-x/2024/b.txt")
    page.goto((folder / "docs" / f"{b['id']}.html").as_uri())
    assert page.locator("a.reuse").all_inner_texts() == [EDITED]  # an edited copy counts whole
    assert b["reused_chars"] == len(EDITED)
    page.locator("a.reuse").first.hover()
    entry = page.locator("aside.panel section.source.active")
    assert entry.count() == 1
    # 2023 → 2024, 1.2 → 1.5, 45.3 → 46.8, 120 → 135: only the characters that changed are marked
    assert entry.locator("p.diff ins").all_inner_texts() == ["4", "5", "6", "8", "35"]
    assert entry.locator("p.diff del").all_inner_texts() == ["3", "2", "5", "3", "20"]
    diff_text = entry.locator("p.diff").inner_text()
    assert "森林覆盖率达到" in diff_text and "城乡交通条件明显改善" in diff_text
    page.screenshot(path=str(ARTIFACTS / "audit-changes.png"), full_page=True)
    only_file_requests(page)


def test_the_pair_page_highlights_the_shared_spans_and_marks_what_changed(
    copies: tuple[Path, dict[str, Any]], page: Any
) -> None:
    folder, data = copies
    a, b, c = (doc_of(data, f) for f in ("auth-x/2023/a.txt", "auth-x/2024/b.txt", "auth-y/2024/c.txt"))
    page.goto((folder / "pairs" / f"{a['id']}-{c['id']}.html").as_uri())
    sides = page.locator(".pair > section")
    # one copied sentence: that sentence is highlighted on both sides, not its paragraphs
    assert sides.nth(0).locator("a.reuse").all_inner_texts() == [LIFTED]
    assert sides.nth(1).locator("a.reuse").all_inner_texts() == [LIFTED]
    assert f"{len(LIFTED)} / {a['chars']} chars shared" in sides.nth(0).inner_text()
    assert f"{len(LIFTED)} / {c['chars']} chars shared" in sides.nth(1).inner_text()
    sides.nth(1).locator("a.reuse").first.click()
    assert page.evaluate("location.hash") == "#a-s0"
    assert page.locator("#a-s0").inner_text() == LIFTED
    assert page.locator("#changes p.diff").count() == 0  # copied as it was: no change to list
    page.screenshot(path=str(ARTIFACTS / "audit-pair-sentence.png"), full_page=True)
    page.goto((folder / "pairs" / f"{a['id']}-{b['id']}.html").as_uri())
    assert page.locator(".pair > section").nth(1).locator("a.reuse").all_inner_texts() == [EDITED]
    assert page.locator("#changes p.diff ins").all_inner_texts() == ["4", "5", "6", "8", "35"]
    assert page.locator("#changes p.diff del").all_inner_texts() == ["3", "2", "5", "3", "20"]
    page.screenshot(path=str(ARTIFACTS / "audit-pair-changes.png"), full_page=True)
    only_file_requests(page)
