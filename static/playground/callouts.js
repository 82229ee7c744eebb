// Callouts: what just happened that a lesson is about, said on the cluster where the eye is,
// not only in the collapsed event log: acknowledged records lost (how many, which, why; a
// click inspects one), dead letters, timeouts, elections and controller moves.
//
// Each callout is built from events (never from HTML: user text goes in with textContent via
// el()). Losses stay until dismissed (an acknowledged write is gone: nobody should miss it);
// the others give way to newer ones, at most MAX_SHOWN at a time. Events of one kind at the
// same virtual instant are told together ("3 acknowledged records were lost"), so a burst is
// one callout; it keeps the first RECORDS_NAMED records and counts the rest, and is drawn
// once per frame (flush), however many events the frame brought.

import {el} from "./dom.js";
import {recordId} from "./model.js";
import {formatDuration, shortClock} from "./timeline.js";

const MAX_SHOWN = 4;
const RECORDS_NAMED = 5;
const FADE_MS = 12_000; // wall time a passing callout stays (losses stay until dismissed)

export class Callouts {
  constructor(list, {inspect}) {
    this.list = list;
    this.groups = new Map(); // "kind|t_ms|scope" -> {li, spec, t_ms, n, records}
    this.dirty = new Set();
    // One listener for every callout's buttons: they are redrawn, the list stays.
    list.addEventListener("click", (ev) => {
      const record = ev.target.closest("[data-callout-record]");
      if (record) inspect(record.dataset.calloutRecord);
      const close = ev.target.closest("[data-callout-close]");
      if (close) this.remove(close.dataset.calloutClose);
    });
  }

  // A snapshot took the room back (a rewind, a seek): what happened after it has not happened.
  forgetAfter(nowMs) {
    for (const [id, g] of this.groups) if (g.t_ms > nowMs) this.remove(id);
  }

  // One event from a frame (after the model applied it; `model` is the page's copy).
  event(e, model) {
    const id = e.offset != null ? recordId(e.topic, e.partition, e.offset) : null;
    switch (e.type) {
      case "record.lost":
        this.add("lost", e, `${e.topic}/${e.partition}`, id, e.key, {
          level: "red", sticky: true,
          say: (n) => `${n === 1 ? "An acknowledged record was" : n + " acknowledged records were"} lost on ${e.topic}/${e.partition}`,
          why: e.reason || "the new leader never had it",
        });
        break;
      case "record.dead_lettered":
        this.add("dead", e, e.group, id, model.trail(id)?.key, {
          level: "red",
          say: (n) => `${e.group}: ${n === 1 ? "a record went" : n + " records went"} to the dead-letter topic ${e.dead_letter_topic}`,
          why: `after ${e.attempts} attempt${e.attempts === 1 ? "" : "s"}${e.reason ? " (" + e.reason + ")" : ""}`,
        });
        break;
      case "record.timed_out":
        this.add("timeout", e, e.group, id, model.trail(id)?.key, {
          level: "amber",
          say: (n) => `${e.group}: ${n === 1 ? "a record" : n + " records"} timed out on ${e.consumer}`,
          why: e.kind === "message" ? `it waited ${formatDuration(e.age_ms)} (message timeout)` : `processing took over ${formatDuration(e.processing_timeout_ms)}`,
        });
        break;
      case "partition.leader_elected":
        if (e.previous_leader == null && !e.unclean) break; // a topic's first leaders
        this.add("elected", e, e.unclean ? "unclean" : "clean", null, null, {
          level: e.unclean ? "red" : "blue",
          say: (n) => n === 1
            ? `${e.topic}/${e.partition}: broker ${e.leader} is the leader now${e.previous_leader != null ? " (was " + e.previous_leader + ")" : ""}`
            : `${n} partitions have new leaders`,
          why: e.unclean ? "unclean election: an out-of-sync replica took over, records only the old leader had are gone" : (e.reason || "elected from the in-sync replicas"),
        });
        break;
      case "partition.offline":
        this.add("offline", e, "", null, null, {
          level: "red", say: (n) => n === 1 ? `${e.topic}/${e.partition} is offline` : `${n} partitions are offline`,
          why: e.reason || "no live replica in the ISR",
        });
        break;
      case "controller.elected":
        if (!e.t_ms) break; // the first controller, at 0 ms
        this.add("controller", e, "", null, null, {level: "blue", say: () => `Broker ${e.broker} is the controller now`, why: `epoch ${e.epoch}`});
        break;
      case "controller.none":
        this.add("controller", e, "none", null, null, {level: "red", say: () => "No controller: no broker can take the role", why: e.reason || ""});
        break;
      default:
        break;
    }
  }

