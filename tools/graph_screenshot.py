"""Take docs/resnet50_graph.png: the `modelspec graph` picture of ResNet50 (tests/data/graph/resnet50.yaml, imported
from keras.applications) in headless chromium, conv2_block1 folded, the tooltip of conv1_conv shown.

    .venv/bin/python tools/graph_screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from modelspec.drawing import graph

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "resnet50_graph.png"
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        page_file = Path(folder, "resnet50.html")
        graph(ROOT / "tests" / "data" / "graph" / "resnet50.yaml", page_file, fold=False)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.goto(page_file.as_uri())
        page.locator('g.frame[data-group="conv2_block1"] text').click()
        page.evaluate("window.scrollTo(0, 0)")
        page.locator('g.box[data-name="conv1_conv"]').hover()
        page.screenshot(path=str(out))
        browser.close()
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
