"""Walk-forward folds on candles with holes: explicit test intervals that tile the tested span, and the
runs' real datasets (built as the pipeline builds them, without training) test each target time once."""

from __future__ import annotations

import pandas as pd
import pytest

from atb.benchmark.plan import bars_per_test_split, make_folds, make_plan, resolve_last_candle, train_request
from atb.benchmark.settings import make_settings
from atb.training.pipeline import prepare_data
from fakes.candles import gappy_candle_file, valid_target_times

HOUR = pd.Timedelta(hours=1)
FOLDS = 3


@pytest.mark.parametrize("holes", [
    [(30, 33), (400, 402)],  # inside the newest fold's test interval, and in the training span
    [(240, 242), (500, 510)],  # inside the oldest fold's test interval (the middle one keeps 11 windows)
])
def test_fold_test_intervals_tile_the_span_and_each_target_time_is_tested_once(tmp_path, holes):
    path, candles = gappy_candle_file(tmp_path, holes)
    settings = make_settings(quick=False, full=True, seeds=1, models="tcn:lightweight", walk_forward=FOLDS,
                             data_file=path, log_to_db=False)
    last = resolve_last_candle(settings)
    assert last == candles["open_time"].iloc[-1]
    folds = make_folds(settings, last)
    length = bars_per_test_split(settings)  # 109 bars for 30 days
    # The planned test intervals: consecutive, disjoint, each `length` bars long, the newest ending at `last`.
    assert folds[-1].end == last
    for fold in folds:
        assert fold.end - fold.test_start == (length - 1) * HOUR
    for older, newer in zip(folds, folds[1:], strict=False):
        assert newer.test_start == older.end + HOUR

    # The runs' actual test target times, from the datasets their training would use.
    tested: list[pd.Series] = []
    for spec in make_plan(settings, last):
        candles_seen, dataset = prepare_data(train_request(settings, spec))
        fold = folds[spec.fold - 1]
        times = dataset.target_times("test")
        assert times.min() >= fold.test_start and times.max() <= fold.end
        # train and validation end before the test interval (purge: horizon - 1 = 0 windows)
        assert dataset.target_times("validation").max() < fold.test_start
        assert dataset.target_times("train").max() < dataset.target_times("validation").min()
        tested.append(times)
    every = pd.concat(tested, ignore_index=True)
    assert not every.duplicated().any(), "a target time is tested by two folds"
    # ... and none is left out: the folds together test every valid target time of the span.
    assert set(every) == valid_target_times(candles, folds[0].test_start)
