"""The backtest's settings, declared once; plain constants, so that the CLI's help can name them without
loading numpy."""

MODES = ("long_flat", "long_short")  # long or flat; long, short, or flat inside the no-trade band
DEFAULT_MODE = MODES[0]
DEFAULT_FEE_BPS = 10.0  # Binance spot taker fee, 0.10%
DEFAULT_SLIPPAGE_BPS = 2.0
SUPPORTED_HORIZON = 1  # a position lasts one bar
