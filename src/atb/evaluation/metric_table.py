"""Every metric that a table, report or JSON output shows, declared once: its key, header, unit, format, which
way is better and what it is compared with; and the columns of the comparison table built from them.

The key is the metric's name everywhere: in metadata.json's evaluation_results or performance, in the rows of
a comparison or benchmark summary (`row.value(key)`), in the run log's columns and in `--json` outputs. The
comparison table (`atb models compare`, `atb bench phase1`, phase1_report.md) and the narrower tables
(`atb models show`, `atb models list`, `atb runs list`) take their headers and formats from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

DASH = "—"  # a cell that does not apply (the naive row's p-values), or a value that is missing


def fmt_p(p: float | None) -> str:
    """A p-value: "n/a" when there is none (or NaN), "<0.001" below that, else three decimals."""
    if p is None or p != p:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_number(value: float | None, digits: int, std: float | None = None, sign: bool = False) -> str:
    """`value` with `digits` decimals (and `± std` across seeds when given); DASH for None or NaN."""
    if value is None or value != value:
        return DASH
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def fmt_signed_pct(value: float | None, std: float | None = None, digits: int = 1) -> str:
    """An improvement in percent: `+2.5%`, `-1.0 ± 0.3%`."""
    return fmt_number(value, digits, std, sign=True) + ("%" if value is not None and value == value else "")


@dataclass(frozen=True)
class Metric:
    key: str
    header: str  # the comparison table's column header
    unit: str  # "quote" (the quote currency, USDT for BTCUSDT), "%", "s", "ms"; "" for ratios, counts, p-values
    digits: int = 3  # decimals shown
    higher_is_better: bool | None = None  # None: not a score (a p-value, a count, a base rate)
    compared_with: str | None = None  # "naive", "baseline", "buy_and_hold": the reference this value is relative to
    # "number"; "pct_change" (+2.5%); "ratio_pct" (a ratio shown in %, signed); "fraction_pct" (a fraction shown
    # in %, unsigned: 12.3%); "p"; "count"; "interval" ([low, high])
    kind: str = "number"
    spread: bool = True  # shown with ± std across seeds
    short: str | None = None  # the header in narrow tables (`atb runs list`); default: header

    @property
    def short_header(self) -> str:
        return self.short or self.header

    def format(self, value: Any, std: float | None = None) -> str:
        std = std if self.spread else None
        if self.kind == "p":
            return fmt_p(value)
        if self.kind == "count":
            return DASH if value is None else f"{value:,}"
        if self.kind == "pct_change":
            return fmt_signed_pct(value, std, self.digits)
        if self.kind == "ratio_pct":
            return fmt_signed_pct(_percent(value), _percent(std), self.digits)
        if self.kind == "fraction_pct":
            text = fmt_number(_percent(value), self.digits, _percent(std))
            return text if text == DASH else f"{text}%"
        if self.kind == "interval":
            low, high = value if isinstance(value, (list, tuple)) and len(value) == 2 else (None, None)
            if low is None or high is None or low != low or high != high:
                return DASH
            return f"[{fmt_number(low, self.digits)}, {fmt_number(high, self.digits)}]"
        return fmt_number(value, self.digits, std)


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else 100 * ratio


METRICS = (
    Metric("test_rmse", "RMSE", "quote", 4, higher_is_better=False),
    Metric("test_mae", "MAE", "quote", 4, higher_is_better=False),
    Metric("mape", "MAPE %", "%", 3, higher_is_better=False, short="MAPE%"),
    Metric("directional_accuracy", "dir. acc. %", "%", 1, higher_is_better=True, short="Dir%"),
    Metric("predicted_up_pct", "up % fc", "%", 0),
    Metric("actual_up_pct", "up % act", "%", 0),
    Metric("directional_pt_p_value", "PT p", "", kind="p"),
    Metric("naive_test_rmse", "naive RMSE", "quote", 4, higher_is_better=False),
    Metric("rmse_skill_vs_naive", "skill vs naive", "%", 1, higher_is_better=True, compared_with="naive",
           kind="ratio_pct", short="Skill"),
    Metric("training_time_s", "fit s", "s", 1, higher_is_better=False, short="Fit s"),
    Metric("fit_s_per_1k_windows", "fit s/1k win", "s", 3, higher_is_better=False),
    Metric("inference_ms_p50", "ONNX p50 ms", "ms", 3, higher_is_better=False, spread=False),
    Metric("parameters", "params", "", higher_is_better=None, kind="count"),
    Metric("rmse_improvement_pct", "RMSE vs base", "%", 1, higher_is_better=True, compared_with="baseline",
           kind="pct_change"),
    Metric("dm_p_one_sided_vs_baseline", "DM p vs base", "", compared_with="baseline", kind="p"),
    Metric("dm_p_one_sided_vs_naive", "DM p vs naive", "", compared_with="naive", kind="p"),
)
METRIC = {m.key: m for m in METRICS}

# A backtest's trading metrics (atb.backtest.metrics defines them), as metadata.json's backtest.<strategy> objects
# and `atb backtest` name them; all after costs, Sharpe and Sortino annualised.
TRADING_METRICS = (
    Metric("total_return", "total return", "%", 2, higher_is_better=True, kind="ratio_pct"),
    Metric("annual_return", "annual return", "%", 1, higher_is_better=True, kind="ratio_pct"),
    Metric("annual_volatility", "annual volatility", "%", 1, higher_is_better=False, kind="fraction_pct"),
    Metric("sharpe", "Sharpe", "", 2, higher_is_better=True),
    Metric("sharpe_ci95", "Sharpe 95% CI", "", 2, kind="interval", spread=False),
    Metric("sortino", "Sortino", "", 2, higher_is_better=True),
    Metric("max_drawdown", "max drawdown", "%", 1, higher_is_better=False, kind="fraction_pct", short="MaxDD"),
    Metric("max_drawdown_bars", "max drawdown bars", "", 0, higher_is_better=False),  # a mean across seeds: 0 digits
    Metric("calmar", "Calmar", "", 2, higher_is_better=True),
    Metric("hit_rate", "hit rate", "%", 1, kind="fraction_pct"),
    Metric("profit_factor", "profit factor", "", 2, higher_is_better=True),
    Metric("n_trades", "trades", "", 0, short="Trades"),
    Metric("exposure_pct", "exposure %", "%", 1),
    Metric("turnover", "turnover / bar", "", 3),
    Metric("fees_paid", "fees paid", "%", 2, higher_is_better=False, kind="fraction_pct", short="Fees"),
)
# The strategy's Sharpe against the benchmarks' (atb.backtest.sharpe): probabilities that its true Sharpe is higher.
SHARPE_TESTS = (
    Metric("psr_vs_zero", "PSR vs 0", "", 3, higher_is_better=True, spread=False),
    Metric("psr_vs_buy_and_hold", "PSR vs buy-and-hold", "", 3, higher_is_better=True, spread=False,
           compared_with="buy_and_hold", short="PSR"),
    Metric("dsr", "deflated Sharpe (DSR)", "", 3, higher_is_better=True, spread=False),
)
TRADING_METRIC = {m.key: m for m in TRADING_METRICS + SHARPE_TESTS}
# The run log's columns and the benchmark's summary rows hold the strategy's figures as "backtest_<key>".
BACKTEST_PREFIX = "backtest_"
METRIC.update({BACKTEST_PREFIX + m.key: dataclasses.replace(m, key=BACKTEST_PREFIX + m.key)
               for m in TRADING_METRIC.values()})


class Scored(Protocol):
    """A row of a comparison: evaluation.comparison.Row (one seed) or benchmark.aggregate.SummaryRow."""

    label: str
    is_baseline: bool
    is_naive: bool
    dm_vs_baseline: dict | None

    @property
    def collapse_note(self) -> str: ...
    def value(self, key: str) -> Any: ...
    def spread(self, key: str) -> float | None: ...


@dataclass(frozen=True)
class Column:
    key: str  # a metric key, or the name of a composite column
    header: str
    cell: Callable[[Scored], str]


def metric_column(key: str, hide: Callable[[Scored], bool] | None = None) -> Column:
    """A column of one metric; `hide`: rows where it does not apply (shown as DASH)."""
    metric = METRIC[key]

    def cell(row: Scored) -> str:
        if hide is not None and hide(row):
            return DASH
        return metric.format(row.value(key), row.spread(key))

    return Column(key, metric.header, cell)


def _model(row: Scored) -> str:
    return row.label + (" (baseline)" if row.is_baseline else "") + row.collapse_note


def _direction(row: Scored) -> str:
    if row.is_naive:
        return DASH
    ci = row.value("directional_accuracy_ci95") or [None, None]
    acc = METRIC["directional_accuracy"]
    return (f"{acc.format(row.value(acc.key), row.spread(acc.key))} "
            f"[{fmt_number(ci[0], acc.digits)}, {fmt_number(ci[1], acc.digits)}]")


def _up_rates(row: Scored) -> str:
    """The forecast's and the market's share of up moves: the base rates beside a directional accuracy."""
    predicted = None if row.is_naive else row.value("predicted_up_pct")
    actual = row.value("actual_up_pct")
    return f"{METRIC['predicted_up_pct'].format(predicted)}/{METRIC['actual_up_pct'].format(actual)}"


def _naive(row: Scored) -> bool:
    return row.is_naive


COMPARISON_COLUMNS = (
    Column("model", "model", _model),
    metric_column("test_rmse"),
    metric_column("test_mae"),
    metric_column("mape"),
    Column("directional_accuracy", f"{METRIC['directional_accuracy'].header} [95% CI]", _direction),
    Column("up_rates", "up % fc/act", _up_rates),
    metric_column("directional_pt_p_value", hide=_naive),
    metric_column("training_time_s"),
    metric_column("fit_s_per_1k_windows"),
    metric_column("inference_ms_p50"),
    metric_column("parameters"),
    metric_column("rmse_improvement_pct", hide=lambda row: row.is_baseline),
    metric_column("dm_p_one_sided_vs_baseline", hide=lambda row: row.dm_vs_baseline is None),  # no test was run
    metric_column("dm_p_one_sided_vs_naive", hide=_naive),
)
COLUMNS = tuple(c.header for c in COMPARISON_COLUMNS)

# What the comparison table's columns mean: printed under it by `atb models compare` and in phase1_report.md.
TABLE_NOTES = (
    "RMSE/MAE in quote currency, MAPE and directional accuracy in %; directional accuracy counts the moves with "
    "a direction (actual close != last close), with a 95% Wilson interval.",
    "up % fc/act: the share of up forecasts and of up moves over the same scored moves (the base rates: an "
    "accuracy near the market's up share may only mean \"always up\"). PT p: Pesaran-Timmermann test, one-sided, "
    "H1: the forecast's up/down calls beat what the two base rates give by chance.",
    "fit s: fit time alone; fit s/1k win: fit time per 1,000 training windows processed (windows x epochs run), "
    "the speed criterion (early stopping makes total fit time a matter of when it stops). ONNX p50: one window, "
    "one thread, after warm-up.",
    "RMSE vs base: RMSE improvement over the CNN-LSTM baseline (positive = better). DM p: Diebold-Mariano test "
    "(squared error, HLN correction), one-sided, H1: the row's loss is lower than the baseline's (vs base) or "
    "naive persistence's (vs naive); its statistic is negative when the row's squared errors are smaller.",
    "A row marked [collapsed] forecasts (nearly) one sign or barely moves (>= 95% of forecasts on one side, or a "
    "forecast spread under 0.5% of the realised returns'): its scores say little about skill.",
)



def columns(*keys: str) -> tuple[Column, ...]:
    """The comparison table's columns with these keys, in this order."""
    by_key = {c.key: c for c in COMPARISON_COLUMNS}
    return tuple(by_key[k] for k in keys)


def cells(row: Scored, table: tuple[Column, ...] = COMPARISON_COLUMNS) -> list[str]:
    return [c.cell(row) for c in table]
