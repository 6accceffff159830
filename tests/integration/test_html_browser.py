"""Every kind of HTML report in a real browser (headless Chromium through Selenium, from a file:// URL): no error
in the console, every chart drawn (a plot with a non-empty SVG), the title and the headings there; offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import browser
from fakes.reports import KINDS, all_reports

WHY_NOT = browser.missing()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"browser test: {WHY_NOT}")

# The headings each page must show, in this order (the decision first).
HEADINGS = {
    "phase1": ["Decision", "Comparison (test split)", "Forecasts on the test window", "Trading (after costs)",
               "Per fold and per seed", "Runs", "Provenance"],
    "backtest": ["Verdict", "Trading metrics (after costs, the same bars)", "Charts", "Provenance"],
    "compare": ["Verdict", "Comparison", "Forecasts", "Provenance"],
    "ab": ["Decision", "Champion and challenger", "Forecasts", "Provenance"],
    "tune": ["Best configuration", "Optimisation history and parameter importances", "Trials", "Provenance"],
}
CHARTS = {"phase1": 3, "backtest": 3, "compare": 1, "ab": 1, "tune": 2}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    return all_reports(tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def chrome():
    driver = browser.driver()
    yield driver
    driver.quit()


@pytest.mark.parametrize("kind", KINDS)
def test_the_report_renders_in_chromium_without_console_errors(kind, reports, chrome):
    from selenium.webdriver.common.by import By

    chrome.get_log("browser")  # drop what an earlier page logged
    chrome.get(reports[kind].resolve().as_uri())
    chrome.implicitly_wait(5)
    assert chrome.title and chrome.find_element(By.TAG_NAME, "h1").text == chrome.title
    headings = [h.text for h in chrome.find_elements(By.TAG_NAME, "h2")]
    assert headings == HEADINGS[kind]
    assert chrome.find_element(By.ID, "synthetic-label").text.startswith("SYNTHETIC")
    plots = chrome.find_elements(By.CSS_SELECTOR, ".plotly-graph-div")
    assert len(plots) == CHARTS[kind]
    for plot in plots:
        assert "js-plotly-plot" in plot.get_attribute("class"), "plotly never drew this chart"
        svg = plot.find_element(By.CSS_SELECTOR, "svg.main-svg")
        assert svg.size["width"] > 300 and svg.size["height"] > 200
        traces = plot.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace, .barlayer .trace")
        assert traces, "a chart without a drawn trace"
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    # offline: nothing on the page asked the network for anything
    requested = chrome.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [url for url in requested if url.startswith(("http:", "https:"))]
