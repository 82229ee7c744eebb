// The event log: every event and aggregate as a line, in three bounded stores, drawn at most
// four times a second by the frame loop (flushLog), with its filter, its per-record switch and
// the hint under it. The stores are the log's own, private to this module.

import {$, el} from "./dom.js";
import {formatClock} from "./timeline.js";
import {state} from "./state.js";
import {announceEvent} from "./announce.js";

const {clock} = state;
const RECORD_TYPES = /^(record\.(produced|replicated|acked|delivered|processed)|offset\.committed|partition\.high_watermark)$/;
const LOG_LIMIT = 400;

const logList = $("#log-list");
const logFilter = $("#log-filter");
const logRecords = $("#log-records");
// The log keeps its lines in three bounded stores, so that no kind of line pushes out another:
// per-record lines (hidden unless ticked, so a busy producer cannot evict what is shown), the
// other lines, and the lines a lesson is about — elections, controller moves, losses, dead
// letters, timeouts, rebalances, crashes — which only newer such lines evict.
const LOG_KEPT_LIMIT = 200;
const LOG_KEEP = {record: LOG_LIMIT, ordinary: LOG_LIMIT, kept: LOG_KEPT_LIMIT};
const LOG_KEPT = /^(partition\.(leader_elected|offline|assigned|revoked)|leader\.preferred_election|controller\.\w+|record\.(lost|truncated|dead_lettered|dropped|timed_out|abandoned)|dead_letter\.\w+|group\.(rebalance_started|rebalance_completed|member_expired|member_pending_expired)|broker\.(stopped|started|session_expired)|consumer\.(crashed|hung|recovered)|replica\.truncated)$/;
const logStores = {record: [], ordinary: [], kept: []};
let logSeq = 0;       // numbers the lines in arrival order
let logDrawn = 0;     // the newest line number the DOM has been drawn up to
let logSkipped = 0;   // lines that would have been shown but came and went between two draws
let logSkippedT = 0;
let logRun = null;    // the per-record events since the newest other line (see countRun)
let logAt = 0;

