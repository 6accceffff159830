"""The metric table: one p-value format, one format per metric, the comparison columns for one seed and for
a summary across seeds; and no library module imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from atb.evaluation.metric_table import COLUMNS, METRIC, METRICS, cells, fmt_p

SRC = Path(__file__).resolve().parents[2] / "src" / "atb"


@pytest.mark.parametrize(("p", "text"), [(None, "n/a"), (float("nan"), "n/a"), (0.0004, "<0.001"),
                                         (0.0123, "0.012"), (1.0, "1.000")])
def test_one_p_value_format(p, text):
    assert fmt_p(p) == text


@pytest.mark.parametrize(("key", "value", "std", "text"), [
    ("test_rmse", 12.345678, None, "12.3457"),
    ("test_rmse", 12.345678, 0.5, "12.3457 ± 0.5000"),
    ("test_rmse", None, None, "—"),
    ("test_rmse", float("nan"), None, "—"),
    ("mape", 0.12345, None, "0.123"),
    ("directional_accuracy", 52.25, 1.0, "52.2 ± 1.0"),
    ("rmse_improvement_pct", 2.46, 0.31, "+2.5 ± 0.3%"),
    ("rmse_improvement_pct", -1.0, None, "-1.0%"),
    ("rmse_skill_vs_naive", 0.0096, None, "+1.0%"),  # a ratio, shown in percent
    ("parameters", 10657, None, "10,657"),
    ("inference_ms_p50", 0.0196, 0.002, "0.020"),  # latency: no spread across seeds
    ("dm_p_one_sided_vs_naive", 0.02, None, "0.020"),
])
def test_each_metric_formats_itself(key, value, std, text):
    assert METRIC[key].format(value, std) == text


def test_every_metric_declares_what_it_is():
    for m in METRICS:
        assert m.unit in ("quote", "%", "s", "ms", ""), m.key
        assert m.compared_with in (None, "naive", "baseline"), m.key
        assert m.kind in ("number", "pct_change", "ratio_pct", "p", "count"), m.key
    assert METRIC["test_rmse"].higher_is_better is False and METRIC["directional_accuracy"].higher_is_better
    assert METRIC["mape"].short_header == "MAPE%" and METRIC["test_rmse"].short_header == "RMSE"


def test_the_comparison_columns_are_the_ones_the_reports_have_always_had():
    assert COLUMNS == ("model", "RMSE", "MAE", "MAPE %", "dir. acc. % [95% CI]", "up % fc/act", "PT p", "fit s",
                       "fit s/1k win", "ONNX p50 ms", "params", "RMSE vs base", "DM p vs base", "DM p vs naive")


class Row:
    """A stand-in for a comparison or summary row (the Scored protocol)."""

    def __init__(self, values, std=None, *, naive=False, baseline=False, tested=True, note=""):
        self.label, self.is_naive, self.is_baseline = "tcn (default)", naive, baseline
        self.dm_vs_baseline = {} if tested else None
        self.collapse_note = note
        self._values, self._std = values, std or {}

    def value(self, key):
        return self._values.get(key)

    def spread(self, key):
        return self._std.get(key)


VALUES = {"test_rmse": 10.0, "test_mae": 8.0, "mape": 0.1, "directional_accuracy": 55.0,
          "directional_accuracy_ci95": [50.0, 60.0], "predicted_up_pct": 48.0, "actual_up_pct": 51.0,
          "directional_pt_p_value": 0.2, "training_time_s": 3.0, "fit_s_per_1k_windows": 0.5,
          "inference_ms_p50": 0.1, "parameters": 1000, "rmse_improvement_pct": 2.0,
          "dm_p_one_sided_vs_baseline": 0.04, "dm_p_one_sided_vs_naive": 0.3}


def test_cells_of_a_row_across_seeds():
    row = Row(VALUES, {"test_rmse": 0.5, "directional_accuracy": 2.0, "inference_ms_p50": 0.01},
              note=" [collapsed: 1/3 seeds]")
    assert cells(row) == ["tcn (default) [collapsed: 1/3 seeds]", "10.0000 ± 0.5000", "8.0000", "0.100",
                          "55.0 ± 2.0 [50.0, 60.0]", "48/51", "0.200", "3.0", "0.500", "0.100", "1,000", "+2.0%",
                          "0.040", "0.300"]


def test_what_does_not_apply_is_a_dash():
    naive = Row({"test_rmse": 11.0, "actual_up_pct": 51.0}, naive=True, tested=False)
    assert cells(naive)[4:] == ["—", "—/51", "—", "—", "—", "—", "—", "—", "—", "—"]
    baseline = Row(VALUES, baseline=True, tested=False)
    assert cells(baseline)[0] == "tcn (default) (baseline)" and cells(baseline)[-3:-1] == ["—", "—"]
    untested = Row({**VALUES, "dm_p_one_sided_vs_baseline": None})
    assert cells(untested)[-2] == "n/a"  # a test was run, its p-value is undefined


def test_no_library_module_imports_the_cli():
    offenders = []
    for path in SRC.rglob("*.py"):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        if module.startswith("atb.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{module} -> {n}" for n in names if n == "atb.cli" or n.startswith("atb.cli.")]
    assert offenders == []