  add(kind, e, scope, record, key, spec) {
    const id = `${kind}|${e.t_ms}|${scope}`;
    let g = this.groups.get(id);
    if (!g) {
      g = {li: el("li", {class: `callout ${spec.level}`, "data-callout": kind}), spec, t_ms: e.t_ms, n: 0, records: []};
      this.groups.set(id, g);
      this.list.prepend(g.li);
      if (!spec.sticky) g.timer = setTimeout(() => this.remove(id), FADE_MS);
      this.trim();
    }
    g.n += 1;
    g.spec = spec; // the newest event's wording
    if (record && g.records.length < RECORDS_NAMED) g.records.push({record, key});
    this.dirty.add(id);
  }

  // Draw the callouts this frame's events touched (ui.js calls it after each frame).
  flush() {
    for (const id of this.dirty) {
      const g = this.groups.get(id);
      if (g) this.draw(id, g);
    }
    this.dirty.clear();
  }

  draw(id, g) {
    const {spec, n, records} = g;
    g.li.replaceChildren(...[
      el("p", {class: "callout-head"},
        el("span", {class: "callout-time num muted", text: `${shortClock(g.t_ms)} `}),
        el("strong", {text: spec.say(n)})),
      spec.why ? el("p", {class: "callout-why", text: spec.why}) : null,
      records.length ? el("p", {class: "callout-records"},
        ...records.map((r) => el("button", {type: "button", class: "linkish", "data-callout-record": r.record,
          title: "Inspect this record", text: r.key != null ? `${r.record} (key ${r.key})` : r.record})),
        n > records.length ? el("span", {class: "muted", text: ` and ${n - records.length} more`}) : null) : null,
      el("button", {type: "button", class: "callout-close", "data-callout-close": id, "aria-label": "Dismiss", text: "×"}),
    ].filter(Boolean));
  }

  remove(id) {
    const g = this.groups.get(id);
    if (!g) return;
    clearTimeout(g.timer);
    g.li.remove();
    this.groups.delete(id);
    this.dirty.delete(id);
  }

  // The newest MAX_SHOWN stay; passing ones go first, losses last.
  trim() {
    while (this.groups.size > MAX_SHOWN) {
      const ids = [...this.groups.keys()];
      this.remove(ids.find((k) => !this.groups.get(k).spec.sticky) ?? ids[0]);
    }
  }
}

// What a countdown says: "12.3 s", then "4:05", "23:59:48".
function formatLeft(ms) {
  if (ms <= 0) return "any moment";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return shortClock(Math.ceil(ms / 1000) * 1000);
}

// Keep every countdown under `root` running from the room's clock (`nowMs`).
export function tickCountdowns(root, nowMs) {
  for (const c of root.querySelectorAll(".countdown[data-until-ms]")) {
    const left = Number(c.dataset.untilMs) - nowMs;
    const text = `${c.dataset.label} ${formatLeft(left)}`;
    if (c.textContent !== text) c.textContent = text;
    c.classList.toggle("due", left <= 0);
  }
}

// A deadline the model announced (a session, a processing timeout, a back-off, the ISR's
// patience): drawn on the thing that will change, its text kept running by ui.js's ticker
// (tickCountdowns) from the room's clock, so it counts at the room's speed and stops when
// the room pauses.
export function countdown(untilMs, label, kind) {
  return el("span", {class: `countdown ${kind}`, "data-until-ms": String(untilMs), "data-label": label,
    role: "timer", text: label});
}
