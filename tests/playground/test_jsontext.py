"""playground/jsontext.py: the fast text of a real client's batch is the standard encoder's."""

import random

import pytest

from playground.jsontext import ascii_dumps, plain_ascii_dumps

SEED = 5


def _text(r: random.Random) -> str:
    pick = [lambda: r.randrange(0, 128), lambda: r.randrange(0x80, 0x800), lambda: 0x7F,
            lambda: 0xD800, lambda: r.randrange(0x10000, 0x110000)]
    return "".join(chr(r.choice(pick)()) for _ in range(r.randrange(0, 8)))


def test_plain_ascii_dumps_writes_what_ascii_dumps_writes():
    r = random.Random(SEED)
    for i in range(5_000):
        text = _text(r)
        data = {"type": "produce.records", "records": [[text, None, {"h": [text, None]}]],
                "n": r.choice([0, -1, 2**63 - 1, 2**64, -2**63, -2**63 - 1, 2**70]),
                "flag": r.choice([True, False, None]), "times": [1, 2]}
        assert plain_ascii_dumps(data) == ascii_dumps(data), f"seed {SEED}, case {i}: {data!r}"


@pytest.mark.parametrize("value", ["\x7f", "é", "\ud800", "a\u2028b", "\x00\x1f\"\\/"])
def test_plain_ascii_dumps_escapes_as_the_standard_encoder(value):
    assert plain_ascii_dumps([value]) == ascii_dumps([value])


def test_a_client_batch_is_written_by_the_fast_encoder_as_a_list():
    from broker_core.clients import Records

    batch = {"records": Records([("k", "v", None), (None, "\x00AAE=", {"h": ["x"]})])}
    assert plain_ascii_dumps(batch) == ascii_dumps({"records": list(batch["records"])})
