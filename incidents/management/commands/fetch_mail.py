"""`manage.py fetch_mail`: take the messages waiting in the IMAP mailbox of MAIL_IMAP_URL
(or --url) through email in; each is moved to the processed folder (or, failed, to the
failed folder with the reason) only after what it did is committed."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from incidents.inbound import imap


class Command(BaseCommand):
    help = "Take the messages waiting in the IMAP mailbox (MAIL_IMAP_URL) and move them to the processed or failed folder."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="imap:// or imaps://user:password@host[:port]/FOLDER "
                                                      "(default MAIL_IMAP_URL)")  # fmt: skip
        parser.add_argument("--limit", type=int, default=None, help="At most this many messages.")

    def handle(self, *args, url, limit, **options):
        url = url or settings.MAIL_IMAP_URL
        if not url:
            raise CommandError("No mailbox: set MAIL_IMAP_URL or give --url.")
        try:
            counts = imap.fetch(url=url, limit=limit)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        except (imap.imaplib.IMAP4.error, OSError) as error:
            raise CommandError(f"The mailbox did not answer as expected: {error}") from None
        total = sum(counts.values())
        detail = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        self.stdout.write(f"{total} message(s)" + (f": {detail}" if detail else ""))
