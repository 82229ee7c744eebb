"""/compatibility shows the card `make conformance` writes (docs/compatibility.json): client
by check, the verdict in words, the reasons for each difference; text from the card is
escaped; without a card the page says how to make one."""

import json

import pytest

from playground import views


@pytest.fixture
def card(tmp_path, monkeypatch):
    path = tmp_path / "compatibility.json"
    monkeypatch.setattr(views, "COMPATIBILITY_CARD", path)
    views._card_cache.clear()
    yield path
    views._card_cache.clear()


def write(path, **extra):
    path.write_text(json.dumps({
        "generated": "2026-12-07", "kafka_version": "4.4.0",
        "clients": [{"id": "java", "name": "Java kafka-clients", "version": "4.4.0",
                     "skipped": None},
                    {"id": "kcat", "name": "kcat", "version": None, "skipped": None}],
        "checks": ["produce.keys", "errors.transactional"],
        "cells": [{"client": "java", "check": "produce.keys", "verdict": "works",
                   "reason": None},
                  {"client": "java", "check": "errors.transactional",
                   "verdict": "differs on purpose", "reason": "<b>not modelled</b>"}],
        "differences": [{"client": "*", "check": "errors.transactional",
                         "reason": "<script>alert(1)</script> transactions"}],
        **extra}))


def test_the_card_shows_each_client_and_check_with_its_verdict(client, card):
    write(card)
    html = client.get("/compatibility").content.decode()
    assert "Java kafka-clients" in html and "Apache Kafka 4.4.0" in html
    assert 'class="verdict verdict-works"' in html
    assert 'class="verdict verdict-differs-on-purpose"' in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; transactions" in html
    assert "<b>not modelled</b>" not in html


def test_a_new_card_is_read_without_a_restart(client, card):
    write(card)
    assert "4.4.0" in client.get("/compatibility").content.decode()
    write(card, kafka_version="4.5.0")
    import os
    os.utime(card, ns=(1, 10**18))  # a different mtime, whatever the clock's resolution
    assert "Apache Kafka 4.5.0" in client.get("/compatibility").content.decode()


def test_without_a_card_the_page_says_how_to_make_one(client, card):
    response = client.get("/compatibility")
    assert response.status_code == 200
    assert "make conformance" in response.content.decode()
