"""The signing key: no web server, worker or beat starts without one; commands that sign nothing
run anyway."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code, **env):
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    clean.update(DATABASE_URL="sqlite:///:memory:", DJANGO_SETTINGS_MODULE="alignment_service.settings", **env)
    command = [sys.executable, *code]
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)  # noqa: S603


def test_the_web_application_refuses_to_start_without_a_secret_key():
    refused = run(["-c", "import alignment_service.wsgi"])
    assert refused.returncode != 0
    assert "SECRET_KEY setting must not be empty" in refused.stderr

    started = run(["-c", "import alignment_service.wsgi"], DJANGO_SECRET_KEY="k" * 50)
    assert started.returncode == 0, started.stderr


def test_the_migrations_check_needs_no_secret_key():
    checked = run(["manage.py", "makemigrations", "--check", "--dry-run"])
    assert checked.returncode == 0, checked.stderr
    assert "No changes detected" in checked.stdout


def test_a_worker_refuses_to_start_without_a_secret_key():
    refused = run(
        ["-m", "celery", "-A", "alignment_service", "worker", "--pool", "solo"], CELERY_BROKER_URL="memory://"
    )
    assert refused.returncode == 1
    assert "Set DJANGO_SECRET_KEY" in refused.stderr
