"""Due-time arithmetic on calendars. Pure functions: no database, no clock.

A calendar here is anything with `is_24x7`, `timezone` (an IANA name), `working_hours`
({"mon": [["09:00", "17:00"], ...], ...}) and `holidays` (ISO dates).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Far enough to cross any run of holidays; a calendar with no working time at all is refused.
MAX_DAYS = 3 * 366


def _parse_time(text):
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))  # "24:00" is the end of the day


def _offset_segments(zone, day):
    """UTC stretches of constant UTC offset that cover the local date `day`, as
    (start, end, offset). A DST change splits the day in two."""
    midnight = datetime.combine(day, time(0))
    lo = (midnight - timedelta(hours=15)).replace(tzinfo=UTC)
    hi = (midnight + timedelta(hours=39)).replace(tzinfo=UTC)
    first, last = lo.astimezone(zone).utcoffset(), hi.astimezone(zone).utcoffset()
    if first == last:
        return [(lo, hi, first)]
    # One change in the window: find it to the second.
    a, b = lo, hi
    while b - a > timedelta(seconds=1):
        mid = a + (b - a) / 2
        if mid.astimezone(zone).utcoffset() == first:
            a = mid
        else:
            b = mid
    change = b.replace(microsecond=0)
    return [(lo, change, first), (change, hi, last)]


def working_intervals(calendar, day):
    """The working intervals of one local date, as sorted (start, end) pairs in UTC.

    A minute is working when its local wall-clock time falls in one of the day's spans,
    so on DST days a span loses the hour that does not exist, or gains the hour that
    happens twice."""
    if str(day) in set(calendar.holidays or ()):
        return []
    spans = calendar.working_hours.get(WEEKDAYS[day.weekday()], ())
    if not spans:
        return []
    zone = ZoneInfo(calendar.timezone)
    midnight = datetime.combine(day, time(0), tzinfo=UTC)  # the wall clock, read as if UTC
    pieces = []
    for seg_start, seg_end, offset in _offset_segments(zone, day):
        for opens, closes in spans:
            start = max(midnight + _parse_time(opens) - offset, seg_start)
            end = min(midnight + _parse_time(closes) - offset, seg_end)
            if end > start:
                pieces.append((start, end))
    pieces.sort()
    merged = []
    for start, end in pieces:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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


@dataclass(frozen=True)
class _AroundTheClock:
    """The 24x7 calendar: every second counts (a major incident runs on it)."""

    is_24x7: bool = True
    slug: str = "24x7"
    timezone: str = "UTC"
    working_hours = None
    holidays = ()


AROUND_THE_CLOCK = _AroundTheClock()


@dataclass(frozen=True)
class SlaTimes:
    response_due_at: datetime
    resolve_due_at: datetime
    response_warn_at: datetime
    resolve_warn_at: datetime


def sla_times(version, priority, created_at, held_seconds=0, *, calendar=None):
    """Due and warning times for an incident of `priority` under `version`, moved on by
    the working time it has spent on hold. `calendar` replaces the version's (a major
    incident runs on `AROUND_THE_CLOCK`)."""
    response, resolution = version.targets_for(priority)
    calendar, share = calendar or version.calendar, version.warning_percent / 100

    def at(seconds):
        return add_working_time(calendar, created_at, seconds + held_seconds)

    return SlaTimes(
        response_due_at=at(response),
        resolve_due_at=at(resolution),
        response_warn_at=at(int(response * share)),
        resolve_warn_at=at(int(resolution * share)),
    )
