"""The clerk's review page (`archiver clean FILE --html PAGE`) in a real headless Chromium.

On the seed: every one of its 574 pinyin removals, 638 script conversions and 105 punctuation
fixes is marked on the file as submitted, the 16 removed repeats are rows linked to the passage
each repeats, the warnings sit in the margin of their row, a click shows before → after, and no
request leaves file://.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.cli import main
from tests.conftest import ROOT, samples_folder
from tests.test_audit_browser import ARGS, ARTIFACTS, CHROMIUM

SEED = ROOT / "tests" / "data" / "seed.txt"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium missing: apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) not installed")


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review")
    page = root / "seed.html"
    args = ["clean", str(SEED), "-o", str(root / "seed.txt"), "--html", str(page)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return page


@pytest.fixture(scope="module")
def page(review: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(review.as_uri())
        yield page
        chromium.close()


def test_every_change_of_the_seed_is_marked_on_the_file_as_submitted(page: Any) -> None:
    marks = page.eval_on_selector_all(
        "table.review td.original mark.chg",
        "els => els.map(e => [e.dataset.change, e.dataset.kind])",
    )
    kinds = Counter(kind for _, kind in dict(marks).items())
    assert kinds["pinyin"] == 574
    assert kinds["script"] + kinds["risky"] == 638 and kinds["risky"] >= 1
    assert kinds["punctuation"] == 105


def test_the_removed_repeats_link_to_the_passage_they_repeat(page: Any) -> None:
    removed = page.locator("tr.removed")
    assert removed.count() == 16
    for i in range(removed.count()):
        target = removed.nth(i).locator("a.repeat-link").get_attribute("href")
        assert target and page.locator(f"tr.kept{target}").count() == 1
    first = removed.first.locator("a.repeat-link")
    first.click()
    assert page.evaluate("location.hash") == first.get_attribute("href")


def test_warnings_sit_in_the_margin_and_a_click_shows_before_and_after(page: Any) -> None:
    margin = page.locator("td.margin .warning")
    assert margin.count() == 3
    assert page.locator("td.margin .warning[data-kind=placeholder]").count() == 2
    row = page.locator("tr.kept", has=page.locator("td.margin .warning[data-kind=script]"))
    assert row.locator("td.cleaned mark.risky").count() >= 1
    page.locator("td.original mark.pinyin").first.click()
    assert page.locator("#detail").text_content() == "删除拼音 pinyin removed：“(qiáng)” → （删除 removed）"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-seed.png"))
    assert all(url.startswith(("file://", "data:")) for url in page.requests), page.requests


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit site of an archive of samples/, its document pages linking their reviews."""
    base = samples_folder(tmp_path_factory.mktemp("site"))
    config = ["--config", str(base / "config.toml")]
    for args in (["run"], ["audit", "--format", "html", "-o", str(base / "site")]):
        result = CliRunner().invoke(main, [*config, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return base / "site"


def test_an_archived_document_links_its_review_built_from_the_archive(site: Path, page: Any) -> None:
    pages = [p for p in (site / "docs").glob("*.html") if p.stem.isdigit()]
    seed = next(p for p in pages if "shuangqiao-xiang" in p.read_text("utf-8"))
    # The module's browser (one sync Playwright at a time), a page of its own.
    with page.context.browser.new_context(viewport={"width": 1400, "height": 1000}) as context:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(seed.as_uri())
        page.locator("a.review-link").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/docs/{seed.stem}-review.html")
        marks = page.eval_on_selector_all(
            "td.original mark.chg", "els => els.map(e => [e.dataset.change, e.dataset.kind])"
        )
        kinds = Counter(kind for _, kind in dict(marks).items())  # a change may be drawn in pieces
        assert kinds["pinyin"] == 574 and kinds["punctuation"] == 105
        assert kinds["script"] + kinds["risky"] == 638 and kinds["risky"] >= 1
        assert page.locator("tr.removed").count() == 16
        assert page.locator("td.margin .warning[data-kind=placeholder]").count() == 2
        page.locator("td.original mark.pinyin").first.click()
        assert (
            page.locator("#detail").text_content() == "删除拼音 pinyin removed：“(qiáng)” → （删除 removed）"
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-archived.png"))
        page.locator("a.document-link").click()
        page.wait_for_load_state()
        assert page.url == seed.as_uri()
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
