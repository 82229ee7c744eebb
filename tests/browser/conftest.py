"""Browser fixtures: Debian's Chromium through async Playwright, against the real Daphne of
tests/conftest.py (`daphne_url`). Never `playwright install`: the executable is the system one.
"""

import contextlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_asyncio

from tests.browser.offline import CHROMIUM_FLAGS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"


@contextlib.asynccontextmanager
async def launched_chromium():
    """Debian's Chromium through Playwright (never `playwright install`)."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        from tests.conftest import require_program

        require_program("chromium", "apt-get install chromium")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def browser():
    async with launched_chromium() as b:
        yield b


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium():
    """One Chromium for a whole module (its tests mark `asyncio(loop_scope="module")` and open
    a context per person), to keep the run short."""
    async with launched_chromium() as b:
        yield b


@pytest.fixture
def site(daphne_url):
    """The real server, once it serves the page's static files (the page is nothing without)."""
    try:
        with urllib.request.urlopen(f"{daphne_url}/static/playground/ui.js", timeout=5) as r:
            ok = r.status == 200 and b"RoomSocket" in r.read()
    except urllib.error.HTTPError:
        ok = False
    if not ok:
        pytest.fail(
            "Daphne does not serve /static/playground/ui.js: the ASGI application must serve "
            "static files (playground/asgi.py's StaticFiles, WhiteNoise around the HTTP app) "
            "from the STATIC_ROOT `manage.py collectstatic` filled (DJANGO_STATIC_ROOT)"
        )
    return daphne_url


@pytest.fixture
def artifacts():
    """Where screenshots go (gitignored); each test prints the paths it saved."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if os.environ.get("PLAYGROUND_CLEAN_ARTIFACTS"):
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS
