"""Where the run log lives (atb.tracking.settings) and who wrote a run (atb.tracking.provenance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atb.tracking.errors import TrackingError, one_line
from atb.tracking.provenance import git_commit
from atb.tracking.settings import database_url, logging_enabled, masked, normalize_url, timeout_s

GUIDE_URL = "postgresql://trading_bot:dev_password_123@localhost:5432/ai_trading_bot"


def test_the_guides_url_gets_the_psycopg3_driver() -> None:
    url = normalize_url(GUIDE_URL)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "trading_bot", "dev_password_123", "localhost", 5432, "ai_trading_bot")
    assert normalize_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u:p@h/db?sslmode=require").query == {"sslmode": "require"}
    assert normalize_url("sqlite:///x.sqlite").drivername == "sqlite"


def test_masked_hides_the_password() -> None:
    text = masked(normalize_url(GUIDE_URL))
    assert text == "postgresql+psycopg://trading_bot:***@localhost:5432/ai_trading_bot"


def test_a_malformed_url_is_one_line_without_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "not a url with secret-password")
    with pytest.raises(TrackingError) as caught:
        database_url()
    assert "secret-password" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_default_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path))
    url = database_url()
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database) == tmp_path / "atb.sqlite"
    monkeypatch.setenv("DATABASE_URL", "  ")  # blank means unset
    assert database_url().get_backend_name() == "sqlite"


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("on", True), ("off", False), ("OFF", False),
                                                ("0", False), ("false", False)])
def test_atb_db_off_disables_logging(monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool) -> None:
    if value is None:
        monkeypatch.delenv("ATB_DB", raising=False)
    else:
        monkeypatch.setenv("ATB_DB", value)
    assert logging_enabled() is enabled


def test_timeout_falls_back_on_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_DB_TIMEOUT", "1.5")
    assert timeout_s() == 1.5
    for bad in ("soon", "-1", "0"):
        monkeypatch.setenv("ATB_DB_TIMEOUT", bad)
        assert timeout_s() == 3.0


def test_one_line_flattens_driver_messages() -> None:
    class Wrapped(Exception):
        orig = OSError("connection failed:\n  Connection refused\n\tIs the server running?")

    assert one_line(Wrapped("SELECT 1 ... (Background on this error at: https://sqlalche.me)")) == (
        "connection failed: Connection refused Is the server running?")


def test_git_commit_is_a_hash_or_none() -> None:
    commit = git_commit()
    assert commit is None or len(commit.removesuffix("-dirty")) == 40
