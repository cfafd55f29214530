"""Screenshots of the demo's site for the README (after `make run`):

    .venv/bin/python docs/screenshots.py [output]

Opens output/index.html and the first episode's page in Debian's chromium (Playwright) and
writes docs/index.png and docs/episode.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "output").resolve()
    episode = sorted((output / "episodes").glob("*.html"))[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 900, "height": 1000}, device_scale_factor=1)
        page.goto((output / "index.html").as_uri())
        page.screenshot(path=str(HERE / "index.png"))
        page.goto(episode.as_uri() + "#t=0:34")
        page.wait_for_timeout(300)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(HERE / "episode.png"), full_page=True)
        page.goto((output / "search.html").as_uri() + "?q=flood+warning")
        page.wait_for_selector("#results li")
        page.screenshot(path=str(HERE / "search.png"))
        browser.close()
    print(f"wrote {HERE / 'index.png'}, {HERE / 'episode.png'}, {HERE / 'search.png'}")


if __name__ == "__main__":
    main()
