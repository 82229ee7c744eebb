"""What a headless run amounts to: counts per group, what was lost, and a scenario's figures.

`RunSummary` reads the event stream as it comes (so a day-long run need not keep its events)
and, at the end, one snapshot for the lag. A scenario's ``figures`` are per-record waits: for
each record (topic, partition, offset) the time from the first event matching ``from`` to the
first later event matching ``to``, e.g. a customer's wait from ``record.produced`` to
``record.acked``. The command line prints `format_summary`; tests read `as_dict`.
"""


def matches(event: dict, flt: dict) -> bool:
    """Whether `event` has every field `flt` names, with the same value (a figure's ends, a
    narration step's `when`)."""
    return all(event.get(k) == v for k, v in flt.items())


class _Figure:
    __slots__ = ("label", "start", "end", "started", "waits")

    def __init__(self, spec: dict):
        self.label = spec["label"]
        self.start = spec["from"]
        self.end = spec["to"]
        self.started: dict[tuple, int] = {}
        self.waits: list[int] = []

    def feed(self, event: dict) -> None:
        if "offset" not in event:
            return
        record = (event.get("topic"), event.get("partition"), event["offset"])
        if matches(event, self.end):
            start = self.started.pop(record, None)
            if start is not None:
                self.waits.append(event["t_ms"] - start)
                return
        if matches(event, self.start) and record not in self.started:
            self.started[record] = event["t_ms"]

    def result(self) -> dict:
        waits = self.waits
        out = {"label": self.label, "count": len(waits), "pending": len(self.started)}
        if waits:
            ordered = sorted(waits)
            out.update(min_ms=ordered[0], max_ms=ordered[-1],
                       mean_ms=round(sum(waits) / len(waits), 1),
                       median_ms=ordered[len(ordered) // 2])
        return out


_GROUP_COUNTS = {"record.processed": "processed", "record.failed": "failed",
                 "record.retry_scheduled": "retried", "record.dead_lettered": "dead_lettered",
                 "record.timed_out": "timed_out"}
_RECORD_COUNTS = {"record.produced": "produced", "record.acked": "acked",
                  "produce.failed": "produce_failed", "record.lost": "lost",
                  "record.expired": None, "command.rejected": "commands_rejected"}


class RunSummary:
    def __init__(self, spec: dict):
        self.spec = spec
        self.groups: dict[str, dict] = {}
        self.records = {"produced": 0, "acked": 0, "produce_failed": 0, "produce_retried": 0,
                        "lost": 0, "expired": 0, "commands_rejected": 0}
        self.lost: list[dict] = []
        self.rejected: list[dict] = []
        self.figures = [_Figure(f) for f in spec.get("figures", []) if f is not None]
        self.events = 0
        self.last_t_ms = 0

    def _group(self, gid: str) -> dict:
        row = self.groups.get(gid)
        if row is None:
            row = self.groups[gid] = {"processed": 0, "failed": 0, "retried": 0,
                                      "dead_lettered": 0, "timed_out": 0, "lag": 0}
        return row

    def feed(self, events: list[dict]) -> None:
        for event in events:
            kind = event["type"]
            self.events += 1
            self.last_t_ms = event["t_ms"]
            column = _GROUP_COUNTS.get(kind)
            if column is not None and "group" in event:
                self._group(event["group"])[column] += 1
            elif kind in _RECORD_COUNTS:
                if kind == "record.expired":
                    self.records["expired"] += event.get("count", 1)
                elif kind == "produce.failed":
                    # A failed attempt the producer will retry is not a failed record; one
                    # it gives up on is, for every record it carried.
                    column = "produce_retried" if event.get("will_retry") else "produce_failed"
                    self.records[column] += event.get("count", 1)
                else:
                    self.records[_RECORD_COUNTS[kind]] += 1
                if kind == "record.lost" and len(self.lost) < 20:
                    self.lost.append({k: event.get(k) for k in ("t_ms", "topic", "partition",
                                                                 "offset", "key", "reason")})
                if kind == "command.rejected" and len(self.rejected) < 20:
                    self.rejected.append(event)
            elif kind == "group.created":
                self._group(event["group"])
            for figure in self.figures:
                figure.feed(event)

    def feed_aggregates(self, aggregates: list[dict]) -> None:
        """Per-record events a `Folding` sink counted instead of building (a run without
        figures needs only their numbers)."""
        for agg in aggregates:
            kind, count = agg["type"], agg["count"]
            self.events += count
            self.last_t_ms = max(self.last_t_ms, agg["last_t_ms"])
            column = _GROUP_COUNTS.get(kind)
            if column is not None and "group" in agg:
                self._group(agg["group"])[column] += count
            elif _RECORD_COUNTS.get(kind):
                self.records[_RECORD_COUNTS[kind]] += count

    def finish(self, snapshot: dict) -> None:
        for gid, group in snapshot["groups"].items():
            self._group(gid)["lag"] = sum(row["lag"] for row in group["lag"])
        self.now_ms = snapshot["now_ms"]

    def as_dict(self) -> dict:
        return {"groups": {g: dict(self.groups[g]) for g in sorted(self.groups)},
                "records": dict(self.records), "lost": list(self.lost),
                "rejected": list(self.rejected), "figures": [f.result() for f in self.figures],
                "events": self.events}


def format_ms(ms: int) -> str:
    """A virtual duration for people: 1,300 ms, 42.5 s, 3 min 20 s, 25 h."""
    if ms < 10_000:
        return f"{ms:,} ms"
    if ms < 120_000:
        return f"{ms / 1000:,.1f} s"
    if ms < 7_200_000:
        minutes, seconds = divmod(round(ms / 1000), 60)
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours = ms / 3_600_000
    return f"{hours:,.1f} h" if hours % 1 else f"{int(hours)} h"


def format_summary(spec: dict, seed, until_ms: int, summary: RunSummary) -> str:
    data = summary.as_dict()
    lines = [f"{spec['name']}: {spec['title']}",
             f"seed {seed}, {spec['brokers']} broker(s), {format_ms(until_ms)} of virtual time, "
             f"{data['events']:,} events"]
    if spec.get("teaches"):
        lines.append(f"teaches: {spec['teaches']}")
    r = data["records"]
    lines += ["", f"records: {r['produced']:,} produced, {r['acked']:,} acknowledged, "
              f"{r['produce_failed']:,} failed to produce "
              f"({r['produce_retried']:,} sends retried), {r['lost']:,} lost, "
              f"{r['expired']:,} expired by retention"]
    for lost in data["lost"][:5]:
        lines.append(f"  lost at {format_ms(lost['t_ms'])}: {lost['topic']}/{lost['partition']}"
                     f"/{lost['offset']} key {lost['key']!r} ({lost['reason']})")
    if r["lost"] > 5:
        lines.append(f"  ... and {r['lost'] - 5:,} more (--jsonl lists every record.lost)")
    if data["groups"]:
        width = max(12, *(len(g) for g in data["groups"]))
        heads = ("processed", "failed", "retried", "dead-lettered", "timed out", "lag")
        widths = [max(9, len(h)) for h in heads]
        lines += ["", f"{'group':<{width}}  " + "  ".join(
            f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))]
        for gid, row in data["groups"].items():
            cells = (row["processed"], row["failed"], row["retried"], row["dead_lettered"],
                     row["timed_out"], row["lag"])
            lines.append(f"{gid:<{width}}  " + "  ".join(
                f"{c:>{w},}" for c, w in zip(cells, widths, strict=True)))
    if data["figures"]:
        lines.append("")
        for f in data["figures"]:
            if f["count"]:
                lines.append(f"{f['label']}: mean {format_ms(round(f['mean_ms']))}, median "
                             f"{format_ms(f['median_ms'])}, min {format_ms(f['min_ms'])}, max "
                             f"{format_ms(f['max_ms'])} over {f['count']:,} records"
                             + (f" ({f['pending']:,} still waiting)" if f["pending"] else ""))
            else:
                lines.append(f"{f['label']}: no record got there"
                             + (f" ({f['pending']:,} still waiting)" if f["pending"] else ""))
    if data["rejected"]:
        lines.append("")
        for e in data["rejected"]:
            lines.append(f"timeline command at {format_ms(e['at_ms'])} rejected: "
                         f"{e['command'].get('type')}: {e['field']}: {e['message']}")
    return "\n".join(lines) + "\n"
