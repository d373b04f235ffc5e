"""The peer in the side-by-side comparison (`benchmarks/run.py --peer helpdesk`): django-helpdesk,
the closest open-source service desk on the same stack (Django, DRF, PostgreSQL).

Everything it needs is made here and kept out of the repository (var/bench-peer/, git-ignored):

1. A throwaway venv with django-helpdesk (HELPDESK_VERSION, the newest 2.x; it brings the
   Django it pins), gunicorn and psycopg, installed with pip the first time.
2. A minimal Django project around it (settings, urls, wsgi; written by this module): the
   helpdesk app with its REST API on, DRF token authentication (one indexed lookup per
   request, like Firebreak's bearer tokens; no password hashing per request), mail to the
   dummy backend (Firebreak's creates queue their mail in the outbox and send nothing
   during the run either), per-queue staff permissions on (so one queue's engineer sees
   one queue, like Firebreak's team members).
3. Its own database (BENCH_PEER_DATABASE, default firebreak_bench_helpdesk) on the server of
   DATABASE_URL: migrate, six queues named like Firebreak's teams, an agent (superuser: sees
   every queue), an engineer with one queue's permission, their API tokens, then tickets
   topped up to the same count as Firebreak's data set with COPY, spread over a year like
   dataset.py's (about 3% open, the open ones recent), then VACUUM ANALYZE.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / "var" / "bench-peer"
VENV = PEER_DIR / "venv"
PROJECT = PEER_DIR / "project"
PYTHON = VENV / "bin" / "python"
GUNICORN = VENV / "bin" / "gunicorn"
HELPDESK_VERSION = "2.6.1"  # newest 2.x on PyPI; pins Django 6.1 (the same minor as ours)
REQUIREMENTS = [f"django-helpdesk=={HELPDESK_VERSION}", "gunicorn==27.0.1", "psycopg[binary]==3.3.9"]
QUEUES = ["service-desk", "infrastructure", "applications", "security", "networks", "facilities"]

SETTINGS = """\
import os
from urllib.parse import urlsplit

_url = urlsplit(os.environ["PEER_DATABASE_URL"])
SECRET_KEY = "bench-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "django.contrib.sites", "django.contrib.humanize", "rest_framework",
    "rest_framework.authtoken", "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "peerdesk.urls"
WSGI_APPLICATION = "peerdesk.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": _url.path.lstrip("/"),
    "USER": _url.username or "", "PASSWORD": _url.password or "", "HOST": _url.hostname or "",
    "PORT": _url.port or "", "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
STATIC_URL = "/static/"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
LOGIN_URL = "/login/"
HELPDESK_API_ENABLED = True
HELPDESK_ENABLE_PER_QUEUE_STAFF_PERMISSION = True
HELPDESK_TEAMS_MODE_ENABLED = False  # teams need pinax-teams; queues are the teams here
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
"""

URLS = """\
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("healthz", lambda request: HttpResponse("ok")),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

WSGI = """\
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerdesk.settings")
application = get_wsgi_application()
"""

# Runs in the peer's venv (its own Django): queues, people, tokens, then tickets by COPY.
SEED = r"""
import json, os, random, sys
from datetime import UTC, datetime, timedelta
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue, Ticket

target, queues = int(sys.argv[1]), json.loads(sys.argv[2])
User = get_user_model()
made = {}
for slug in queues:
    queue, _ = Queue.objects.get_or_create(
        slug=slug, defaults={"title": slug.replace("-", " ").title(), "allow_public_submission": False})
    made[slug] = queue.pk
agent, _ = User.objects.get_or_create(username="agent1", defaults={"is_staff": True, "is_superuser": True, "email": "agent1@example.org"})
engineer, _ = User.objects.get_or_create(username="engineer3", defaults={"is_staff": True, "email": "engineer3@example.org"})
infra = Queue.objects.get(slug="infrastructure")
engineer.user_permissions.add(Permission.objects.get(codename=infra.permission_name.split(".", 1)[1]))
tokens = {u.username: Token.objects.get_or_create(user=u)[0].key for u in (agent, engineer)}

have = Ticket.objects.count()
if have < target:
    rng = random.Random(13 + have)
    now = datetime.now(UTC)
    ids = list(made.values())
    weights = [25, 42, 15, 3, 10, 5]  # infrastructure about 42% of the open, as in dataset.py
    titles = ["Laptop will not power on", "VPN drops every few minutes", "Outlook crashes on start",
              "How do I map a network drive?", "Printer jams on every print job", "Website returns errors"]
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
        "COPY helpdesk_ticket (title, queue_id, created, modified, submitter_email, status, on_hold,"
        " description, resolution, priority, secret_key, assigned_to_id) FROM STDIN"
    ) as copy:
        for n in range(have, target):
            age = (1 - n / target) * 365  # oldest first, like dataset.py
            created = now - timedelta(days=age, seconds=rng.randint(0, 3600))
            open_ = rng.random() < (0.5 if age < 21 else 0.005)  # about 3% open, the open ones recent
            status = (1 if rng.random() < 0.9 else 2) if open_ else (4 if rng.random() < 0.8 else 3)
            copy.write_row((
                f"{titles[n % len(titles)]} ({n})", rng.choices(ids, weights)[0], created,
                created + timedelta(hours=rng.randint(1, 72)), f"reporter{n % 400}@example.org",
                status, False, "Raised by the benchmark. It started this morning and affects my whole team.",
                None if open_ else "Fixed.", rng.randint(1, 5), f"{n:032x}",
                engineer.pk if open_ and rng.random() < 0.3 else None,
            ))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE helpdesk_ticket")
opened = Ticket.objects.filter(status__in=(1, 2))
print(json.dumps({
    "tickets": Ticket.objects.count(), "open": opened.count(),
    "infrastructure_open": opened.filter(queue=infra).count(), "queues": made, "tokens": tokens,
    "watermark": Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
}))
"""


