"""Rooms: the runtime that hosts broker_core clusters and streams them to viewers.

`registry.Rooms` owns the rooms of this process; `room.Room` is one running cluster; `pacing`
turns wall time into virtual time; `frames` builds the bounded batches viewers receive;
`messages` validates what viewers send; `persister` keeps what the store has of each room;
`errors` holds what callers catch. See docs/ARCHITECTURE.md, "Rooms".
"""
