"""The Phase-1 benchmark: every architecture x seed x walk-forward fold trained (in-process, in worker processes or
as Ray tasks), compared with the CNN-LSTM baseline and naive persistence, judged by the guide's decision matrix.

    settings.py  presets and argument checks      plan.py      runs, seeds, fold ends
    runner.py    train_model per run, failures    aggregate.py mean ± std across seeds, pooled DM tests
    decision.py  Scenarios 1-5                    report.py    phase1_report.md
    plots.py     phase1_comparison.png            phase1.py    all of it, plus the files and the run log
    executors.py --workers / --ray: runs elsewhere, published and logged here
    grid.py      `atb bench grid`: phase1 per market (symbols x timeframes), one report

Progress reaches the command line through runner.Observer (cli/progress.py renders it).
"""
