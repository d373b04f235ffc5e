"""The due-time arithmetic against a simple independent reference: walk minute by minute
and count the minutes whose local wall-clock time is working time."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedures.sla import WEEKDAYS, add_working_time, working_intervals, working_seconds_between

MINUTE = timedelta(minutes=1)
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def calendar(zone="Europe/London", hours=None, holidays=(), around_the_clock=False):
    return SimpleNamespace(
        timezone=zone, working_hours=hours or {}, holidays=list(holidays), is_24x7=around_the_clock
    )


def is_working(cal, moment):
    local = moment.astimezone(ZoneInfo(cal.timezone))
    if cal.is_24x7:
        return True
    if local.date().isoformat() in cal.holidays:
        return False
    clock = local.strftime("%H:%M")
    return any(opens <= clock < closes for opens, closes in cal.working_hours.get(WEEKDAYS[local.weekday()], ()))


def reference_due(cal, start, minutes, pauses=()):
    t, counted = start, 0
    while True:
        paused = any(a <= t < b for a, b in pauses)
        if not paused and is_working(cal, t):
            counted += 1
            if counted == minutes:
                return t + MINUTE
        t += MINUTE


def reference_between(cal, start, end):
    t, counted = start, 0
    while t < end:
        counted += is_working(cal, t)
        t += MINUTE
    return counted * 60


half_hours = st.integers(0, 47).map(lambda n: f"{n // 2:02d}:{n % 2 * 30:02d}")


@st.composite
def spans(draw):
    a, b = sorted(draw(st.lists(st.integers(0, 48), min_size=2, max_size=2, unique=True)))
    fmt = lambda n: "24:00" if n == 48 else f"{n // 2:02d}:{n % 2 * 30:02d}"  # noqa: E731
    return [fmt(a), fmt(b)]


@st.composite
def calendars(draw):
    hours = {}
    for day in WEEKDAYS:
        day_spans = sorted(draw(st.lists(spans(), max_size=2)))
        merged = []
        for opens, closes in day_spans:
            if merged and opens <= merged[-1][1]:
                continue  # keep spans apart, as validation requires
            merged.append([opens, closes])
        if merged:
            hours[day] = merged
    if not hours:
        hours["wed"] = [["09:00", "17:00"]]
    holidays = draw(st.lists(st.dates(date(2026, 3, 1), date(2026, 4, 15)).map(str), max_size=3))
    return calendar(draw(st.sampled_from(ZONES)), hours, holidays)


# Starts around the March and October DST changes in Europe, the US and Australia.
starts = st.one_of(
    # hypothesis takes naive bounds; the values are made aware just below
    st.datetimes(datetime(2026, 3, 5), datetime(2026, 4, 8)),  # noqa: DTZ001
    st.datetimes(datetime(2026, 9, 28), datetime(2026, 11, 5)),  # noqa: DTZ001
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cal=calendars(), start=starts, minutes=st.integers(1, 2 * 24 * 60))
def test_due_time_matches_minute_by_minute_reference(cal, start, minutes):
    assert add_working_time(cal, start, minutes * 60) == reference_due(cal, start, minutes)


@PROPERTY
@given(cal=calendars(), start=starts, length=st.integers(0, 5 * 24 * 60))
def test_working_seconds_between_matches_reference(cal, start, length):
    end = start + timedelta(minutes=length)
    assert working_seconds_between(cal, start, end) == reference_between(cal, start, end)


@PROPERTY
@given(
    cal=calendars(), start=starts, minutes=st.integers(1, 24 * 60),
    pause_at=st.integers(0, 3 * 24 * 60), pause_for=st.integers(1, 3 * 24 * 60),
)  # fmt: skip
def test_a_pause_moves_the_due_time_by_the_working_time_paused(cal, start, minutes, pause_at, pause_for):
    unpaused = reference_due(cal, start, minutes)
    pause = (start + timedelta(minutes=pause_at), start + timedelta(minutes=pause_at + pause_for))
    if pause[0] >= unpaused:
        return  # a pause after the due time cannot move it
    held = working_seconds_between(cal, *pause)
    assert add_working_time(cal, start, minutes * 60 + held) == reference_due(cal, start, minutes, [pause])


OFFICE = calendar("Europe/London", {d: [["09:00", "17:00"]] for d in WEEKDAYS[:5]})


def london(*args):
    return datetime(*args, tzinfo=ZoneInfo("Europe/London"))


def test_friday_evening_rolls_over_the_weekend():
    # 17:55 on a Friday, one hour of working time: 09:55 on Monday.
    assert add_working_time(OFFICE, london(2026, 11, 27, 16, 55), 3600) == london(2026, 11, 30, 9, 55)
    assert add_working_time(OFFICE, london(2026, 11, 27, 17, 55), 3600) == london(2026, 11, 30, 10, 0)


def test_march_dst_change_in_london():
    # Clocks go forward on Sunday 29 March 2026; office hours stay 09:00-17:00 local.
    due = add_working_time(OFFICE, london(2026, 3, 27, 16, 0), 2 * 3600)
    assert due == london(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC).hour == 9  # BST: 10:00 local is 09:00 UTC


def test_night_span_on_the_dst_days_loses_and_gains_an_hour():
    nights = calendar("Europe/London", {d: [["00:00", "03:00"]] for d in WEEKDAYS})
    assert working_intervals(nights, date(2026, 3, 29)) == [
        (datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, 0, tzinfo=UTC))
    ]  # 00:00-01:00 GMT and 02:00-03:00 BST: two hours
    assert sum((b - a for a, b in working_intervals(nights, date(2026, 10, 25))), timedelta()) == timedelta(hours=4)


def test_holidays_are_skipped():
    christmas = calendar("Europe/London", OFFICE.working_hours, ["2026-12-25"])
    assert add_working_time(christmas, london(2026, 12, 24, 16, 0), 2 * 3600) == london(2026, 12, 28, 10, 0)


def test_24x7_counts_every_second():
    cal = calendar(around_the_clock=True)
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert add_working_time(cal, start, 7200) == start + timedelta(hours=2)


def test_calendar_without_working_time_is_refused():
    with pytest.raises(ValueError, match="no working time"):
        add_working_time(calendar("UTC", {}), datetime(2026, 1, 1, tzinfo=UTC), 60)
