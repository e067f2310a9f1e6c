"""The detection benchmark (`bench.detection`) on a small seeded run: its targets hold."""

import pytest

from bench import detection


@pytest.fixture(scope="module")
def default_run():
    return detection.run(60, seed=7)


def test_the_engine_is_quiet_on_healthy_series_and_its_odds_beat_linear_pace(default_run):
    engine, pace = default_run
    assert engine.quiet_healthy >= 0.95
    assert pace.quiet_healthy >= 0.95
    assert engine.brier < pace.brier
    assert engine.missed_stalls == 0


def test_stalls_are_flagged_earlier_than_linear_pace_flags_them(default_run):
    engine, pace = default_run
    assert engine.lag_median <= 7
    assert engine.lag_median < pace.lag_median
    assert engine.flagged_within_7 > pace.flagged_within_7


def test_with_a_two_week_trend_nearly_every_stall_is_flagged_within_seven_days():
    engine, pace = detection.run(60, seed=7, forecast_window_days=14)
    assert engine.flagged_within_7 >= 0.9
    assert engine.lag_p90 <= 7
    assert engine.quiet_healthy >= 0.95
    assert engine.brier < pace.brier


def test_the_table_prints_both_columns(capsys):
    detection.main(["--size", "10"])
    out = capsys.readouterr().out
    assert "engine" in out
    assert "linear pace" in out
    assert "Brier score" in out
