"""What the browser tests share: a page in a context of its own (one person: its own cookies,
so its own session), with the page's uncaught errors collected for the test to assert on."""

WIDE, PHONE = (1440, 900), (390, 844)
WAIT_MS = 15_000


async def new_page(chromium, viewport=WIDE, **context):
    """A new person's page at `viewport` (width, height); `context` goes to new_context
    (color_scheme, reduced_motion...). `page.errors` lists its uncaught exceptions."""
    ctx = await chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                     **context)
    page = await ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


DRAWN = ".lane"  # a partition's row (the topics view) or a replica's lane (the brokers view)


async def connected(page, timeout=WAIT_MS, drawn=DRAWN) -> None:
    """The room's socket is open and `drawn` is on the page (by default, broker 1's lanes)."""
    await page.wait_for_selector('#conn[data-state="open"]', timeout=timeout)
    await page.wait_for_selector(drawn, timeout=timeout)


async def open_pair(chromium, url, teacher=WIDE, student=PHONE, timeout=WAIT_MS, drawn=DRAWN):
    """A presenter who opens `url` (a scenario's link: it makes a room) and a student who
    opens the room the presenter landed in, each connected: (teacher, student)."""
    first = await new_page(chromium, teacher)
    await first.goto(url)
    await connected(first, timeout, drawn)
    second = await new_page(chromium, student)
    await second.goto(first.url)
    await connected(second, timeout, drawn)
    return first, second


async def close(*pages) -> None:
    """Each page had no uncaught error; its context (its person) goes."""
    for page in pages:
        assert page.errors == [], page.errors
        await page.context.close()
