"""What outlives a process: rooms (as their recordings) and shared recordings.

A room is (spec, seed, records_max, command log) plus where its clock had got to; replaying
that rebuilds it byte for byte, so that is all the database keeps. `RoomRecord` is the header
(rewritten at every persist), `RoomCommand` one row per command the room accepted (written
before the command's ack is sent, never rewritten). A `Recording` is a frozen copy of a room's
log that `/s/<slug>` replays.
"""

from django.db import models


class RoomRecord(models.Model):
    LIVE = "live"
    ASLEEP = "asleep"

    room_id = models.CharField(max_length=10, primary_key=True)
    spec = models.JSONField()
    seed = models.JSONField()  # an int or a string, as broker_core accepts
    records_max = models.PositiveIntegerField(default=0)
    meta = models.JSONField(default=dict)
    # The creator's Django session key: the presenter. Blank: nobody owns the room.
    owner = models.CharField(max_length=64, blank=True, default="")
    open = models.BooleanField(default=True)
    state = models.CharField(max_length=8, choices=[(LIVE, "live"), (ASLEEP, "asleep")],
                             default=LIVE)
    # A replay room: the slug of the recording it plays (its commands come from there).
    replay_of = models.CharField(max_length=64, blank=True, default="")
    now_ms = models.BigIntegerField(default=0)
    seq = models.BigIntegerField(default=0)
    speed = models.FloatField(default=1.0)
    narration_step = models.PositiveIntegerField(default=0)
    notices = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "updated"])]

    def __str__(self):
        return f"room {self.room_id} ({self.state})"


class RoomCommand(models.Model):
    room = models.ForeignKey(RoomRecord, on_delete=models.CASCADE, related_name="commands")
    index = models.PositiveIntegerField()
    at_ms = models.BigIntegerField()
    command = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "index"],
                                               name="rooms_command_room_index")]
        ordering = ["room", "index"]

    def __str__(self):
        return f"{self.room_id}#{self.index} at {self.at_ms} ms"


class Recording(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200, blank=True, default="")
    spec = models.JSONField()
    seed = models.JSONField()
    log = models.JSONField(default=list)
    end_ms = models.BigIntegerField(default=0)
    # Part of what makes the replay exact (the model's record budget); 0 = none.
    records_max = models.PositiveIntegerField(default=0)
    source_room = models.CharField(max_length=10, blank=True, default="")
    scenario_slug = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"recording {self.slug}"
