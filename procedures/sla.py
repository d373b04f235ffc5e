"""Due-time arithmetic on calendars. Pure functions: no database, no clock.

A calendar here is anything with `is_24x7`, `timezone` (an IANA name), `working_hours`
({"mon": [["09:00", "17:00"], ...], ...}) and `holidays` (ISO dates).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Far enough to cross any run of holidays; a calendar with no working time at all is refused.
MAX_DAYS = 3 * 366


def _parse_time(text):
    hours, minutes = text.split(":")
    if hours == "24" and minutes == "00":
        return None  # end of day
    return time(int(hours), int(minutes))


def _local(day, clock, zone):
    if clock is None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    # Wall-clock times that fall in a DST gap are taken as the moment after the gap.
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def working_intervals(calendar, day):
    """The working intervals of one local date, as (start, end) in UTC."""
    if str(day) in set(calendar.holidays or ()):
        return []
    zone = ZoneInfo(calendar.timezone)
    spans = []
    for opens, closes in calendar.working_hours.get(WEEKDAYS[day.weekday()], ()):
        start, end = _local(day, _parse_time(opens), zone), _local(day, _parse_time(closes), zone)
        if end > start:
            spans.append((start, end))
    return sorted(spans)


def add_working_time(calendar, start, seconds):
    """The moment `seconds` of working time after `start` (an aware datetime), in UTC."""
    start = start.astimezone(UTC)
    if calendar.is_24x7:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)  # an interval may start the day before
    for _ in range(MAX_DAYS):
        for opens, closes in working_intervals(calendar, day):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("The calendar has no working time in the next three years.")


def working_seconds_between(calendar, start, end):
    """Working seconds from `start` to `end` (0 if end is not after start)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0
    if calendar.is_24x7:
        return int((end - start).total_seconds())
    zone = ZoneInfo(calendar.timezone)
    day: date = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    total = timedelta()
    while day <= last:
        for opens, closes in working_intervals(calendar, day):
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds())


def due_times(version, priority, created_at, held_seconds=0):
    """(response due, resolution due) for an incident of `priority` under `version`,
    moved on by the working time it has spent on hold."""
    response, resolution = version.targets_for(priority)
    calendar = version.calendar
    return (
        add_working_time(calendar, created_at, response + held_seconds),
        add_working_time(calendar, created_at, resolution + held_seconds),
    )
