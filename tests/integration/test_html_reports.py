"""The HTML reports' content without a browser: the decision first, SYNTHETIC labels, one embedded copy of
plotly.js and no network reference (offline), under 6 MB, the tables equal to the metric table's formatted cells,
--html on the commands, and the templates shipped as package data."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from fakes import reports as fixtures

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 6 * 1024 * 1024
PLOTLY_HEADER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")


class Tables(HTMLParser):
    """Every <table>'s cells by the table's id: {id: [[cell, ...], ...]} (header rows included)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id, self._row, self._cell = None, None, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._id = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self._row = []
            self.tables[self._id].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def phase1(tmp_path_factory):
    return fixtures.phase1_report(tmp_path_factory.mktemp("phase1"))


def offline_single_file(page: str) -> None:
    assert len(PLOTLY_HEADER.findall(page)) == 1  # one copy of the library per file
    assert len(page.encode()) < MAX_BYTES
    assert not re.search(r"<script[^>]+src=", page)  # everything inline
    from atb.reports.html import plotly_js

    ours = page.replace(plotly_js(), "")  # the library's own strings name its web site; the page links nothing
    assert not re.search(r"""(src|href)=["']https?:""", ours)  # no network at view time
    assert 'Plotly.newPlot' in page


def test_phase1_report_is_beside_the_markdown_and_listed(phase1):
    path, result = phase1
    assert path == path.parent / "phase1_report.html" and (path.parent / "phase1_report.md").is_file()
    assert result.files["html"] == path
    assert json.loads((path.parent / "phase1_results.json").read_text())["files"]["html"] == str(path)


def test_phase1_report_decision_first_labelled_synthetic_offline(phase1):
    path, result = phase1
    page = path.read_text(encoding="utf-8")
    offline_single_file(page)
    body = page[page.index("<body>"):]
    assert "SYNTHETIC" in re.search(r"<title>(.*)</title>", page).group(1)
    assert body.index('id="synthetic-label"') < body.index('id="decision"') < body.index('id="comparison-table"')
    assert html.escape(result.decision.headline, quote=False) in body
    for line in result.decision.lines()[1:3]:
        assert html.escape(line.strip().lstrip("- "), quote=False) in body
    for section in ("forecasts", "trading", "per-run", "runs", "provenance"):
        assert f'id="{section}"' in body
    assert body.count('class="plotly-graph-div"') == 3
    assert "git revision" in body and "torch version" in body and "onnxruntime version" in body


def test_phase1_tables_are_the_metric_tables_cells(phase1):
    from atb.benchmark.report import comparison_cells, run_cells, summary_cells, trading_cells
    from atb.evaluation.metric_table import COLUMNS

    path, result = phase1
    tables = Tables(path.read_text(encoding="utf-8")).tables
    summary = result.summary
    assert tables["comparison-table"] == [list(COLUMNS), *summary_cells(summary)]
    headers, rows = trading_cells(summary.trading)
    assert tables["trading-table"] == [headers, *rows]
    headers, rows = run_cells(result.records)
    assert tables["runs-table"] == [headers, *rows]
    # per fold and per seed: every seed's own table is there too
    seeds = [cells for cells in tables.values() if cells[1:] in [comparison_cells(c) for c in summary.per_seed]]
    assert len(seeds) == len(summary.per_seed) == 2


def test_backtest_html(tmp_path, atb_cli):
    from atb.backtest import run_backtest
    from atb.cli.backtest import STRATEGIES, table_cells
    from atb.registry.predictions import read_predictions
    from fakes.versions import write_version

    folder = write_version(tmp_path / "models", "2025-01-05_000000_tcn_default", architecture="tcn", n_test=150)
    out = tmp_path / "bt.html"
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path / "models"), "-v", folder.name,
                      "--html", str(out), "--json"])
    assert result.code == 0, result.err
    assert json.loads(result.out)["html"] == str(out)
    page = out.read_text(encoding="utf-8")
    offline_single_file(page)
    assert "SYNTHETIC" not in page.split("<body>")[1].split('id="provenance"')[0]  # a real-market version
    table = read_predictions(folder)
    expected = table_cells(run_backtest(table.test, table.validation))
    assert Tables(page).tables["metrics-table"] == [["after costs", *(h for _, h in STRATEGIES)], *expected]
    assert page.index('id="decision"') < page.index('id="metrics-table"')
    bad = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path / "models"), "--html", str(tmp_path / "x.png")])
    assert bad.code != 0 and "--html" in bad.err and len(bad.err.strip().splitlines()) == 1


