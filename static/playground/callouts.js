// Callouts: what just happened that a lesson is about, said on the cluster where the eye is,
// not only in the collapsed event log: acknowledged records lost (how many, which, why; a
// click inspects one), dead letters, timeouts, elections and controller moves.
//
// Each callout is built from events (never from HTML: user text goes in with textContent via
// el()). Losses stay until dismissed (an acknowledged write is gone: nobody should miss it);
// the others give way to newer ones, at most MAX_SHOWN at a time. Events at the same virtual
// instant are told together ("3 acknowledged records lost"), so a burst is one callout.

import {el} from "./render.js";
import {formatClock} from "./timeline.js";

const MAX_SHOWN = 4;
const FADE_MS = 12_000; // wall time a passing callout stays (losses stay until dismissed)

export class Callouts {
  constructor(list, {inspect}) {
    this.list = list;
    this.inspect = inspect;
    this.groups = new Map(); // "kind|t_ms|scope" -> {li, items, ...}
  }

  clear() {
    this.list.replaceChildren();
    this.groups.clear();
  }

  // One event from a frame (after the model applied it; `model` is the page's copy).
  event(e, model) {
    switch (e.type) {
      case "record.lost":
        this.add("lost", e, `${e.topic}/${e.partition}`, {
          level: "red", sticky: true, record: `${e.topic}/${e.partition}/${e.offset}`, key: e.key,
          one: (n) => `${n === 1 ? "An acknowledged record was" : `${n} acknowledged records were`} lost on ${e.topic}/${e.partition}`,
          why: e.reason || "the new leader never had it",
        });
        break;
      case "record.dead_lettered":
        this.add("dead", e, e.group, {
          level: "red", record: `${e.topic}/${e.partition}/${e.offset}`, key: model.trail?.(`${e.topic}/${e.partition}/${e.offset}`)?.key,
          one: (n) => `${e.group}: ${n === 1 ? "a record went" : `${n} records went`} to the dead-letter topic ${e.dead_letter_topic}`,
          why: `after ${e.attempts} attempt${e.attempts === 1 ? "" : "s"}${e.reason ? ` (${e.reason})` : ""}`,
        });
        break;
      case "record.timed_out":
        this.add("timeout", e, e.group, {
          level: "amber", record: `${e.topic}/${e.partition}/${e.offset}`, key: model.trail?.(`${e.topic}/${e.partition}/${e.offset}`)?.key,
          one: (n) => `${e.group}: ${n === 1 ? "a record" : `${n} records`} timed out on ${e.consumer}`,
          why: e.kind === "message" ? `it waited ${formatSpan(e.age_ms)} (message timeout)` : `processing took over ${formatSpan(e.processing_timeout_ms)}`,
        });
        break;
      case "partition.leader_elected":
        if (e.previous_leader == null && !e.unclean) break; // a topic's first leaders
        this.add("elected", e, e.unclean ? "unclean" : "clean", {
          level: e.unclean ? "red" : "blue",
          one: (n) => n === 1
            ? `${e.topic}/${e.partition}: broker ${e.leader} is the leader now${e.previous_leader != null ? ` (was ${e.previous_leader})` : ""}`
            : `${n} partitions have new leaders`,
          why: e.unclean ? "unclean election: an out-of-sync replica took over, records only the old leader had are gone" : (e.reason || "elected from the in-sync replicas"),
        });
        break;
      case "partition.offline":
        this.add("offline", e, "", {
          level: "red", one: (n) => n === 1 ? `${e.topic}/${e.partition} is offline` : `${n} partitions are offline`,
          why: e.reason || "no live replica in the ISR",
        });
        break;
      case "controller.elected":
        if (!e.t_ms) break; // the first controller, at 0 ms
        this.add("controller", e, "", {level: "blue", one: () => `Broker ${e.broker} is the controller now`, why: `epoch ${e.epoch}`});
        break;
      case "controller.none":
        this.add("controller", e, "none", {level: "red", one: () => "No controller: no broker can take the role", why: e.reason || ""});
        break;
      default:
        break;
    }
  }

  add(kind, e, scope, spec) {
    const id = `${kind}|${e.t_ms}|${scope}`;
    let g = this.groups.get(id);
    if (!g) {
      g = {kind, items: [], li: el("li", {class: `callout ${spec.level}${spec.sticky ? " sticky" : ""}`, "data-callout": kind}), spec};
      this.groups.set(id, g);
      this.list.prepend(g.li);
      if (!spec.sticky) g.timer = setTimeout(() => this.remove(id), FADE_MS);
      this.trim();
    }
    g.items.push({record: spec.record, key: spec.key});
    this.draw(id, g, e, spec);
  }

  draw(id, g, e, spec) {
    const n = g.items.length;
    const head = el("p", {class: "callout-head"},
      el("span", {class: "callout-time num muted", text: `${formatClock(e.t_ms)} `}),
      el("strong", {text: spec.one(n)}));
    const why = spec.why ? el("p", {class: "callout-why", text: spec.why}) : null;
    const records = g.items.filter((r) => r.record).slice(0, 5);
    const which = records.length ? el("p", {class: "callout-records"},
      ...records.map((r) => el("button", {type: "button", class: "linkish", "data-callout-record": r.record,
        title: "Inspect this record", text: r.key != null ? `${r.record} (key ${r.key})` : r.record})),
      n > records.length ? el("span", {class: "muted", text: ` and ${n - records.length} more`}) : null) : null;
    const close = el("button", {type: "button", class: "callout-close", "aria-label": "Dismiss", text: "×"});
    close.addEventListener("click", () => this.remove(id));
    g.li.replaceChildren(...[head, why, which, close].filter(Boolean));
    for (const b of g.li.querySelectorAll("[data-callout-record]")) b.addEventListener("click", () => this.inspect(b.dataset.calloutRecord));
  }

  remove(id) {
    const g = this.groups.get(id);
    if (!g) return;
    clearTimeout(g.timer);
    g.li.remove();
    this.groups.delete(id);
  }

  // The newest MAX_SHOWN stay; passing ones go first, losses last.
  trim() {
    const ids = [...this.groups.keys()];
    while (this.groups.size > MAX_SHOWN) {
      const victim = ids.find((k) => this.groups.has(k) && !this.groups.get(k).spec.sticky) ?? ids.find((k) => this.groups.has(k));
      this.remove(victim);
    }
  }
}

// 86,400,000 ms -> "24 h"; 12,345 -> "12.3 s".
export function formatSpan(ms) {
  if (ms == null) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h} h${m ? ` ${m} min` : ""}`;
  return `${m} min${sec ? ` ${sec} s` : ""}`;
}

// What a countdown says: "12.3 s", "4:05", "23:59:48".
export function formatLeft(ms) {
  if (ms <= 0) return "any moment";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.ceil(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (x) => String(x).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

// Keep every countdown on the page running from the room's clock (`nowMs`).
export function tickCountdowns(root, nowMs) {
  for (const c of root.querySelectorAll(".countdown[data-until-ms]")) {
    const left = Number(c.dataset.untilMs) - nowMs;
    const text = `${c.dataset.label} ${formatLeft(left)}`;
    if (c.textContent !== text) c.textContent = text;
    c.classList.toggle("due", left <= 0);
  }
}
