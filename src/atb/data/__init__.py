"""Market data: candles from an exchange, a file or a synthetic market; cache and validation."""
