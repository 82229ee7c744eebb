"""`make run`'s command starts the wire listener inside Daphne: a real client's records are in
the room browsers open at /r/live, in the same process."""

import asyncio
import json
import urllib.request

import websockets


def test_runserver_kafka_serves_the_live_room_to_browsers_and_kafka_clients(web_with_listener):
    from kafka import KafkaProducer

    http_port, kafka_port = web_with_listener
    page = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/r/live", timeout=5).read()
    assert "Live: real Kafka clients" in page.decode()
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{kafka_port}", acks="all")
    assert producer.send("from-a-client", b"hello").get(10).offset == 0
    producer.close(2)

    async def snapshot():
        url = f"ws://127.0.0.1:{http_port}/ws/rooms/live/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{http_port}") as ws:
            async with asyncio.timeout(10):
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "snapshot":
                        return message

    state = asyncio.run(snapshot())["state"]
    assert state["topics"]["from-a-client"]["partitions"][0]["high_watermark"] == 1
