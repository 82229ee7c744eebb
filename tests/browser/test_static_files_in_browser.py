"""The room page's static files in Chromium against the real Daphne (DEBUG off, files collected
with hashed names, playground/storage.py): every module the page loads, ui.js's imports and
theirs, is requested by its content-hashed name, compressed, and nothing fails to load."""

import re
from urllib.parse import urlsplit

from tests.browser.pages import close, connected, new_page
from tests.page_bytes import room_page_bytes

ROOM = "/s/amazon-orders"
HASHED = re.compile(r"\.[0-9a-f]{12}\.(?:js|css)$")


async def test_the_room_loads_every_module_by_its_hashed_name_and_nothing_fails(browser, site):
    page = await new_page(browser)
    responses, failed = [], []
    page.on("response", lambda r: responses.append(r))
    page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
    await page.goto(site + ROOM)
    await connected(page, drawn="#groups [data-group]")  # whatever view the cluster is in
    await page.wait_for_function("() => window.uPlot", timeout=15_000)  # fetched once drawn
    # The tokens' painter, a module worker started once the room is drawn (tokens.js), runs
    # from its hashed name too: the page handed it the canvas.
    await page.wait_for_function("() => window.playground.renderer.tokens.painter?.worker",
                                 timeout=15_000)

    assert failed == []
    assert [(r.url, r.status) for r in responses if r.status >= 400] == []
    statics = [r for r in responses if urlsplit(r.url).path.startswith("/static/")]
    seen = []
    for r in statics:
        path = urlsplit(r.url).path
        encoding = (await r.all_headers()).get("content-encoding")
        seen.append(f"{path} {r.request.resource_type} {encoding}")
        assert HASHED.search(path), f"{path} requested by its plain name"
        assert encoding in ("br", "gzip"), (path, encoding)
    print("\n" + "\n".join(seen))
    scripts = [r for r in statics if r.request.resource_type == "script"]
    assert len(scripts) > 2, "the page loaded ui.js and the modules it imports"
    # What tests/page_bytes.py counts is what the browser loads to draw the room, file for
    # file; then, once it is drawn, the charts' library and the tokens' painter (hashed and
    # compressed too; what the worker itself imports is not always reported to the page).
    expected = {f.url for f in room_page_bytes(site, ROOM).files[1:]}
    loaded = {urlsplit(r.url).path for r in statics}
    later = sorted(p.split("/")[-1].split(".")[0] for p in loaded - expected)
    assert expected <= loaded
    assert later in (["tokenworker", "uPlot"], ["tokenpaint", "tokenworker", "uPlot"]), later
    await close(page)