function describe(e) {
  const rec = e.topic != null && e.offset != null ? `${e.topic}/${e.partition}@${e.offset}` : "";
  switch (e.type) {
    case "record.produced": return `produced ${rec} key=${e.key ?? "∅"} on broker ${e.leader}`;
    case "record.replicated": return `broker ${e.broker} copied ${e.count ?? 1} of ${e.topic}/${e.partition} from offset ${e.offset}`;
    case "record.acked": return `acked ${rec}`;
    case "record.delivered": return `${e.group}: ${rec} delivered to ${e.consumer} (attempt ${e.attempt ?? 1})`;
    case "record.processed": return `${e.group}: ${rec} processed by ${e.consumer}`;
    case "record.failed": return `${e.group}: ${rec} failed on ${e.consumer}`;
    case "record.retry_scheduled": return `${e.group}: ${rec} will be retried`;
    case "record.timed_out": return `${e.group}: ${rec} timed out (${e.kind})`;
    case "record.dead_lettered": return `${e.group}: ${rec} dead-lettered to ${e.dead_letter_topic}`;
    case "record.lost": return `LOST ${rec} key=${e.key ?? "∅"}: ${e.reason}`;
    case "record.truncated": return `truncated ${rec} key=${e.key ?? "∅"}: ${e.reason}`;
    case "record.dropped": return `${e.group}: ${rec} dropped after ${e.attempts} attempts: ${e.why || e.reason}`;
    case "record.abandoned": return `${e.group}: ${rec} abandoned by ${e.consumer}: ${e.reason}`;
    case "offset.committed": return `${e.group}: committed ${e.topic}/${e.partition} at ${e.offset}`;
    case "partition.high_watermark": return `${e.topic}/${e.partition} high watermark ${e.high_watermark}`;
    case "partition.leader_elected": return `${e.topic}/${e.partition}: leader is now ${e.leader == null ? "none" : "broker " + e.leader} (epoch ${e.epoch})${e.unclean ? ", unclean" : ""}`;
    case "partition.isr_changed": return `${e.topic}/${e.partition}: ISR [${(e.isr || []).join(", ")}]`;
    case "partition.assigned": return `${e.group}: ${e.consumer} gets ${(e.partitions || []).map((x) => x.join("/")).join(", ")}`;
    case "partition.revoked": return `${e.group}: ${e.consumer} gives up ${(e.partitions || []).map((x) => x.join("/")).join(", ")}`;
    case "group.state_changed": return `${e.group}: ${e.from} → ${e.to}`;
    case "group.member_joined": return `${e.group}: ${e.consumer} joined`;
    case "group.member_left": return `${e.group}: ${e.consumer} left`;
    case "group.member_expired": return `${e.group}: ${e.consumer} expired (session timeout)`;
    case "consumer.crashed": return `${e.group}: ${e.consumer} crashed`;
    case "broker.stopped": return `broker ${e.broker} stopped${e.mode ? " (" + e.mode + ")" : ""}`;
    case "broker.started": return `broker ${e.broker} started`;
    case "broker.session_expired": return `broker ${e.broker}'s ZooKeeper session expired: the controller treats it as gone`;
    case "partition.offline": return `${e.topic}/${e.partition} is OFFLINE: ${e.reason || "no leader"}`;
    case "replica.truncated": return `broker ${e.broker} truncated ${e.topic}/${e.partition} to offset ${e.offset} (${e.reason || ""})`;
    case "consumer.hung": return `${e.group}: ${e.consumer} hung while processing`;
    case "controller.elected": return `controller is broker ${e.broker} (epoch ${e.epoch})`;
    case "produce.failed": return `produce to ${e.topic} failed: ${e.error}`;
    case "topic.created": return `topic ${e.topic} created (${e.partitions} partitions)`;
    case "topic.deleted": return `topic ${e.topic} deleted, with its records`;
    case "topic.config_changed": return `topic ${e.topic}: ${Object.entries(e.changes || {}).map(([k, v]) => k + " " + (e.previous?.[k] ?? "?") + " → " + v).join(", ") || "config unchanged"}`;
    case "topic.partitions_added": return `topic ${e.topic} grew from ${e.previous ?? "?"} to ${e.partitions} partitions (keys may now map elsewhere)`;
    case "consumer.recovered": return `${e.group}: ${e.consumer} recovered`;
    case "dead_letter.replay_started": return `replaying ${e.records} record${e.records === 1 ? "" : "s"} from ${e.topic}`;
    case "dead_letter.replayed": return `${e.topic}: ${e.replayed} replayed to their original topics, ${e.skipped} skipped`;
    case "group.rebalance_started": return `${e.group}: rebalance started, generation ${e.generation}${e.reason ? " (" + e.reason + ")" : ""}`;
    case "group.rebalance_completed": return `${e.group}: rebalance done, generation ${e.generation}: ${Object.entries(e.assignment || {}).map(([m, tps]) => m + " gets " + (tps.map((x) => x.join("/")).join(", ") || "nothing")).join("; ") || "no members"}`;
    case "controller.none": return `no controller: ${e.reason}`;
    case "leader.preferred_election": return `preferred leader election: ${e.moved} of ${e.partitions} partitions moved`;
    default: {
      const bits = ["group", "consumer", "topic", "partition", "broker", "path", "producer"].filter((k) => e[k] != null).map((k) => `${k}=${e[k]}`);
      return bits.join(" ");
    }
  }
}

function describeAggregate(a) {
  const where = a.topic != null ? ` on ${a.topic}/${a.partition}` : "";
  const who = a.group != null ? `${a.group}: ` : "";
  const range = a.first_offset != null ? `, offsets ${a.first_offset}–${a.last_offset}` : "";
  return `${who}${a.count.toLocaleString("en-US")} × ${a.type}${where}${range} (counted, not drawn)`;
}

const LOG_WARN = /lost|failed|dead|stopped|crash|expired|offline|hung|truncated|timed_out|dropped|abandoned|controller\.none/;
function logClass(type) {
  return RECORD_TYPES.test(type) ? "record" : LOG_WARN.test(type) ? "warning" : "event";
}

export function logEvent(e) {
  const cls = logClass(e.type);
  if (cls === "record") countRun(1, e.t_ms ?? clock.nowMs, false);
  logLine(describe(e), cls, e.type, e.t_ms);
  if (!RECORD_TYPES.test(e.type)) announceEvent(e, describe);
}

