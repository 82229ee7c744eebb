"""Narration on the clock in a room: Next runs the room to the step's moment (visibly, as a
jump that pauses there), a step that waits for an event stops at the instant it happens, Back
rewinds to an earlier step's moment, and nothing anyone did is ever undone by the story."""


from broker_core.checkers import digest
from tests.playground.rooms_support import FakeClock, clock, drive, rooms  # noqa: F401

STORY = {
    "name": "story", "title": "Story", "brokers": 3, "duration": "60s",
    "topics": [{"name": "pay", "partitions": 1, "replication_factor": 3}],
    "producers": [{"id": "p", "topic": "pay", "rate_per_s": 5, "acks": "all"}],
    "timeline": [{"at_ms": 20_000, "command": {"type": "broker.stop", "broker": 1,
                                                "mode": "crash"}}],
    "steps": [
        {"title": "start", "watch": {"topic": "pay", "partition": 0}},
        {"title": "flowing", "at": "5s", "watch": {"topic": "pay"}},
        {"title": "crash", "when": {"type": "broker.stopped", "broker": 1},
         "watch": {"broker": 1}},
        {"title": "elected", "at": "20s",
         "when": {"type": "partition.leader_elected", "topic": "pay"},
         "watch": {"topic": "pay", "partition": 0}},
        {"title": "never", "when": {"type": "record.lost"}},
    ]}


async def settle(room, clock, ticks=400):  # noqa: F811
    """Tick until the room's step or jump is done (the registry's scheduler would)."""
    for _ in range(ticks):
        if room.goal_ms is None:
            return
        clock.forward(0.05)
        await room.tick()
    raise AssertionError(f"still going to {room.goal_ms} at {room.cluster.now_ms}")


def state(room) -> str:
    return digest([room.cluster.snapshot(), room.cluster.seq])


async def test_next_runs_to_each_moment_and_pauses_there(rooms, clock):  # noqa: F811
    room = rooms.create(STORY, meta={"name": "story"})
    await rooms.attach(room.id, "v")
    assert (await drive(rooms, room, {"type": "narrate", "request_id": "1", "step": 1}))[
        "type"] == "ack"
    await settle(room, clock)
    assert room.cluster.now_ms == 5_000 and not room.pacer.playing
    clock.forward(3)
    await room.tick()
    assert room.cluster.now_ms == 5_000  # paused at the moment: the text stays true

    await drive(rooms, room, {"type": "narrate", "request_id": "2", "step": 2})
    await settle(room, clock)
    assert room.cluster.now_ms == 20_000 and not room.cluster.brokers[1]["up"]

    await drive(rooms, room, {"type": "narrate", "request_id": "3", "step": 3})
    await settle(room, clock)
    # The election waits for ZooKeeper's session to expire: the step stops at that instant.
    elected = room.cluster.now_ms
    assert elected > 20_000 and room.cluster.topics["pay"].partitions[0].leader != 1
    assert room.narration_step == 3


async def test_back_rewinds_to_the_earlier_moment_exactly(rooms, clock):  # noqa: F811
    room = rooms.create(STORY, meta={"name": "story"})
    await rooms.attach(room.id, "v")
    await drive(rooms, room, {"type": "narrate", "request_id": "1", "step": 1})
    await settle(room, clock)
    at_step_1 = state(room)
    epoch = room.epoch
    await drive(rooms, room, {"type": "narrate", "request_id": "2", "step": 2})
    await settle(room, clock)
    await drive(rooms, room, {"type": "narrate", "request_id": "b", "step": 1})
    assert room.cluster.now_ms == 5_000 and state(room) == at_step_1
    assert room.epoch == epoch + 1  # every viewer gets the rebuilt room as a snapshot
    # Forward again finds the crash where it was, without searching.
    await drive(rooms, room, {"type": "narrate", "request_id": "3", "step": 2})
    await settle(room, clock)
    assert room.cluster.now_ms == 20_000


async def test_back_never_undoes_what_someone_did(rooms, clock):  # noqa: F811
    room = rooms.create(STORY, meta={"name": "story"})
    await rooms.attach(room.id, "v")
    await drive(rooms, room, {"type": "narrate", "request_id": "1", "step": 1})
    await settle(room, clock)
    ack = await drive(rooms, room, {"type": "command", "request_id": "c", "command": {
        "type": "produce", "topic": "pay", "key": "mine", "value": "v"}})
    assert ack["type"] == "ack"
    await drive(rooms, room, {"type": "narrate", "request_id": "2", "step": 2})
    await settle(room, clock)
    await drive(rooms, room, {"type": "narrate", "request_id": "b", "step": 0})
    assert room.narration_step == 0 and room.cluster.now_ms == 20_000
    assert len(room.cluster.command_log) == 1
    assert "clock stays" in room.notices[-1]["message"]


async def test_a_step_whose_event_never_comes_stops_at_the_search_end_and_says_so(
        rooms, clock):  # noqa: F811
    spec = {**STORY, "duration": "2s", "producers": [], "timeline": []}
    room = rooms.create(spec, meta={"name": "story"})
    room.narration_search_ms = 10_000
    await rooms.attach(room.id, "v")
    await drive(rooms, room, {"type": "narrate", "request_id": "n", "step": 4})
    await settle(room, clock, ticks=4000)
    await room.tick()  # the room says so at its next tick
    assert room.cluster.now_ms == 12_000
    assert "Step 5 waits for an event" in room.notices[-1]["message"]


async def test_pause_cancels_a_step_on_its_way(rooms, clock):  # noqa: F811
    busy = {**STORY, "producers": [{"id": "p", "topic": "pay", "rate_per_s": 1000}]}
    room = rooms.create(busy, meta={"name": "story"})
    await rooms.attach(room.id, "v")
    await drive(rooms, room, {"type": "narrate", "request_id": "n", "step": 2})
    assert room.clock_state()["goal_step"] == 2  # every page shows "going to step 3"
    await drive(rooms, room, {"type": "control", "request_id": "p", "action": "pause"})
    assert room.goal_ms is None and room.clock_state()["goal_step"] is None
    assert room.cluster.now_ms < 20_000


async def test_after_a_cancelled_step_the_clock_plays_on_from_where_it_got_to(
        rooms, clock):  # noqa: F811
    busy = {**STORY, "producers": [{"id": "p", "topic": "pay", "rate_per_s": 1000}]}
    room = rooms.create(busy, meta={"name": "story"})
    await rooms.attach(room.id, "v")
    await drive(rooms, room, {"type": "narrate", "request_id": "n", "step": 2})
    await room.tick(cpu_budget_s=0.05)
    await drive(rooms, room, {"type": "control", "request_id": "p", "action": "pause"})
    stopped = room.cluster.now_ms
    assert stopped > 0
    await drive(rooms, room, {"type": "control", "request_id": "g", "action": "play"})
    clock.forward(0.2)
    await room.tick(cpu_budget_s=5)
    assert room.cluster.now_ms == stopped + 200  # not stuck waiting for the pacer to catch up
    await drive(rooms, room, {"type": "control", "request_id": "j", "action": "jump",
                              "ms": 60_000})
    state = room.clock_state()
    # A later jump's progress bar starts where that jump started, not where the step did.
    assert state["goal_from_ms"] >= stopped + 200 and state["goal_step"] is None
