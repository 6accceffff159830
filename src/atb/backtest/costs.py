"""Trading costs and the length of a year in bars."""

from __future__ import annotations

from atb.backtest.protocol import DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS
from atb.errors import UsageError

__all__ = ["DEFAULT_FEE_BPS", "DEFAULT_SLIPPAGE_BPS", "SECONDS_PER_YEAR", "bars_per_year", "cost_per_unit"]

SECONDS_PER_YEAR = 365 * 86400  # crypto trades every day of the year: 1h -> 8,760 bars


def cost_per_unit(fee_bps: float, slippage_bps: float) -> float:
    """Cost of changing the position by 1 (a full entry or exit), as a fraction of equity."""
    if not (fee_bps >= 0 and slippage_bps >= 0):
        raise UsageError(f"fees and slippage must be >= 0 bps (got fee {fee_bps}, slippage {slippage_bps})")
    return (fee_bps + slippage_bps) / 10_000


def bars_per_year(timeframe: str) -> float:
    """365 days of candles of this timeframe (1h: 8,760; 4h: 2,190; 1d: 365; 1w: 365/7)."""
    from atb.data.timeframes import timeframe_seconds  # pandas: deferred, the CLI's help reads this module
    return SECONDS_PER_YEAR / timeframe_seconds(timeframe)
