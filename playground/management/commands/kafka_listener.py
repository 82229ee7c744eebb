"""`python manage.py kafka_listener`: serve the live room to real Kafka clients, on its own."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Speak the Kafka wire protocol for one room (default 'live'): broker b listens on "
            "PLAYGROUND_KAFKA_PORT + b - 1.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.PLAYGROUND_KAFKA_HOST)
        parser.add_argument("--port", type=int, default=settings.PLAYGROUND_KAFKA_PORT)
        parser.add_argument("--room", default=settings.PLAYGROUND_KAFKA_ROOM)

    def handle(self, *args, host, port, room, **options):
        from playground.kafka.server import Listener, serve_forever
        from playground.rooms.registry import get_rooms

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        from playground.process import tune

        listener = Listener(get_rooms(), room_id=room, host=host, port=port)
        tune(settings.PLAYGROUND_GC_YOUNG)
        self.stdout.write(f"Kafka listener for room {room!r}: bootstrap servers {host}:{port} "
                          "(one port per broker from there up)")
        asyncio.run(self.serve(listener, serve_forever))

    async def serve(self, listener, serve_forever):
        # SIGTERM and SIGINT stop it cleanly: ports closed, connections dropped, the room's
        # recording left consistent (and profilers and coverage get to write their files).
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await serve_forever(listener)
        except asyncio.CancelledError:
            pass
