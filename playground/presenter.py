"""Who presents a room: a random token kept in the browser's Django session.

Not the session key itself: Django changes the key when someone logs in (cycle_key keeps the
data, not the key), so a teacher who opened a room and then signed in to the admin would lose
their own room. The token lives in the session's data and survives that; logging out flushes
the session, and with it the claim, as it should.
"""

import secrets

SESSION_FIELD = "playground_presenter"


def presenter_token(session) -> str:
    """This browser's token, created (and the session with it) on first use. Sync."""
    token = session.get(SESSION_FIELD)
    if not token:
        token = session[SESSION_FIELD] = secrets.token_urlsafe(18)
        session.save()
    return token


async def apresenter_token(session) -> str:
    token = await session.aget(SESSION_FIELD)
    if not token:
        token = secrets.token_urlsafe(18)
        await session.aset(SESSION_FIELD, token)
        await session.asave()
    return token


async def known_token(session) -> str | None:
    """The token of a browser that has one, else None (a viewer never gets one by watching)."""
    if session is None:
        return None
    return await session.aget(SESSION_FIELD)
