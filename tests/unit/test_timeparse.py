"""One reading of command-line dates for every command: a bare date as an end includes its whole day."""

from __future__ import annotations

import pandas as pd
import pytest

from atb.data.timeparse import parse_time
from atb.errors import UsageError


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("2022-12-30", True, "2022-12-30T23:59:59.999999999Z"),  # the candle opening 23:00 is in
    ("2022-12-30", False, "2022-12-30T00:00Z"),  # as a start: the day begins at 00:00
    (" 2022-12-30T12:00 ", True, "2022-12-30T12:00Z"),  # a time means that time
    ("2022-12-30T12:00+02:00", True, "2022-12-30T10:00Z"),  # a named zone is converted to UTC
])
def test_dates_and_times(text, end, expected):
    assert parse_time(text, "--end-date", end=end) == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["someday", "2022-13-01", ""])
def test_unreadable_text_is_one_usage_error(text):
    with pytest.raises(UsageError, match=f"--end: cannot read {text!r} as a date; use YYYY-MM-DD or an ISO time"):
        parse_time(text, "--end", end=True)

