"""`manage.py receive_email`: one message on stdin, as Postfix's or Exim's pipe hands it
over; the same code path as the API's email in. Exit codes an MTA understands
(sysexits.h): 0 taken (ignored and failed messages too: they are recorded), 65
EX_DATAERR for bytes that are not a message (the MTA bounces it), 75 EX_TEMPFAIL when the
database (or anything else) is not there just now (the MTA keeps it and tries again)."""

import logging
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError, OperationalError

from incidents.inbound import mail
from incidents.models import InboundMessage

logger = logging.getLogger(__name__)
EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Take one email message from stdin (for an MTA's pipe): exit 0 taken, 65 not a message, 75 try again later."

    def handle(self, *args, **options):
        from django.conf import settings

        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        raw = stdin.read(settings.MAIL_MAX_BYTES + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            row = mail.receive(raw, via=InboundMessage.Via.PIPE)
        except mail.BadMessage as error:
            raise CommandError(error.message, returncode=EX_DATAERR) from None
        except (OperationalError, InterfaceError) as error:
            raise CommandError(f"The database is not available ({error}); try again later.",
                               returncode=EX_TEMPFAIL) from None  # fmt: skip
        except Exception as error:  # noqa: BLE001 - never lose a message to a bug: the MTA keeps it
            logger.exception("receive_email failed; the MTA will try again.")
            raise CommandError(f"Could not take the message ({type(error).__name__}); try again later.",
                               returncode=EX_TEMPFAIL) from None  # fmt: skip
        answer = mail.answer(row)
        words = [answer["state"], answer["outcome"] or "", answer["reference"] or "", answer["reason"] or ""]
        if answer["duplicate"]:
            words.insert(0, "duplicate")
        self.stdout.write(" ".join(word for word in words if word))
