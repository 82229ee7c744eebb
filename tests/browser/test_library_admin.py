"""The library's admin in Debian's Chromium against the real Daphne: a staff user forks a
built-in, tries a topic named `bad name!`, sees broker_core's message at that field, fixes it,
saves, opens the scenario in the playground and finds the topic in the room."""

import subprocess
import sys

from broker_core.config import validate_topic_name
from broker_core.errors import CommandError
from tests.conftest import ROOT

PASSWORD = "a-long-teacher-password-7"

MAKE_STAFF = f"""
from django.contrib.auth.models import Permission, User
user, _ = User.objects.get_or_create(username="teacher", defaults={{"is_staff": True}})
user.set_password({PASSWORD!r})
user.is_staff = True
user.save()
user.user_permissions.set(Permission.objects.filter(content_type__app_label="library"))
"""


def topic_name_message(name: str) -> str:
    try:
        validate_topic_name(name)
    except CommandError as e:
        return e.message
    raise AssertionError(f"{name!r} is a valid topic name")


async def test_staff_fixes_a_bad_topic_name_and_opens_the_scenario(browser, site, daphne_env,
                                                                   artifacts):
    # A staff user (not a superuser) with the library's permissions, in Daphne's database.
    subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_STAFF], cwd=ROOT,
                   env=daphne_env, check=True, capture_output=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Anonymous: the admin sends us to its login page.
    await page.goto(f"{site}/admin/library/scenario/")
    assert "/admin/login/" in page.url
    await page.fill("#id_username", "teacher")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url("**/admin/library/scenario/")

    # Built-ins are read-only: fork signup to get an editable copy.
    await page.click("text=signup")
    await page.click('button[data-action="fork"]')
    await page.wait_for_selector('input[name="_continue"]')
    assert await page.input_value("#id_slug") == "signup-copy"

    # signup has one topic; the blank row after it is the new one.
    await page.fill("#id_topics-1-name", "bad name!")
    await page.fill("#id_topics-1-partitions", "2")
    await page.click('input[name="_continue"]')
    row = page.locator("#topics-1")
    expected = topic_name_message("bad name!")
    error = row.locator("td.field-name .errorlist li")
    await error.wait_for()
    assert await error.text_content() == expected
    path = artifacts / "admin-bad-topic-name.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")

    await page.fill("#id_topics-1-name", "audit-log")
    await page.click('input[name="_continue"]')
    await page.wait_for_selector(".messagelist .success")
    assert await page.input_value("#id_topics-1-name") == "audit-log"

    await page.click('button[data-action="open-in-playground"]')
    await page.wait_for_url("**/r/*")
    await page.wait_for_selector('#conn[data-state="open"]')
    await page.wait_for_selector('.lane[data-topic="audit-log"]', state="attached")
    assert await page.locator('.lane[data-topic="signup"]').count() > 0
    path = artifacts / "admin-opened-in-playground.png"
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    assert errors == []
    await context.close()
