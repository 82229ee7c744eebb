"""What a folding sink (broker_core.events.Folding) should have counted, worked out from the
per-record dicts a run that builds every one made: the folding tests compare the two."""

from broker_core.events import BULK

FIELDS = ("count", "first_offset", "first_seq", "last_offset", "last_seq", "last_t_ms",
          "high_watermark")


def expected_aggregates(events: list[dict], after_seq: int = 0) -> dict:
    """{(type, topic, partition, group): the fields of its aggregate} over the per-record
    events after `after_seq`."""
    expected = {}
    for e in events:
        if e["type"] in BULK and e["seq"] > after_seq:
            offset = None if e["type"] == "partition.high_watermark" else e["offset"]
            key = (e["type"], e["topic"], e["partition"], e.get("group"))
            agg = expected.setdefault(key, {"count": 0, "first_offset": offset,
                                            "first_seq": e["seq"]})
            agg.update(count=agg["count"] + 1, last_offset=offset, last_seq=e["seq"],
                       last_t_ms=e["t_ms"])
            if "high_watermark" in e:
                agg["high_watermark"] = e["high_watermark"]
    return expected


def by_key(aggregates: list[dict]) -> dict:
    """A Folding.take() in the shape of expected_aggregates."""
    return {(a["type"], a["topic"], a["partition"], a.get("group")):
            {k: a[k] for k in FIELDS if k in a} for a in aggregates}
