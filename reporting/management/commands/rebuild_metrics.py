"""Rebuild the metrics' daily roll-ups for a range of days (after an import, a restore,
a change of TIME_ZONE, or to fill history the beat job has not reached yet)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reporting import rollups


class Command(BaseCommand):
    help = (
        "Rebuild the metrics roll-ups of every day from --from to --to, both included (reporting.MetricsDay), "
        "and the histograms of the months they touch that are over (reporting.MetricsMonth)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", help="YYYY-MM-DD (default: --days before --to)")
        parser.add_argument("--to", dest="last", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--days", type=int, default=rollups.KEEP_DAYS, help="how many days when --from is not given")

    def handle(self, *args, first=None, last=None, days=None, **options):
        last = _date("--to", last) if last else timezone.localdate()
        first = _date("--from", first) if first else last - timedelta(days=days - 1)
        if last < first:
            raise CommandError("--to must be on or after --from.")
        # One transaction a calendar month (its days, and its histograms once it is over),
        # so a year never holds one long lock and no month is built twice.
        built, day = 0, first
        while day <= last:
            end = min(last, rollups.next_month(day) - timedelta(days=1))
            built += rollups.rebuild(day, end)
            day = end + timedelta(days=1)
        rollups.analyze()  # a bulk rebuild changes the tables' statistics at once
        self.stdout.write(f"Rebuilt the metrics roll-ups of {built} days, {first} to {last}.")


def _date(option, raw):
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{option}: enter a date as YYYY-MM-DD.") from None
