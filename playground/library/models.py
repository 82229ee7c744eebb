"""A scenario as rows: the Scenario and its ordered topics, groups, producers and timeline.

Column lengths are storage bounds set above broker_core's limits on purpose: a too-long name
is refused with broker_core's message (a validator or the whole-scenario check), not Django's.

The columns are the settings a teacher edits (a topic's partitions and retention, a group's
assignor and retries); what is a list or a tree in the document and would be silly as a table
(narration steps, figures, a consumer's emits, a timeline command) stays JSON. Nothing here
repeats broker_core's rules: a column's validator asks broker_core (validators.py), and the
whole scenario is judged by `broker_core.scenario.validate_scenario` (forms.py, api.py).
"""

from django.db import models

from .validators import (
    check_cleanup_policy,
    check_group_id,
    check_max_message_bytes,
    check_min_insync_replicas,
    check_retention_bytes,
    check_retention_ms,
    check_scenario_slug,
    check_topic_name,
)

POSITION_HELP = "Order in the scenario (lower first; empty: after the others)."


class Scenario(models.Model):
    slug = models.CharField(
        max_length=100, unique=True, validators=[check_scenario_slug],
        help_text="Its short link is /s/<slug>: lowercase letters, digits and '-'.")
    title = models.CharField(max_length=1000)
    description = models.TextField(blank=True)
    teaches = models.CharField(max_length=2000, blank=True,
                               help_text="One sentence: what a learner sees happen.")
    # JSON, not an integer column: broker_core takes a whole number or a string, and "7" and
    # 7 are different seeds (different runs).
    seed = models.JSONField(default=int, help_text="A whole number, or a string in quotes.")
    brokers = models.IntegerField(default=3)
    duration_ms = models.BigIntegerField(
        null=True, blank=True, help_text="How long a headless run lasts, in virtual ms.")
    cluster_config = models.JSONField(default=dict, blank=True,
                                      help_text="Cluster-wide settings, e.g. "
                                      "{\"replica.fetch.interval.ms\": 20}.")
    steps = models.JSONField(default=list, blank=True,
                             help_text="Narration: [{\"title\", \"text\", \"commands\", "
                             "\"watch\"}].")
    figures = models.JSONField(default=list, blank=True)
    builtin = models.BooleanField(default=False, editable=False)
    forked_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="forks", editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-builtin", "title")

    def __str__(self) -> str:
        return f"{self.title} ({self.slug})"

    def to_spec(self) -> dict:
        """This scenario as a broker_core scenario document (not yet validated)."""
        from .store import spec_of

        return spec_of(self)


class Part(models.Model):
    """A child row: ordered by position, then by when it was added."""

    position = models.IntegerField(null=True, blank=True, help_text=POSITION_HELP)

    class Meta:
        abstract = True
        ordering = (models.F("position").asc(nulls_last=True), "id")


class Topic(Part):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=1000, validators=[check_topic_name])
    partitions = models.IntegerField(null=True, blank=True,
                                             help_text="Empty: 1, Kafka's num.partitions.")
    replication_factor = models.IntegerField(null=True, blank=True,
                                                          help_text="Empty: 1.")
    retention_ms = models.BigIntegerField("retention.ms", null=True, blank=True,
                                          validators=[check_retention_ms],
                                          help_text="Empty: 7 days; -1: forever.")
    retention_bytes = models.BigIntegerField("retention.bytes", null=True, blank=True,
                                             validators=[check_retention_bytes],
                                             help_text="Per partition; empty or -1: no limit.")
    cleanup_policy = models.CharField("cleanup.policy", max_length=100, null=True, blank=True,
                                      validators=[check_cleanup_policy],
                                      help_text="Empty: delete.")
    min_insync_replicas = models.IntegerField("min.insync.replicas", null=True,
                                                      blank=True,
                                                      validators=[check_min_insync_replicas],
                                                      help_text="Empty: 1.")
    unclean_leader_election_enable = models.BooleanField("unclean.leader.election.enable",
                                                         null=True, blank=True)
    max_message_bytes = models.IntegerField("max.message.bytes", null=True, blank=True,
                                                    validators=[check_max_message_bytes])

    class Meta(Part.Meta):
        pass

    def __str__(self) -> str:
        return self.name


class Group(Part):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField("group id", max_length=200, validators=[check_group_id])
    topics = models.JSONField(null=True, blank=True,
                              help_text="Topics its consumers read, e.g. [\"orders\"].")
    assignor = models.CharField(max_length=100, null=True, blank=True)
    session_timeout_ms = models.IntegerField(null=True, blank=True)
    heartbeat_interval_ms = models.IntegerField(null=True, blank=True)
    auto_offset_reset = models.CharField(max_length=100, null=True, blank=True)
    max_attempts = models.IntegerField(null=True, blank=True)
    retry_backoff_ms = models.IntegerField("back-off (ms)", null=True, blank=True)
    retry_backoff_max_ms = models.IntegerField("back-off cap (ms)", null=True,
                                                       blank=True)
    retry_mode = models.CharField(max_length=100, null=True, blank=True)
    processing_timeout_ms = models.BigIntegerField(null=True, blank=True)
    message_timeout_ms = models.BigIntegerField(null=True, blank=True)
    dead_letter_topic = models.CharField(max_length=1000, null=True, blank=True)
    consumer_count = models.IntegerField("consumers", null=True, blank=True,
                                                 help_text="How many consumers join.")
    consumer_list = models.JSONField(
        "consumer list", null=True, blank=True,
        help_text="Instead of a count: one object per consumer, e.g. [{\"id\": \"a\"}].")
    consumer = models.JSONField(
        "consumer behaviour", default=dict, blank=True,
        help_text="Shared by every consumer: processing_ms, failure_rate, fail_keys, hangs, "
                  "commit, emits.")

    class Meta(Part.Meta):
        pass

    def __str__(self) -> str:
        return self.name


class Producer(Part):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="producers")
    producer_id = models.CharField("id", max_length=200)
    topic = models.CharField(max_length=1000)
    # JSON so 2 stays 2 and 0.5 stays 0.5: the number is printed in events as it was given.
    rate_per_s = models.JSONField("records per second")
    keys = models.JSONField(null=True, blank=True,
                            help_text="e.g. {\"kind\": \"sequence\", \"prefix\": \"order-\"}")
    acks = models.CharField(max_length=100, null=True, blank=True)
    value = models.TextField(null=True, blank=True)
    value_bytes = models.IntegerField(null=True, blank=True)
    idempotent = models.BooleanField(null=True, blank=True)
    retries = models.BigIntegerField(null=True, blank=True)
    start_ms = models.BigIntegerField(null=True, blank=True)
    stop_ms = models.BigIntegerField(null=True, blank=True)
    count = models.IntegerField(null=True, blank=True)

    class Meta(Part.Meta):
        pass

    def __str__(self) -> str:
        return self.producer_id


class TimelineEntry(Part):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="timeline")
    at_ms = models.BigIntegerField("at (ms)")
    command = models.JSONField(help_text="e.g. {\"type\": \"broker.stop\", \"broker\": 1}")

    class Meta(Part.Meta):
        verbose_name = "timeline entry"
        verbose_name_plural = "timeline"

    def __str__(self) -> str:
        kind = self.command.get("type") if isinstance(self.command, dict) else None
        return f"{self.at_ms} ms: {kind}"
