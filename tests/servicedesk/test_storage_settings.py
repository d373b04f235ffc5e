"""Where attachments are stored: local files by default, an S3-compatible bucket when
S3_BUCKET is set (the backend itself is the optional `s3` extra, not needed here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = "import json; from django.conf import settings; print(json.dumps([settings.STORAGES['default'], str(settings.MEDIA_ROOT)]))"


def _manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "MEDIA_", "ATTACHMENT_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, "SECRET_KEY": "x" * 50, "DEBUG": "false", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_local_files_under_var_media_by_default(tmp_path):
    result = _manage("shell", "-c", SHOW, FIREBREAK_VAR_DIR=str(tmp_path), DATABASE_URL="sqlite:///:memory:")
    storage, media_root = json.loads(result.stdout.strip().splitlines()[-1])
    assert storage == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert media_root == str(tmp_path / "media")


def test_an_s3_compatible_bucket_from_the_environment():
    result = _manage(
        "shell", "-c", SHOW, DATABASE_URL="sqlite:///:memory:", S3_BUCKET="firebreak-files",
        S3_ENDPOINT_URL="http://127.0.0.1:9000", S3_REGION="eu-west-2", S3_ACCESS_KEY_ID="minio",
        S3_SECRET_ACCESS_KEY="minio-secret", S3_PREFIX="desk",
    )  # fmt: skip
    storage, _ = json.loads(result.stdout.strip().splitlines()[-1])
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"] == {
        "bucket_name": "firebreak-files", "endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-2",
        "access_key": "minio", "secret_key": "minio-secret", "location": "desk", "default_acl": "private",
        "file_overwrite": False, "querystring_auth": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ATTACHMENT_MAX_BYTES", "ten megabytes"), ("ATTACHMENT_MAX_INCIDENT_BYTES", "10"),
     ("ATTACHMENT_MAX_EXPANDED_BYTES", "-1"), ("S3_ENDPOINT_URL", "minio:9000")],
)
def test_a_bad_value_stops_start_up_naming_it(variable, value):
    result = _manage("check", DATABASE_URL="sqlite:///:memory:", S3_BUCKET="b", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("scanner", "swept"), [("", False), ("tests.incidents.test_services_attachments.clean_scanner", True)])
def test_beat_sweeps_attachment_scans_only_while_a_scanner_is_set(settings, scanner, swept):
    from types import SimpleNamespace

    from servicedesk.celery import _schedule

    settings.ATTACHMENT_SCANNER = scanner
    sender = SimpleNamespace(conf=SimpleNamespace(beat_schedule=None))
    _schedule(sender)
    assert ("scan-attachments" in sender.conf.beat_schedule) is swept
    assert "sweep-outbox" in sender.conf.beat_schedule
