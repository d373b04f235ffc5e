"""Send the reporting reads to a read replica when one is configured.

Only querysets that ask for it (made with `db_manager(hints={"reporting": True})`, see
`reporting.metrics`) go to the `reporting` database; every other read and every write
stays on `default`. Without REPORTING_DATABASE_URL there is no `reporting` alias and
everything reads from `default`."""

from django.conf import settings

REPORTING = "reporting"


class ReportingRouter:
    def db_for_read(self, model, **hints):
        if hints.get(REPORTING) and REPORTING in settings.DATABASES:
            return REPORTING
        return None

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return True  # a replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPORTING  # the replica follows the primary; never migrate it
