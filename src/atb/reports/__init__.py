"""Self-contained HTML reports: one file per benchmark, backtest, comparison, A/B test or search, with the
plotting library embedded once (it opens offline). jinja2 templates under templates/, plotly figures from
figures.py, one module per report kind turning the existing result object into a template context.

Everything here imports plotly, jinja2 and pandas; callers import a report module inside the function that
writes the report, so that `atb --help` never pays for them.
"""