def test_compare_html(tmp_path, atb_cli):
    from atb.evaluation.comparison import Entry, compare
    from atb.evaluation.metric_table import COLUMNS, cells

    out = fixtures.compare_report(tmp_path)
    page = out.read_text(encoding="utf-8")
    offline_single_file(page)
    versions = sorted((tmp_path / "models" / "BTCUSDT" / "price").iterdir())
    comparison = compare([Entry.from_version(v) for v in versions])
    assert Tables(page).tables["comparison-table"] == [list(COLUMNS), *(cells(r) for r in comparison.rows)]
    assert 'id="synthetic-label"' in page
    assert page.index('id="decision"') < page.index('id="comparison-table"')


def test_ab_html(tmp_path):
    from atb.reports.ab import write_ab_report
    from atb.serving.ab_report import ROLE_HEADERS, role_cells

    report = fixtures.ab_result()
    assert report.decision == "promote" and len(report.series) == report.n
    page = write_ab_report(tmp_path / "ab.html", report, synthetic=True).read_text(encoding="utf-8")
    offline_single_file(page)
    assert Tables(page).tables["roles-table"] == [list(ROLE_HEADERS), *(role_cells(r) for r in report.roles)]
    assert page.index("Decision: promote") < page.index('id="roles-table"')
    assert "series" not in report.to_dict()


def test_tune_html_from_the_show_summary(tmp_path):
    from atb.reports.tune import write_tune_report

    summary = fixtures.tune_summary()
    page = write_tune_report(summary, tmp_path / "tune.html", synthetic=True).read_text(encoding="utf-8")
    offline_single_file(page)
    best = summary["best"]
    assert f"Best trial #{best['number']}: objective {best['value']:.6g}" in page
    assert "14 trials: 10 complete, 3 pruned, 1 failed" in page
    trials = Tables(page).tables["trials-table"]
    assert len(trials) == 1 + len(summary["trials"]) and trials[0][:3] == ["#", "state", "value"]
    assert [row[1] for row in trials[1:]].count("PRUNED") == 3
    assert page.count('class="plotly-graph-div"') == 2  # history and importances
    # a study with no trial yet still gives a page; states may come as TrialState names
    empty = write_tune_report({"study": "s", "direction": "maximize", "trials": [], "best": None,
                               "importances": {}}, tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "No finished trial yet" in empty and 'id="synthetic-label"' not in empty
    odd = {**summary, "trials": [{**t, "state": f"TrialState.{t['state']}"} for t in summary["trials"]]}
    assert "3 pruned, 1 failed" in write_tune_report(odd, tmp_path / "odd.html").read_text(encoding="utf-8")


def test_templates_are_package_data():
    used = {p.name for p in (ROOT / "src" / "atb" / "reports" / "templates").glob("*.j2")}
    assert {"base.html.j2", "_macros.html.j2", *(f"{k}.html.j2" for k in fixtures.KINDS)} <= used
    shipped = {p.name for p in resources.files("atb.reports").joinpath("templates").iterdir()}
    assert used <= shipped
    assert '"atb.reports" = ["templates/*.j2"]' in (ROOT / "pyproject.toml").read_text()


def test_the_cli_does_not_import_the_report_libraries():
    code = ("import sys, atb.cli.main; heavy = {'plotly', 'jinja2', 'pandas'} & set(sys.modules); "
            "print(sorted(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_quick_benchmark_script_writes_the_html_report(tmp_path, data_dir):
    """scripts/phase1_benchmark.py --quick on the synthetic market, one small model (a few seconds)."""
    out = tmp_path / "artifacts"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "phase1_benchmark.py"), "--quick", "--data-source",
                           "synthetic", "--days", "7", "--epochs", "2", "--models", "tcn:lightweight", "--threads", "1",
                           "--output-dir", str(out), "--models-dir", str(tmp_path / "models"), "--no-db"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (out / "phase1_report.html").read_text(encoding="utf-8")
    offline_single_file(page)
    assert "SYNTHETIC" in page and page.count('class="plotly-graph-div"') == 3
