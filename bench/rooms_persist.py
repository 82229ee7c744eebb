"""What storing every command before its ack costs, and how fast a stored room comes back.

In one process, on a throwaway SQLite file (the default deployment's database): a room from the
built-in `signup` scenario gets COMMANDS produce commands one after another through
`Rooms.handle`, the way a socket's messages arrive; each reply is an ack only after the
command's row is written. The same run against the in-memory store is the baseline. Printed:
ack latency p50/p99 and commands/s for both, then the time a second registry on the same
database takes to rebuild the room from its stored log (`wake`: load + replay).

Run: .venv/bin/python bench/rooms_persist.py [--commands 2000]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


async def run(store, commands: int) -> tuple[list[float], str]:
    from channels.layers import InMemoryChannelLayer

    from broker_core.scenarios import load_builtin
    from playground.rooms.registry import Rooms

    rooms = Rooms(autorun=False, store=store, layer=InMemoryChannelLayer())
    room = rooms.create(load_builtin("signup"))
    await rooms.persist(room.id)
    latencies = []
    for n in range(commands):
        message = {"type": "command", "request_id": f"c{n}", "command": {
            "type": "produce", "topic": "signup", "key": f"user-{n}", "value": "x" * 100}}
        started = time.perf_counter()
        reply = json.loads((await rooms.handle(room.id, message, {}))["text"])
        latencies.append(time.perf_counter() - started)
        assert reply["type"] == "ack", reply
    return latencies, room.id


def figures(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(f"{name:<22} p50 {statistics.median(ordered) * 1000:7.3f} ms   "
          f"p99 {p99 * 1000:7.3f} ms   {len(ordered) / sum(ordered):8.0f} commands/s")


async def main(commands: int) -> None:
    from channels.layers import InMemoryChannelLayer

    from playground.rooms.registry import Rooms
    from playground.rooms.store import DbStore, MemoryStore

    memory, _ = await run(MemoryStore(), commands)
    stored, room_id = await run(DbStore(), commands)
    print(f"{commands:,} produce commands through Rooms.handle, one at a time:")
    figures("in-memory store", memory)
    figures("SQLite (DbStore)", stored)
    other = Rooms(autorun=False, store=DbStore(), layer=InMemoryChannelLayer())
    started = time.perf_counter()
    room = await other.wake(room_id)
    took = time.perf_counter() - started
    print(f"rebuilding the room in another registry from {len(room.cluster.command_log):,} "
          f"stored commands: {took * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup(str(Path(tmp) / "bench.sqlite3"))
        asyncio.run(main(args.commands))
        print(f"command: .venv/bin/python bench/rooms_persist.py --commands {args.commands}")
