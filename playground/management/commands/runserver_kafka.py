"""`manage.py runserver_kafka`: Daphne's runserver with the Kafka wire listener in the same
process and event loop (what `make run` uses).

Why in Daphne's process: the listener's room is then the very room object browsers watch at
/r/live through this process's Rooms registry, with no cross-process relay. Daphne runs on
Twisted's asyncio reactor and implements no ASGI lifespan events, so the hook is the reactor's
"when running" callback, which runs on the same asyncio loop as the consumers. (Daphne is first
in INSTALLED_APPS, so its `runserver` wins over any `runserver` of ours: hence a new name.)
"""

import asyncio
import logging

from daphne.management.commands.runserver import Command as DaphneRunserver
from daphne.server import Server
from django.conf import settings

log = logging.getLogger(__name__)


class KafkaServer(Server):
    def run(self):
        from twisted.internet import reactor

        reactor.callWhenRunning(start_listener)
        super().run()


def start_listener() -> None:
    from playground.kafka.server import Listener
    from playground.rooms.registry import get_rooms

    listener = Listener(get_rooms(), room_id=settings.PLAYGROUND_KAFKA_ROOM,
                        host=settings.PLAYGROUND_KAFKA_HOST, port=settings.PLAYGROUND_KAFKA_PORT)

    async def start():
        try:
            await listener.start()
        except OSError as e:
            log.error("Kafka listener not started (%s); the web app goes on without it", e)
            return
        except Exception:
            log.exception("Kafka listener not started; the web app goes on without it")
            return
        print(f"Kafka listener: bootstrap servers {listener.host}:{listener.port} "
              f"(room '{listener.room_id}' at /r/{listener.room_id})", flush=True)

    asyncio.get_event_loop().create_task(start())


class Command(DaphneRunserver):
    help = "Daphne's runserver plus the Kafka wire listener (see kafka_listener)."
    server_cls = KafkaServer

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--no-kafka", action="store_true",
                            help="serve the web app only (run `kafka_listener` on its own)")

    def handle(self, *args, **options):
        if options.get("no_kafka"):
            self.server_cls = Server
        super().handle(*args, **options)
