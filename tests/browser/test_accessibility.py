"""Accessibility (issue 13): axe-core, the npm package (package.json; `.ci/run` installs it),
injected into each page by the test, finds no serious or critical violation on the gallery, a
room while it runs, the embedded room, a replay, and the admin (its login, index, the
scenarios' list, a built-in's read-only form and a fork's editable one), each in the light and
the dark colour scheme: contrast is checked against the colours the scheme actually paints.

Debian's Chromium against the real Daphne; one browser for the module, a context per page.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.pages import close, connected, new_page
from tests.conftest import ROOT, in_ci

pytestmark = pytest.mark.asyncio(loop_scope="module")

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Impacts axe rates as blocking for someone (a screen reader user, low vision, keyboard only):
# these fail the test. "moderate" and "minor" are printed, not failed.
BLOCKING = ("serious", "critical")
SCHEMES = ("light", "dark")
NOW_JS = "window.playground.clock.nowMs"  # the room's virtual time, as the server last said
RUN_MS = 3_000  # virtual ms a room plays (at 1×) before the check: groups, cells, tokens drawn
ROWS = ".lane.row"  # a partition's row in the room's default (topic) view

ADMIN = "a11y-admin"
PASSWORD = "an-accessible-admin-password-3"
MAKE_ADMIN = f"""
from django.contrib.auth.models import User
from playground.library.models import Scenario
from playground.library.store import fork_scenario
user = User.objects.filter(username={ADMIN!r}).first() or User.objects.create_superuser(
    {ADMIN!r}, "a11y@example.invalid", {PASSWORD!r})
base = Scenario.objects.get(slug="amazon-orders")
fork = Scenario.objects.filter(forked_from=base).first() or fork_scenario(base)
print(base.pk, fork.pk)
"""


def axe_script() -> Path:
    """node_modules/axe-core/axe.min.js; skipped when npm has not installed it (fails in CI)."""
    if AXE.is_file():
        return AXE
    message = f"{AXE.relative_to(ROOT)} is missing (run `npm ci` at the repository root)"
    if in_ci():
        pytest.fail(f"{message}; CI must run the accessibility checks, so this fails")
    pytest.skip(f"{message}; skipped locally, under CI=true this fails")


@pytest.fixture(autouse=True)
def axe():
    """Checked before any page opens: skip (or, under CI, fail) at once without axe-core."""
    return axe_script()


# Each violation with its first few elements; for contrast, the colours axe measured.
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  const detail = (n) => {
    const d = (n.any[0] || n.all[0] || n.none[0] || {}).data || {};
    return d.fgColor ? ` (${d.fgColor} on ${d.bgColor}: ${d.contrastRatio}:1,`
      + ` needs ${d.expectedContrastRatio})` : "";
  };
  return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    count: v.nodes.length,
    targets: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + detail(n))}));
}"""


def describe(what: str, violations) -> str:
    return "\n".join(
        f"  {what}: [{v['impact']}] {v['id']}: {v['help']} ({v['count']} elements) — "
        + ", ".join(v["targets"])
        for v in violations
    )


async def blocking_violations(page, what: str) -> list[str]:
    """axe-core on `page` as it is now: its serious and critical violations, described (all
    of them, minor ones too, are printed)."""
    await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(AXE_RUN)
    if violations:
        print(f"axe on {what}:\n{describe(what, violations)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    return [describe(what, blocking)] if blocking else []


async def assert_accessible(page, what: str) -> None:
    found = await blocking_violations(page, what)
    assert not found, "axe-core: serious or critical violations\n" + "\n".join(found)


@pytest.fixture(scope="module")
def admin_ids(daphne_env):
    """A superuser and a fork of amazon-orders in Daphne's database: (built-in pk, fork pk)."""
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_ADMIN], cwd=ROOT,
                          env=daphne_env, check=True, capture_output=True, text=True)
    base, fork = done.stdout.split()[-2:]
    return base, fork


