"""The customer's wait on the page (issue 12): amazon-sync-vs-async shows, live, on the
presenter's and a student's page, both designs' waits (newest, mean, median, max, how many)
and a chart of them over virtual time. Screens of 1440x900 (presenter) and 390x844 (student);
screenshots go to artifacts/browser/."""

import re

import pytest

from tests.browser.pages import WIDE, connected, new_page, open_pair

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 15_000
# A wait as the page writes it: 20 ms, 1,300 ms, 42.5 s, 3 min 20 s.
WAIT = re.compile(r"^\d[\d,]*(\.\d)? (ms|s)$|^\d+ min( \d+ s)?$")


def ms(text: str) -> float:
    """The page's wait back in milliseconds."""
    number = float(text.split()[0].replace(",", ""))
    return {"ms": 1, "s": 1_000, "min": 60_000}[text.split()[1]] * number


async def waits(page) -> list[dict]:
    """Each row of the waits table: its label and cells, as shown."""
    return await page.evaluate("""() => [...document.querySelectorAll('#figures tbody tr')]
        .map(row => ({label: row.querySelector('.figure-label').textContent,
                      ...Object.fromEntries([...row.querySelectorAll('td')]
                          .map(td => [td.dataset.stat, td.textContent]))}))""")


async def test_the_sync_vs_async_page_shows_both_customers_waits_live(chromium, site, artifacts):
    teacher, student = await open_pair(chromium, f"{site}/s/amazon-sync-vs-async")
    for page in (teacher, student):
        await page.wait_for_selector("#figures:not([hidden])", timeout=WAIT_MS)

    await teacher.click('button[data-jump="60000"]')
    await teacher.wait_for_function(
        "() => window.playground.clock.nowMs >= 60000 && window.playground.clock.goalMs == null",
        timeout=60_000)
    for page in (teacher, student):
        # Both designs' rows have numbers once the jump's frames have come in.
        await page.wait_for_function("""() => {
            const rows = [...document.querySelectorAll('#figures tbody tr')];
            return rows.length >= 2 && rows.slice(0, 2).every(
                r => /^\\d/.test(r.querySelector('[data-stat="newest_ms"]').textContent));
        }""", timeout=WAIT_MS)
        rows = await waits(page)
        sync = next(r for r in rows if "synchronous" in r["label"] and "asyn" not in r["label"])
        async_ = next(r for r in rows if "asynchronous" in r["label"]
                      and "customer" in r["label"])
        for row in (sync, async_):
            for stat in ("newest_ms", "mean_ms", "median_ms", "max_ms"):
                assert WAIT.match(row[stat]), (stat, row[stat])
            assert int(row["count"].split()[0].replace(",", "")) > 20
        # The lesson: the customer waits seconds for five calls in turn, 20 ms for one produce.
        assert ms(async_["mean_ms"]) == ms(async_["max_ms"]) == 20
        assert ms(sync["mean_ms"]) > 50 * ms(async_["mean_ms"])
        assert ms(sync["max_ms"]) >= 5_000
        # The chart is drawn, and labelled for whoever cannot see it.
        await page.wait_for_selector("#figures-chart canvas", timeout=WAIT_MS)
        assert await page.locator("#figures-chart canvas").first.is_visible()
        assert "log scale" in await page.get_attribute("#figures-chart", "aria-label")
        assert await page.locator("#figures-empty").is_hidden()
        assert await page.locator("#figures-title").is_visible()
        # Nothing sideways on a phone: the panel fits the screen.
        width = await page.evaluate("document.querySelector('#figures').scrollWidth")
        assert width <= page.viewport_size["width"], width
    await teacher.screenshot(path=str(artifacts / "sync-vs-async-waits-teacher-1440.png"))
    await student.locator("#figures").screenshot(
        path=str(artifacts / "sync-vs-async-waits-student-390.png"))

    # Live: the presenter plays on, fast; the student's counts grow without a reload.
    counts = [r["count"] for r in await waits(student)]
    await teacher.evaluate("window.playground.socket.control('speed', {speed: 20})")
    await teacher.click("#play")
    await student.wait_for_function(
        """(before) => [...document.querySelectorAll('#figures tbody td[data-stat="count"]')]
            .some((td, i) => parseInt(td.textContent.replace(/,/g, '')) >
                             parseInt(before[i].replace(/,/g, '')))""",
        arg=counts, timeout=WAIT_MS)
    await student.screenshot(path=str(artifacts / "sync-vs-async-waits-student-full-390.png"),
                             full_page=True)
    for page in (teacher, student):
        assert page.errors == [], page.errors
        await page.context.close()


async def test_a_scenario_without_figures_shows_no_waits_panel(chromium, site):
    page = await new_page(chromium, WIDE)
    await page.goto(f"{site}/s/amazon-orders")
    await connected(page)
    await page.wait_for_function("() => window.playground.clock.nowMs >= 0", timeout=WAIT_MS)
    assert await page.locator("#figures").is_hidden()
    assert page.errors == [], page.errors
    await page.context.close()
