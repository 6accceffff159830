"""A full-page PNG of an HTML report in headless Chromium (Debian's chromium + chromium-driver, through Selenium):

    python scripts/report_screenshot.py artifacts/phase1_report.html docs/phase1_report.png

The page is loaded from a file:// URL (offline), the window grown to the page's height (at most --max-height) so
that the charts draw at their final size, then captured."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def screenshot(page: Path, png: Path, width: int = 1280, max_height: int = 8000) -> Path:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit("needs chromium and chromedriver on PATH (bash .ci/chromium.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={width},1000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(page.resolve().as_uri())
        height = min(max_height, int(browser.execute_script("return document.documentElement.scrollHeight")))
        browser.set_window_size(width, height + 20)
        time.sleep(1.0)  # the responsive charts redraw at the new size
        png.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(png))
    finally:
        browser.quit()
    return png


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--max-height", type=int, default=8000)
    args = parser.parse_args(argv)
    path = screenshot(args.page, args.png, args.width, args.max_height)
    print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
