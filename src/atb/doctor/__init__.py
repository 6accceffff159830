"""`atb doctor`: tell "there is no signal" from "there is a bug".

When no model beats naive persistence (the guide's Scenario 4), the market may be efficient or the pipeline may be
broken. The doctor runs atb's own pipeline on markets whose answer is known and audits what it wrote:

- ``data_quality``: the user's candles (gaps, zero volume, stale closes, return outliers, wicks, bad ticks);
- ``signal``: a synthetic market with a planted, known predictable component must be learnt (a stated share of
  the attainable skill, significant by the one-sided DM test) and not beaten (a model that beats the best
  possible forecast sees the future);
- ``placebo``: a market with no signal must show none (Holm across architectures);
- ``leakage``: a deliberately leaked input must be caught, and the pipeline's features must be causal on the
  user's candles (the truncation test);
- ``learning``: every architecture must be able to overfit a tiny subset;
- ``audit``: a model version's splits, scaler, closes and metrics must recompute from its files and the candles.

Each module returns typed results (``result.CheckResult``); ``runner.run_doctor`` runs them all into a temporary
registry, with no run log, and only the CLI (its doctor command) prints.
"""
