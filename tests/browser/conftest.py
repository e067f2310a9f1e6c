"""The browser test needs Debian's Chromium, the Playwright package and axe-core from npm.

Without them the test is skipped with the reason printed (`make test` on a laptop without
Chromium); `make check-browser` sets REQUIRE_BROWSER=1, so in CI a missing piece fails instead.
The live server listens on 127.0.0.1 only, and stops when the session ends.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not AXE.exists():
        return "axe-core is not installed (npm ci)"
    return None


@pytest.fixture
def browser_ready() -> str:
    reason = missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"The browser test must run here, but {reason}.")
        pytest.skip(f"browser test skipped: {reason}")
    path = chromium_path()
    assert path is not None
    return path