// An aggregate stands for events the frame had no room to carry whole. It has no time of its own
// but ends where the frame's clock is: stamped with the last whole event's time instead, the log
// stayed 20 s behind the clock after "+1 min" (a frame carries its earliest records whole).
export function logAggregate(a) {
  const cls = logClass(a.type);
  if (cls === "record") countRun(a.count, clock.nowMs, true);
  // Another aggregate (produce.failed, say) does not end the run of per-record events.
  logLine(describeAggregate(a), cls, a.type, clock.nowMs, false);
}

// With per-record lines off, one line stands for the per-record events since the newest other
// line, at the bottom of the log and at the newest one's time, so the log follows the clock
// while only records flow; the next other line leaves it in place and starts a new run.
function countRun(count, t, aggregated) {
  if (!logRun) logRun = {n: 0, cls: "summary", type: "", text: "", t, kept: false, li: null, count: 0, counted: 0};
  logRun.count += count;
  if (aggregated) logRun.counted += count;
  logRun.t = Math.max(logRun.t, t);
  logRun.text = "";
}

function runText(run) {
  const n = run.count.toLocaleString("en-US");
  const counted = !run.counted ? "" : run.counted === run.count ? " (counted, not drawn)" : ` (${run.counted.toLocaleString("en-US")} of them counted, not drawn)`;
  return `… ${n} per-record ${run.count === 1 ? "event" : "events"}${counted}`;
}

export function logLine(text, cls, type = "", t_ms = null, endsRun = true) {
  if (cls !== "record" && endsRun && logRun) {
    const run = logRun;
    logRun = null;
    run.text = runText(run);
    run.n = ++logSeq;
    run.li?.remove(); // drawn again, in its place, with the lines that come after it
    storeLine(run, "ordinary");
  }
  // A line with no time of its own (a notice, a refusal, a snapshot) is at the room's clock.
  const entry = {n: ++logSeq, text, cls, type, t: t_ms ?? clock.nowMs, kept: LOG_KEPT.test(type), li: null};
  storeLine(entry, entry.kept ? "kept" : cls === "record" ? "record" : "ordinary");
  return entry;
}

function storeLine(entry, kind) {
  const store = logStores[kind];
  store.push(entry);
  if (store.length > LOG_KEEP[kind] * 2) trimLogStore(kind, logQuery());
}

function logQuery() {
  return logFilter.value.trim().toLowerCase();
}
function logMatches(entry, q) {
  return !q || entry.text.toLowerCase().includes(q) || entry.type.includes(q);
}
// Per-record lines show when ticked; the lines that stand for them show when not.
function visible(entry, q) {
  if (entry.cls === "record" ? !logRecords.checked : entry.cls === "summary" && logRecords.checked) return false;
  return logMatches(entry, q);
}

function trimLogStore(kind, q) {
  const store = logStores[kind];
  const extra = store.length - LOG_KEEP[kind];
  if (extra <= 0) return;
  // A line that goes before it was ever drawn, and would have been shown, is counted as skipped.
  for (let i = 0; i < extra; i++) if (store[i].n > logDrawn && visible(store[i], q)) noteSkipped(store[i]);
  store.splice(0, extra);
}

function noteSkipped(entry) {
  logSkipped += 1;
  logSkippedT = Math.max(logSkippedT, entry.t);
}

// Every stored line `keep` accepts, oldest first.
function logEntries(keep) {
  return Object.values(logStores).flatMap((s) => s.filter(keep)).sort((a, b) => a.n - b.n);
}

function logItem(entry) {
  const li = el("li", {class: entry.kept ? `${entry.cls} kept` : entry.cls, "data-type": entry.type},
    el("span", {class: "num muted", text: formatClock(entry.t)}),
    document.createTextNode(" " + (entry.type ? entry.type + "  " : "") + entry.text));
  li._entry = entry;
  entry.li = li;
  return li;
}

