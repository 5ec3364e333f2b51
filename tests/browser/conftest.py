"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright's sync API.

Playwright never downloads a browser here: it launches the executable that `make test` installs from Debian's
packages (chromium, chromium-driver). What is missing skips the tests on a laptop and fails them under CI=true,
as PostgreSQL does in tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).parent.parent.parent
NODE_MODULES = ROOT / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")
# The probe's flags. As root Chromium needs --no-sandbox; the network flags keep it from calling out of this
# closed network. Playwright adds --headless and a fresh, empty --user-data-dir of its own to every launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(message: str) -> NoReturn:
    """Skip a test whose browser or front-end package is missing; under CI=true fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing browser dependency is a failure; `make test` installs it)")
    pytest.skip(message + " (`make test` installs it)")


def node_module(relative: str) -> Path:
    """Return a file under node_modules/ (installed by `npm ci` from package-lock.json), or skip/fail."""
    path = NODE_MODULES / relative
    if not path.is_file():
        unavailable(f"node_modules/{relative} is missing: run `npm ci`")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package, one for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed: pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own browser context (no cookies or storage shared between tests)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
