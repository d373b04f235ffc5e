#!/usr/bin/env python
import os
import secrets
import sys

# Commands that read the code and sign nothing: a fresh checkout (no SECRET_KEY, DEBUG off)
# may run them. They get a throwaway key held in memory only; anything that serves, sends
# or signs still needs the operator's key.
CODE_ONLY_COMMANDS = {"makemigrations", "check", "showmigrations", "sqlmigrate", "help"}
# Of those, the ones that need no database of the operator's: without DATABASE_URL they get
# an empty SQLite database in memory (the default file under var/ may not exist, and
# nothing is to be created for them).
NO_DATABASE_COMMANDS = {"makemigrations", "check", "help"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    if len(sys.argv) > 1 and sys.argv[1] in CODE_ONLY_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    if len(sys.argv) > 1 and sys.argv[1] in NO_DATABASE_COMMANDS and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