def log(message):
    print(f"[peer] {message}", file=sys.stderr, flush=True)


def ensure_venv():
    """The throwaway venv with django-helpdesk, made once (again when the version changes)."""
    stamp = VENV / f".helpdesk-{HELPDESK_VERSION}"
    if stamp.exists():
        return
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    if not PYTHON.exists():
        log(f"creating {VENV.relative_to(ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log(f"pip install {' '.join(REQUIREMENTS)}")
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
    )
    stamp.touch()


def write_project():
    package = PROJECT / "peerdesk"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in {"__init__.py": "", "settings.py": SETTINGS, "urls.py": URLS, "wsgi.py": WSGI,
                       "seed.py": SEED}.items():  # fmt: skip
        path = package / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def environment(peer_url):
    return {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH"}},
        "PEER_DATABASE_URL": peer_url,
        "DJANGO_SETTINGS_MODULE": "peerdesk.settings",
        "PYTHONPATH": str(PROJECT),
        "PYTHONUNBUFFERED": "1",
    }


def database_name():
    return os.environ.get("BENCH_PEER_DATABASE") or "firebreak_bench_helpdesk"


def prepare(peer_url, tickets):
    """Venv, project, database, people, tokens and `tickets` tickets; returns the seed's JSON."""
    ensure_venv()
    write_project()
    env = environment(peer_url)
    log("migrate")
    subprocess.run(
        [str(PYTHON), "-m", "django", "migrate", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True
    )
    log(f"seed: {tickets} tickets")
    result = subprocess.run(
        [str(PYTHON), str(PROJECT / "peerdesk" / "seed.py"), str(tickets), json.dumps(QUEUES)],
        cwd=PROJECT, env=env, check=True, text=True, stdout=subprocess.PIPE, timeout=3600,
    )  # fmt: skip
    seeded = json.loads(result.stdout)
    log(f"{seeded['tickets']} tickets, {seeded['open']} open, {seeded['infrastructure_open']} in infrastructure")
    return seeded


def server_command(workers, port):
    return [
        str(GUNICORN), "peerdesk.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
        "--log-level", "warning", "--timeout", "60",
    ]  # fmt: skip


CREATE_TITLES = ["Laptop will not power on", "VPN drops every few minutes", "Outlook crashes on start",
                 "How do I map a network drive?", "Payroll application shows error 500", "Website returns errors"]  # fmt: skip


def scenarios(seeded):
    """The comparison's three scenarios in django-helpdesk's REST API."""
    agent = {"Authorization": f"Token {seeded['tokens']['agent1']}"}
    engineer = {"Authorization": f"Token {seeded['tokens']['engineer3']}"}
    queues = list(seeded["queues"].values())
    return {
        "create": [
            {
                "method": "POST", "path": "/api/tickets/", "headers": agent,
                "body": {
                    "queue": queues[n % len(queues)], "title": f"{CREATE_TITLES[n % len(CREATE_TITLES)]} (bench {n})",
                    "description": "Raised by the benchmark. It started this morning and affects my whole team.",
                    "submitter_email": f"reporter{n}@example.org", "priority": 1 + n % 5,
                },
            }
            for n in range(60)
        ],  # fmt: skip
        "open": [{"method": "GET", "path": "/api/tickets/?status=1,2", "headers": agent}],
        "team open": [{"method": "GET", "path": "/api/tickets/?status=1,2", "headers": engineer}],
    }


def cleanup(connect, peer_url, watermark):
    """Delete the tickets the run created (and the rows pointing at them)."""
    with connect(peer_url, autocommit=True) as conn:
        children = conn.execute(
            """
            SELECT cl.relname, a.attname FROM pg_constraint c
            JOIN pg_class cl ON cl.oid = c.conrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = 'helpdesk_ticket'::regclass
            """
        ).fetchall()
        grandchildren = conn.execute(
            """
            SELECT cl.relname, a.attname FROM pg_constraint c
            JOIN pg_class cl ON cl.oid = c.conrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = 'helpdesk_followup'::regclass
            """
        ).fetchall()
        with conn.transaction():
            for table, column in grandchildren:
                conn.execute(
                    f'DELETE FROM "{table}" WHERE "{column}" IN '  # noqa: S608 - names from the catalogue
                    "(SELECT id FROM helpdesk_followup WHERE ticket_id > %s)",
                    [watermark],
                )
            for table, column in children:
                conn.execute(f'DELETE FROM "{table}" WHERE "{column}" > %s', [watermark])  # noqa: S608
            deleted = conn.execute("DELETE FROM helpdesk_ticket WHERE id > %s", [watermark]).rowcount
        conn.execute("VACUUM ANALYZE helpdesk_ticket, helpdesk_followup")
    log(f"cleanup: deleted the {deleted} tickets this run created")
