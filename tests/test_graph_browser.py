"""`modelspec graph` in a real browser: Debian's chromium, headless, driven by Playwright. The HTML page and the
standalone SVG render without script errors, a box's finding shows on hover, and a group folds and unfolds on a
click. `make test` installs chromium (Makefile) and Playwright (the [dev] extra); where either is missing this
module fails, except in the TensorFlow-free nox sessions (`.[test]` only), where it is skipped with the reason."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import ROOT, WITHOUT_TENSORFLOW

from modelspec.drawing import graph

CHROMIUM = os.environ.get("MODELSPEC_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESNET50 = ROOT / "tests" / "data" / "graph" / "resnet50.yaml"

if WITHOUT_TENSORFLOW:
    pytest.importorskip("playwright", reason="Playwright is in the [dev] extra, not in the nox sessions' [test]")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no chromium at {CHROMIUM} in this session (make test installs it)", allow_module_level=True)
from playwright.sync_api import sync_playwright  # noqa: E402  (a missing Playwright fails here, under make test)


@pytest.fixture(scope="module")
def browser():
    assert shutil.which(CHROMIUM), f"no chromium at {CHROMIUM}: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page, errors
    page.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graph")
    for suffix in (".html", ".svg"):
        graph(RESNET50, folder / f"resnet50{suffix}", fold=False)
    return folder


@pytest.mark.parametrize("suffix", [".html", ".svg"])
def test_renders_and_shows_a_finding_on_hover(page, pictures, suffix):
    page, errors = page
    page.goto((pictures / f"resnet50{suffix}").as_uri())
    assert page.locator("g.box").count() == 177  # the input and 176 layers
    box = page.locator('g.box[data-name="conv2_block1_1_conv"]')
    assert box.bounding_box()["height"] > 50  # drawn, at its size
    tip = page.locator("#tip")
    assert not tip.is_visible()
    box.hover()
    assert tip.is_visible()
    text = tip.locator("text").text_content()
    assert "info[MS202]" in text and "conv2_block1_1_conv" in text  # the finding on this layer
    assert errors == []


def _top(box) -> float:
    """The y of a box in the picture (its translation), wherever the page is scrolled."""
    return box.evaluate("g => g.transform.baseVal.consolidate().matrix.f")


@pytest.mark.parametrize("suffix", [".html", ".svg"])
def test_group_folds_and_unfolds(page, pictures, suffix):
    page, errors = page
    page.goto((pictures / f"resnet50{suffix}").as_uri())
    member = page.locator('g.box[data-name="conv2_block2_2_conv"]')
    folded = page.locator('g.fold[data-fold="conv2_block2"]')
    after = page.locator('g.box[data-name="conv2_block3_1_conv"]')
    height = page.locator("svg").bounding_box()["height"]
    below = _top(after)
    assert member.is_visible() and not folded.is_visible()

    page.locator('g.frame[data-group="conv2_block2"] text').click()
    assert folded.is_visible() and not member.is_visible()
    assert "conv2_block2 (10 layers)" in folded.text_content()
    assert _top(after) == pytest.approx(below - 9 * 94, abs=1)  # its ten rows became one
    assert page.locator("svg").bounding_box()["height"] < height
    visible_edges = page.locator("path.edge:visible").count()
    assert visible_edges < page.locator("path.edge").count()  # the edges inside the group are hidden

    folded.click()
    assert member.is_visible() and not folded.is_visible()
    assert _top(after) == pytest.approx(below, abs=1)
    assert errors == []


def test_screenshot(page, pictures, tmp_path):
    """The picture as a person sees it (docs/resnet50_graph.png is one, taken by tools/graph_screenshot.py)."""
    page, errors = page
    page.goto((pictures / "resnet50.html").as_uri())
    page.locator('g.box[data-name="conv2_block1_1_conv"]').hover()
    shot = tmp_path / "resnet50.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000  # boxes and text, not a blank page
    assert errors == []