async def running_room(chromium, url, scheme):
    """A room of amazon-orders, connected, after RUN_MS of play (records and tokens drawn)."""
    page = await new_page(chromium, color_scheme=scheme)
    await page.goto(url)
    await connected(page, drawn=ROWS)
    await page.wait_for_selector("[data-group]")
    await page.click("#play")
    await page.wait_for_function(f"() => {NOW_JS} >= {RUN_MS}", timeout=RUN_MS + 15_000)
    return page


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_the_gallery_has_no_serious_accessibility_violations(chromium, site, scheme):
    """The gallery, and the site's other plain pages (base.html): not found, import."""
    page = await new_page(chromium, color_scheme=scheme)
    await page.goto(f"{site}/")
    await page.wait_for_selector(".scenario-card")
    found = await blocking_violations(page, f"the gallery ({scheme})")
    await page.goto(f"{site}/s/no-such-scenario")
    await page.wait_for_selector(".not-found")
    found += await blocking_violations(page, f"the 404 page ({scheme})")
    await page.goto(f"{site}/import")
    await page.wait_for_selector("#import-heading")
    found += await blocking_violations(page, f"the import page ({scheme})")
    assert not found, "axe-core: serious or critical violations\n" + "\n".join(found)
    await close(page)


# The room page is being redesigned (issue 13); these are expected to pass once it lands.
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_running_room_has_no_serious_accessibility_violations(chromium, site, scheme):
    """Its default (topic) view while it runs, with the inspector open on a partition (the
    drawer's facts and forms), then the per-broker view."""
    page = await running_room(chromium, f"{site}/s/amazon-orders", scheme)
    found = await blocking_violations(page, f"a running room ({scheme})")
    await page.click(f'{ROWS} button[data-inspect="partition"]')
    await page.wait_for_selector("#inspector:not([hidden])")
    found += await blocking_violations(page, f"the room's inspector ({scheme})")
    await page.click("#inspector-close")
    await page.click("#view-brokers")
    # Drawn in the page from what it holds (no server round trip): quick, or not at all.
    await page.wait_for_selector("#brokers .broker .lane", timeout=10_000)
    found += await blocking_violations(page, f"the room's brokers view ({scheme})")
    assert not found, "axe-core: serious or critical violations\n" + "\n".join(found)
    await close(page)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_the_embedded_room_has_no_serious_accessibility_violations(chromium, site, scheme):
    page = await running_room(chromium, f"{site}/s/amazon-orders?embed=1", scheme)
    assert await page.locator("#full-page").count() == 1  # it is the embedded view
    await assert_accessible(page, f"the embedded room ({scheme})")
    await close(page)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_replay_has_no_serious_accessibility_violations(chromium, site, scheme):
    page = await running_room(chromium, f"{site}/s/amazon-orders", scheme)
    await page.click("#share")
    await page.wait_for_selector("#share-panel:not([hidden])")
    await page.wait_for_function("() => document.querySelector('#share-url').value")
    url = await page.input_value("#share-url")
    await page.goto(url)
    await connected(page, drawn=ROWS)
    await page.wait_for_selector("#session.replaying #replay:not([hidden])")
    await assert_accessible(page, f"a replay ({scheme})")
    await close(page)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_the_admin_has_no_serious_accessibility_violations(chromium, site, admin_ids,
                                                                 scheme):
    builtin, fork = admin_ids
    page = await new_page(chromium, (1280, 900), color_scheme=scheme)
    await page.goto(f"{site}/admin/")
    await page.wait_for_selector("#id_username")
    found = await blocking_violations(page, f"the admin's login ({scheme})")
    await page.fill("#id_username", ADMIN)
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url(f"{site}/admin/")  # logged in: the admin's index
    await page.wait_for_selector("#content-main")
    found += await blocking_violations(page, f"the admin's index ({scheme})")
    pages = {
        "the scenarios' list": "library/scenario/",
        "a built-in's read-only form": f"library/scenario/{builtin}/change/",
        "a fork's change form": f"library/scenario/{fork}/change/",
    }
    for what, path in pages.items():
        await page.goto(f"{site}/admin/{path}")
        await page.wait_for_selector("#content-main")
        found += await blocking_violations(page, f"{what} ({scheme})")
    # Every admin page checked before failing: one run lists all there is to fix.
    assert not found, "axe-core: serious or critical violations\n" + "\n".join(found)
    await close(page)