// Draws `entries` (shown lines, oldest first) below the log, or instead of it. The cap counts
// shown lines only: LOG_LIMIT ordinary ones (per-record lines among them when ticked), and the
// kept ones apart, evicted only by newer kept ones. When more come at once than the cap holds,
// the newest are drawn and one line says how many were skipped.
function drawLog(entries, rebuild, q) {
  const atBottom = rebuild || logList.scrollHeight - logList.scrollTop - logList.clientHeight < 30;
  const ordinary = entries.reduce((k, e) => k + (e.kept ? 0 : 1), 0);
  // The line that says how many were skipped, and the run's line below, take their places, so
  // the cap does not evict them.
  const room = LOG_LIMIT - (logRun ? 1 : 0);
  const skipping = !rebuild && (logSkipped > 0 || ordinary > room);
  let excess = ordinary - (skipping ? room - 1 : room);
  const frag = document.createDocumentFragment();
  const draw = [];
  for (const e of entries) {
    if (!e.kept && excess > 0) {
      excess -= 1;
      if (!rebuild) noteSkipped(e);
    } else {
      draw.push(e);
    }
  }
  if (logSkipped && !rebuild) {
    const k = logSkipped;
    frag.append(logItem({n: 0, cls: "skipped", type: "", t: logSkippedT, kept: false,
      text: `… ${k.toLocaleString("en-US")} ${k === 1 ? "line" : "lines"} skipped: more came at once than the log keeps`}));
  }
  logSkipped = 0;
  logSkippedT = 0;
  for (const e of draw) frag.append(logItem(e));
  if (rebuild) logList.replaceChildren(frag);
  else logList.append(frag);
  placeRun(q);
  trimLogDom();
  if (atBottom) logList.scrollTop = logList.scrollHeight;
  $("#log-count").textContent = `${logList.childElementCount}`;
  showLogHint();
}

// The run of per-record events goes last, with its count brought up to date.
function placeRun(q) {
  const run = logRun;
  if (!run) return;
  if (!run.text) {
    run.text = runText(run);
    run.li?.remove();
    run.li = null;
  }
  if (!visible(run, q)) {
    run.li?.remove();
    return;
  }
  logList.append(run.li || logItem(run));
}

function trimLogDom() {
  let ordinary = -LOG_LIMIT;
  let kept = -LOG_KEPT_LIMIT;
  for (const li of logList.children) {
    if (li._entry.kept) kept += 1;
    else ordinary += 1;
  }
  for (let li = logList.firstElementChild; li && (ordinary > 0 || kept > 0);) {
    const next = li.nextElementSibling;
    if (li._entry.kept ? kept-- > 0 : ordinary-- > 0) li.remove();
    li = next;
  }
}

// The log's DOM is touched at most four times a second, whatever the event rate.
export function flushLog(now) {
  if (logSeq === logDrawn || now - logAt < 250) return;
  logAt = now;
  const q = logQuery();
  for (const kind of Object.keys(logStores)) trimLogStore(kind, q);
  const fresh = logEntries((e) => e.n > logDrawn && visible(e, q));
  logDrawn = logSeq;
  drawLog(fresh, false, q);
}

function redrawLog() {
  const q = logQuery();
  for (const kind of Object.keys(logStores)) trimLogStore(kind, q);
  logDrawn = logSeq;
  logSkipped = 0;
  drawLog(logEntries((e) => visible(e, q)), true, q);
}

// A filter that matches only lines the log hides says how to show them.
function showLogHint() {
  const q = logQuery();
  const hidden = q && !logRecords.checked ? logStores.record.filter((e) => logMatches(e, q)).length : 0;
  const shown = logList.childElementCount;
  let text = "";
  if (hidden) {
    text = `${hidden.toLocaleString("en-US")} ${shown ? "more " : ""}matching per-record ${hidden === 1 ? "line is" : "lines are"} hidden — tick 'per-record events'`;
  } else if (q && !shown) {
    text = `Nothing in the log matches “${logFilter.value.trim()}”.`;
  }
  const out = $("#log-hint-text");
  if (out.textContent !== text) out.textContent = text;
  $("#log-hint-show").hidden = !hidden;
}

function openLog(open) {
  $("#log").classList.toggle("open", open);
  $("#log-toggle").setAttribute("aria-expanded", String(open));
}
// Typing a filter into a closed log opens it: the answer is in the list.
logFilter.addEventListener("input", () => {
  if (logQuery()) openLog(true);
  redrawLog();
});
logRecords.addEventListener("change", redrawLog);
$("#log-hint-show").addEventListener("click", () => {
  logRecords.checked = true;
  redrawLog();
  logRecords.focus();
});
$("#log-toggle").addEventListener("click", () => openLog(!$("#log").classList.contains("open")));
