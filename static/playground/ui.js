// The room page's entry point: wires the socket to the model, the model to the renderer, and
// the controls, keyboard, inspector, narration and event log to the socket.
//
// One requestAnimationFrame loop does all DOM work: frames from the socket only change the
// model and mark what is dirty.

import {Model, murmur2, recordId, splitTp, tpId} from "./model.js";
import {Renderer, el, keyStyle, keyLabel, cssEsc, isSideTopic, lock} from "./render.js";
import {Clock, formatClock, formatSpeed, jumpProgress, shortClock, sliderToSpeed, speedToSlider} from "./timeline.js";
import {RoomSocket} from "./socket.js";
import {Session} from "./session.js";
import {flushFigures, loadFigures, updateFigures} from "./figures.js";
import {Callouts, tickCountdowns} from "./callouts.js";

const $ = (sel, root = document) => root.querySelector(sel);
const reducedQuery = window.matchMedia("(prefers-reduced-motion: reduce)");
const RECORD_TYPES = /^(record\.(produced|replicated|acked|delivered|processed)|offset\.committed|partition\.high_watermark)$/;
const LOG_LIMIT = 400;

const bootstrap = JSON.parse($("#room-bootstrap").textContent);
// Topics and groups drawn in the order the room made them (the scenario's), not by name.
const model = new Model({topics: bootstrap.topic_order, groups: bootstrap.group_order});
const clock = new Clock();
let scenario = bootstrap.scenario || {};
let narrationStep = 0;

const renderer = new Renderer(document.body, model, {
  reduced: reducedQuery.matches,
  speed: () => clock.speed,
  onArrive: (a) => document.dispatchEvent(new CustomEvent("playground:arrived", {detail: a})),
});
reducedQuery.addEventListener("change", () => { renderer.reduced = reducedQuery.matches; });

// --- socket ----------------------------------------------------------------------------------
const socket = new RoomSocket(bootstrap.ws_path, {
  onSnapshot(msg) {
    model.loadSnapshot(msg.state, msg.seq);
    const room = msg.room || {};
    if (room.clock) clock.set(room.clock);
    else clock.set({now_ms: msg.state.now_ms});
    session.onSnapshotRoom(room);
    session.onClock(room.clock);
    if (room.scenario) scenario = room.scenario;
    narrationStep = room.narration_step ?? narrationStep;
    showViewers(room.viewers);
    loadFigures(room.figures);
    callouts.forgetAfter(msg.state.now_ms ?? 0);
    renderer.markAll();
    fillTopicSelect(produceForm.elements.topic);
    renderNarration();
    logLine(`snapshot at event ${msg.seq}`, "system");
    for (const n of room.notices || []) notice(n);
    refreshInspector();
    syncTimeControls();
  },
  onFrame(frame) {
    if (frame.clock) clock.set(frame.clock);
    session.onClock(frame.clock);
    for (const ev of frame.events || []) {
      for (const effect of model.apply(ev)) renderer.mark(effect);
      callouts.event(ev, model);
      logEvent(ev);
      if (ev.type.startsWith("topic.")) {
        fillTopicSelect(produceForm.elements.topic);
        if (inspecting?.kind === "topic" && inspecting.id === ev.topic) topicFormsDirty = true;
      }
    }
    for (const a of frame.aggregates || []) {
      for (const effect of model.applyAggregate(a)) renderer.mark(effect);
      logAggregate(a);
    }
    callouts.flush();
    if (frame.narration_step != null && frame.narration_step !== narrationStep) {
      narrationStep = frame.narration_step;
      renderNarration();
    }
    showViewers(frame.viewers);
    updateFigures(frame.figures);
    inspectorDirty = true;
    syncTimeControls();
  },
  onNotice: notice,
  onYou: (msg) => session.onYou(msg),
  onRoom: (msg) => session.onRoom(msg),
  onStatus(s) {
    const c = $("#conn");
    c.textContent = {open: "live", connecting: "connecting…", reconnecting: "reconnecting…",
      full: "server busy, retrying…", "too-many": "too many connections from your address, retrying…",
      gone: "room not found"}[s] || s;
    c.dataset.state = s;
    if (s === "gone") {
      const back = el("a", {href: "/", text: "Pick a scenario"});
      flash("This room no longer exists (rooms expire).", true);
      c.append(" · ", back);
    }
  },
});

const session = new Session({socket, clock, bootstrap, flash: (t) => flash(t), showError: (e) => showError(e), control: (a, x) => control(a, x)});
document.addEventListener("playground:locks", () => renderNarration());

// How many people have the room open (every frame says it): the presenter sees the class arrive.
function showViewers(n) {
  if (n == null) return;
  const text = n === 1 ? "only you watching" : `${n.toLocaleString("en-US")} watching`;
  const out = $("#viewers");
  if (out.textContent !== text) out.textContent = text;
}

function notice(n) {
  logLine(n.message, n.level === "warning" ? "warning" : "system");
  announce(n.message, true);
}

// --- the animation loop ------------------------------------------------------------------------
let shownClock = "";
let countdownsAt = -Infinity;
const stage = $("#main"); // brokers and groups: where render.js draws the countdowns
let inspectorDirty = false;
let topicFormsDirty = false;
let inspectorAt = 0;
function frameLoop(now) {
  renderer.flush(now);
  renderer.animate(now);
  session.tick(now);
  const text = formatClock(clock.read(now));
  if (text !== shownClock) {
    $("#clock").textContent = text;
    shownClock = text;
  }
  flushLog(now);
  flushFigures(now);
  // Countdowns run from the clock shown, a few times a second (not every animation frame).
  if (now - countdownsAt >= 200) {
    countdownsAt = now;
    tickCountdowns(stage, clock.read(now));
  }
  if ((inspectorDirty || topicFormsDirty) && now - inspectorAt > 500) {
    inspectorAt = now;
    inspectorDirty = false;
    refreshInspector();
    if (topicFormsDirty && inspecting?.kind === "topic") syncTopicForms(inspecting.id);
    topicFormsDirty = false;
  }
  requestAnimationFrame(frameLoop);
}
requestAnimationFrame(frameLoop);

// --- time controls -------------------------------------------------------------------------
const speedInput = $("#speed");
function syncTimeControls() {
  const play = $("#play");
  play.textContent = clock.playing ? "Pause" : "Play";
  play.setAttribute("aria-pressed", String(clock.playing));
  play.classList.toggle("primary", !clock.playing);
  $("#paused").hidden = clock.playing;
  if (document.activeElement !== speedInput) speedInput.value = speedToSlider(clock.speed);
  $("#speed-out").textContent = formatSpeed(clock.speed);
  const behind = $("#behind");
  behind.hidden = !(clock.playing && clock.behind);
  // A long jump runs over many server ticks (other rooms keep their share): show how far.
  const progress = jumpProgress(clock);
  const bar = $("#jump-progress");
  bar.hidden = progress == null;
  if (progress) {
    bar.querySelector("progress").value = progress.percent;
    bar.querySelector("progress").setAttribute("aria-valuetext", progress.label);
    $("#jump-label").textContent = progress.label;
  }
  // Real Kafka clients connected: the server refuses pause and speed changes, so say why.
  $("#realtime").hidden = !clock.realtime;
  speedInput.disabled = clock.realtime;
  const why = "Real Kafka clients are connected: this room runs at 1×";
  for (const button of [play, $("#step"), ...document.querySelectorAll("[data-jump]")]) {
    if (clock.realtime) {
      button.dataset.realtimeLock = "1";
      button.disabled = true;
      button.title = why;
    } else if (button.dataset.realtimeLock) {
      delete button.dataset.realtimeLock;
      button.disabled = false;
      button.removeAttribute("title");
    }
  }
}

async function control(action, extra = {}) {
  if (session.timeReason) {
    flash(session.timeReason, true);
    return null;
  }
  try {
    const ack = await socket.control(action, extra);
    if (action === "play" || action === "pause") clock.set({playing: action === "play"});
    if (action === "speed") clock.set({speed: extra.speed});
    syncTimeControls();
    return ack;
  } catch (err) {
    showError(err);
    return null;
  }
}

const togglePlay = () => control(clock.playing ? "pause" : "play");
$("#play").addEventListener("click", togglePlay);
$("#step").addEventListener("click", () => control("step"));
// Cancelling a jump is a pause: the room stays where the jump got to.
$("#jump-cancel").addEventListener("click", () => control("pause"));
for (const b of document.querySelectorAll("[data-jump]")) b.addEventListener("click", () => control("jump", {ms: Number(b.dataset.jump)}));
speedInput.addEventListener("input", () => { $("#speed-out").textContent = formatSpeed(sliderToSpeed(Number(speedInput.value))); });
speedInput.addEventListener("change", () => control("speed", {speed: sliderToSpeed(Number(speedInput.value))}));
speedInput.setAttribute("aria-valuetext", "1×");
speedInput.addEventListener("input", () => speedInput.setAttribute("aria-valuetext", formatSpeed(sliderToSpeed(Number(speedInput.value)))));

// --- keyboard --------------------------------------------------------------------------------
const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "Escape") {
    // An open dialog (confirm, shortcuts) takes its own Escape.
    if (document.querySelector("dialog[open]")) return;
    if (!$("#inspector").hidden) closeInspector();
    return;
  }
  if (typing(e.target)) return;
  if (e.key === " " && e.target.tagName !== "BUTTON" && e.target.tagName !== "SUMMARY") {
    e.preventDefault();
    togglePlay();
  } else if (e.key === "ArrowRight" && e.target.type !== "range") {
    e.preventDefault();
    control("step");
  } else if (e.key === "?") {
    e.preventDefault();
    $("#shortcuts").showModal();
  }
});
$("#help").addEventListener("click", () => $("#shortcuts").showModal());

// --- produce -----------------------------------------------------------------------------------
const produceForm = $("#produce-form");
// The topics a learner would send to first: those the producers use, then the rest, each in
// the scenario's order (a stable sort keeps the model's).
function fillTopicSelect(select, keep) {
  const used = [...model.producers.values()].map((p) => p.topic);
  const names = [...model.topics.keys()].sort((a, b) => used.includes(b) - used.includes(a));
  const current = keep ?? select.value;
  select.replaceChildren(...names.map((n) => el("option", {value: n, text: n})));
  if (names.includes(current)) select.value = current;
}
produceForm.addEventListener("focusin", () => fillTopicSelect(produceForm.elements.topic));
produceForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = produceForm.elements;
  fillTopicSelect(f.topic);
  const command = {type: "produce", topic: f.topic.value, value: f.value.value, acks: f.acks.value};
  if (f.key.value !== "") command.key = f.key.value;
  const headers = parseHeaders(f.headers.value);
  if (headers === null) {
    formStatus(produceForm, "headers: write them as name=value, separated by commas", true);
    return;
  }
  if (Object.keys(headers).length) command.headers = headers;
  await send(command, produceForm, "sent");
});

function parseHeaders(text) {
  const out = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i < 1) return null;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function send(command, form, okText = "done") {
  try {
    await socket.command(command);
    if (form) formStatus(form, okText, false);
    return true;
  } catch (err) {
    if (form) formStatus(form, errorText(err), true);
    else showError(err);
    return false;
  }
}

function formStatus(form, text, bad) {
  const out = form.querySelector(".form-status");
  if (!out) return;
  out.textContent = text;
  out.classList.toggle("bad", !!bad);
}

// A refusal as a person reads it: "command.partitions: must be …"; the room's own refusals
// (field "type": a viewer's command, a replay) are whole sentences and need no field.
function errorText(err) {
  if (err && err.field && err.field !== "type") return `${err.field}: ${err.message}`;
  return String(err && err.message ? err.message : err);
}

function showError(err) {
  const text = errorText(err);
  flash(text, true);
  logLine(`refused: ${text}`, "warning");
}

let flashTimer = 0;
function flash(text, bad = false) {
  const f = $("#flash");
  f.textContent = text;
  f.classList.toggle("bad", bad);
  f.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { f.hidden = true; }, 4000);
}

// --- actions (buttons anywhere with data-action / data-inspect) ----------------------------------
document.addEventListener("click", (e) => {
  const inspect = e.target.closest("[data-inspect]");
  if (inspect) {
    openInspector(inspect.dataset.inspect, inspect.dataset.id, inspect);
    return;
  }
  const token = !e.target.closest("button, input, select, a, summary") && renderer.tokenAt(e.clientX, e.clientY);
  if (token) {
    openInspector("record", token, null);
    return;
  }
  const cell = e.target.closest(".cell[data-record]");
  if (cell) {
    openInspector("record", cell.dataset.record, cell.closest(".lane")?.querySelector(".lane-label"));
    return;
  }
  const b = e.target.closest("[data-action]");
  if (!b) return;
  const {action, id, inGroup: group, mode} = b.dataset;
  switch (action) {
    case "broker.stop": send({type: "broker.stop", broker: Number(id), mode}); break;
    case "broker.start": send({type: "broker.start", broker: Number(id)}); break;
    case "consumer.remove": send({type: "consumer.remove", group, id}); break;
    case "consumer.crash": send({type: "consumer.crash", group, id}); break;
    case "consumer.hang": send({type: "consumer.hang", group, id, hangs: b.dataset.hangs === "true"}); break;
    case "producer.remove": send({type: "producer.remove", id}); break;
    case "consumer.add": openForm("consumer.add", {group}, b); break;
    case "producer.add": openForm("producer.add", {}, b); break;
    case "producer.tune": openForm("producer.add", {tune: id}, b); break;
    case "topic.create": openForm("topic.create", {}, b); break;
    case "group.configure": openForm("group.configure", {group}, b); break;
    default: break;
  }
});

// --- inspector drawer --------------------------------------------------------------------------
let inspecting = null; // {kind, id}
let opener = null;
const drawer = $("#inspector");

function openInspector(kind, id, from) {
  inspecting = {kind, id};
  opener = from || document.activeElement;
  drawer.hidden = false;
  refreshInspector(true);
  $("#inspector-title").focus();
}

function closeInspector() {
  drawer.hidden = true;
  inspecting = null;
  if (opener && document.contains(opener)) opener.focus();
}
$("#inspector-close").addEventListener("click", closeInspector);

function refreshInspector(withForms = false) {
  if (!inspecting || drawer.hidden) return;
  const {kind, id} = inspecting;
  const facts = $("#inspector-facts");
  const forms = $("#inspector-forms");
  // Never pull the facts out from under the keyboard.
  if (!withForms && facts.contains(document.activeElement)) return;
  if (kind === "record") {
    $("#inspector-title").textContent = `Record ${id}`;
    facts.replaceChildren(...recordFacts(id));
    if (withForms) forms.replaceChildren();
  } else if (kind === "partition") {
    const [topic, p] = splitTp(id);
    $("#inspector-title").textContent = `${topic} · partition ${p}`;
    facts.replaceChildren(...partitionFacts(topic, p));
    if (withForms) forms.replaceChildren(addPartitionsForm(topic));
  } else if (kind === "topic") {
    $("#inspector-title").textContent = `Topic ${id}`;
    facts.replaceChildren(...topicFacts(id));
    if (!model.topics.has(id)) forms.replaceChildren();
    else if (withForms) forms.replaceChildren(...topicForms(id));
  } else if (kind === "group") {
    $("#inspector-title").textContent = `Group ${id}`;
    facts.replaceChildren(...groupFacts(id));
    if (withForms) forms.replaceChildren(groupConfigForm(id), resetOffsetsForm(id), consumerAddForm(id));
  } else if (kind === "form") {
    facts.replaceChildren();
  }
}

const dl = (rows) => el("dl", {class: "facts"}, ...rows.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {class: "num"}, v instanceof Node ? v : document.createTextNode(String(v)))]));

function recordFacts(id) {
  const t = model.trail(id);
  const [topic, p, off] = (() => { const [tp, o] = [id.slice(0, id.lastIndexOf("/")), Number(id.slice(id.lastIndexOf("/") + 1))]; const [tt, pp] = splitTp(tp); return [tt, pp, o]; })();
  if (!t) return [el("p", {class: "muted", text: "This record arrived before this page connected (or was counted, not drawn), so its trail is not known here."}),
    dl([["topic", topic], ["partition", p], ["offset", off]])];
  const out = [];
  const keyNode = el("span", {class: "rec-key", style: keyStyle(t.key)}, el("span", {class: "token-shape", text: keyLabel(t.key)}), el("code", {text: t.key ?? "(no key)"}));
  const headers = t.headers && Object.keys(t.headers).length
    ? el("ul", {class: "headers"}, ...Object.entries(t.headers).map(([k, v]) => el("li", {}, el("code", {text: k}), document.createTextNode(" = "), el("code", {text: String(v)}))))
    : "none";
  const value = el("code", {class: "value", text: String(t.value ?? "")});
  const valueNode = t.valueChars
    ? el("span", {}, value, el("small", {class: "muted", text: ` (the first ${String(t.value).length.toLocaleString("en-US")} of ${t.valueChars.toLocaleString("en-US")} characters)`}))
    : value;
  out.push(dl([["key", keyNode], ["value", valueNode], ["headers", headers],
    ["topic / partition / offset", `${t.topic} / ${t.partition} / ${t.offset}`], ["produced at", formatClock(t.t_ms)],
    ["producer", t.producer ?? (t.joined ? "not known (sent before this page connected)" : "the produce form")],
    ["acks", t.acks ?? "all"]]));
  out.push(el("h3", {text: "Why this partition"}));
  const why = t.why || {};
  if (why.method === "murmur2" && t.key != null) {
    const h = why.hash ?? murmur2(t.key);
    const positive = h & 0x7fffffff;
    const n = why.partitions ?? model.topics.get(t.topic)?.partitions.length;
    out.push(el("p", {class: "why num"}, el("code", {text: `murmur2("${t.key}") = ${h}`}), el("br"),
      el("code", {text: `${h} & 0x7fffffff = ${positive}`}), el("br"),
      el("code", {text: `${positive} mod ${n} = ${positive % n}`}), document.createTextNode(` → partition ${t.partition}`)));
  } else if (why.method === "sticky") {
    out.push(el("p", {text: "No key: the sticky partitioner fills one partition's batch, then moves to another (KIP-480)."}));
  } else if (why.method === "explicit") {
    out.push(el("p", {text: "The producer named the partition explicitly."}));
  } else {
    out.push(el("p", {class: "muted", text: "Not recorded."}));
  }
  out.push(el("h3", {text: "Replicas holding it"}));
  const part = model.partition(t.topic, t.partition);
  const holders = part ? part.replicas.filter((b) => (part.leo.get(b) ?? 0) > t.offset || t.replicas.has(b)) : [...t.replicas];
  out.push(el("p", {class: "num", text: `${holders.map((b) => `broker ${b}${part && part.leader === b ? " (leader)" : ""}`).join(", ") || "none yet"}${part ? `; committed (below the high watermark ${part.hw}): ${t.offset < part.hw ? "yes" : "not yet"}` : ""}`}));
  out.push(el("h3", {text: "Each group"}));
  const subscribed = [...model.groups.values()].filter((g) => [...g.consumers.values()].some((c) => c.topics.includes(t.topic)) || t.groups.has(g.name));
  const rows = subscribed.map((g) => {
    const d = t.groups.get(g.name);
    // A record from the snapshot (this page joined later): the group's committed offset
    // says whether it was read and committed before the page connected.
    const committedPast = t.joined && (g.committed.get(tpId(t.topic, t.partition)) ?? -1) > t.offset;
    const text = d ? `${d.consumer} · ${d.attempts} attempt${d.attempts === 1 ? "" : "s"} · ${d.outcome || "in progress"}${d.committed ? " · committed" : ""}`
      : committedPast ? "committed past it before this page connected" : "not delivered yet";
    return el("li", {"data-delivery-group": g.name}, el("strong", {text: g.name}), document.createTextNode(`: ${text}`));
  });
  out.push(el("ul", {class: "deliveries"}, ...(rows.length ? rows : [el("li", {class: "muted", text: "no group reads this topic"})])));
  if (t.dead) {
    out.push(el("h3", {text: "Dead letter"}));
    out.push(el("p", {}, el("button", {type: "button", class: "linkish", "data-inspect": "record", "data-id": t.dead, text: t.dead})));
  }
  if (t.steps.length) {
    out.push(el("h3", {text: "Trail"}));
    out.push(el("ol", {class: "trail"}, ...t.steps.map((s) => el("li", {class: s.level || ""}, el("span", {class: "num muted", text: `${formatClock(s.t_ms)}  `}), document.createTextNode(s.text)))));
  }
  return out;
}

function partitionFacts(topic, p) {
  const part = model.partition(topic, p);
  if (!part) return [el("p", {class: "muted", text: "This partition no longer exists."})];
  const replicas = el("ul", {class: "replicas"}, ...part.replicas.map((b) => el("li", {class: "num", text:
    `broker ${b}${part.leader === b ? " · leader" : ""}${part.isr.includes(b) ? " · in sync" : " · out of sync"} · log end ${part.leo.get(b) ?? "?"}`})));
  return [el("p", {}, el("button", {type: "button", class: "linkish", "data-inspect": "topic", "data-id": topic, text: `Topic ${topic}: configuration, grow, delete`})),
    dl([["leader", part.leader ?? "none (offline)"], ["leader epoch", part.epoch], ["ISR", `[${part.isr.join(", ")}]`],
    ["log start offset", part.logStart], ["log end offset", part.leo.get(part.leader) ?? "?"], ["high watermark", part.hw],
    ["drawn as counts", part.undrawn]]), el("h3", {text: "Replicas"}), replicas,
  el("h3", {text: "Newest records"}), newestRecords(part)];
}

function newestRecords(part) {
  const offsets = [...part.cells.keys()].sort((a, b) => b - a).slice(0, 8);
  if (!offsets.length) return el("p", {class: "muted", text: "none seen since this page connected"});
  return el("ul", {class: "newest"}, ...offsets.map((off) => {
    const rec = part.cells.get(off);
    const id = recordId(part.topic, part.partition, off);
    return el("li", {}, el("button", {type: "button", class: "linkish num", "data-inspect": "record", "data-id": id, text: `offset ${off}`}),
      document.createTextNode(` key ${rec.key ?? "∅"}${off >= part.hw ? " (above the high watermark)" : ""}`));
  }));
}

// 86400000 → "24 h (86,400,000 ms)": the unit a person thinks in, and the exact figure.
function duration(ms) {
  const units = [[86400000, "d"], [3600000, "h"], [60000, "min"], [1000, "s"]];
  const exact = `${Number(ms).toLocaleString("en-US")} ms`;
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size === 1 && unit === "d" ? "24 h" : `${ms / size} ${unit}`} (${exact})`;
  }
  return exact;
}

function groupFacts(name) {
  const g = model.groups.get(name);
  if (!g) return [el("p", {class: "muted", text: "This group no longer exists."})];
  const members = el("ul", {class: "members"}, ...[...g.consumers.values()].map((c) => el("li", {},
    el("strong", {text: c.id}), document.createTextNode(`${c.status === "crashed" ? " (crashed)" : ""}: ${c.partitions.join(", ") || "nothing assigned"}`))));
  const lagRows = [...g.committed.keys(), ...[...g.consumers.values()].flatMap((c) => c.partitions)];
  const table = el("table", {class: "lag-table"}, el("thead", {}, el("tr", {}, ...["partition", "committed", "HW", "lag"].map((h) => el("th", {scope: "col", text: h})))));
  const body = el("tbody");
  for (const key of [...new Set(lagRows)].sort()) {
    const [topic, p] = splitTp(key);
    const part = model.partition(topic, p);
    body.append(el("tr", {}, el("th", {scope: "row", text: key}), el("td", {class: "num", text: String(g.committed.get(key) ?? "—")}),
      el("td", {class: "num", text: String(part ? part.hw : "?")}), el("td", {class: "num", text: String(model.lag(g, key))})));
  }
  table.append(body);
  const c = g.config || {};
  return [dl([["state", g.state], ["generation", g.generation], ["assignor", g.assignor], ["protocol", g.protocol],
    ["max attempts", c.max_attempts ?? 3], ["processing timeout", c.processing_timeout_ms != null ? duration(c.processing_timeout_ms) : "—"],
    ["session timeout", c.session_timeout_ms != null ? duration(c.session_timeout_ms) : "—"],
    ["retry back-off", c.retry_backoff_ms != null ? duration(c.retry_backoff_ms) : "—"],
    ["dead-letter topic", c.dead_letter_topic ?? "<topic>-dlt"]]),
  el("h3", {text: "Assignment"}), members, el("h3", {text: "Lag"}), table];
}

// --- forms (in the drawer) -------------------------------------------------------------------------
let formSeq = 0;
function field(label, input, hint) {
  const id = `f${++formSeq}`;
  input.id = id;
  return el("div", {class: "field"}, el("label", {for: id, text: label}), input, hint ? el("small", {class: "muted", text: hint}) : null);
}
const input = (name, attrs = {}) => el("input", {name, ...attrs});
const select = (name, options, value) => {
  const s = el("select", {name}, ...options.map((o) => el("option", {value: o, text: o})));
  if (value != null) s.value = value;
  return s;
};
function form(title, fields, submitText, onSubmit, opts = {}) {
  const f = el("form", {class: "drawer-form", "data-form": opts.name}, el("h3", {text: title}), ...fields,
    el("div", {class: "form-actions"}, el("button", {type: "submit", "data-command": true, class: opts.danger ? "danger" : null, text: submitText}),
      el("output", {class: "form-status", "aria-live": "polite"})));
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    onSubmit(f.elements, f);
  });
  return f;
}
const num = (v) => (v === "" ? undefined : Number(v));
const prune = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""));

function addPartitionsForm(topic) {
  const t = model.topics.get(topic);
  return form("Add partitions", [field("New total", input("partitions", {type: "number", min: (t?.partitions.length || 1) + 1, value: (t?.partitions.length || 1) + 1}), "Partitions only grow; keys may move.")],
    "Grow topic", (f, node) => send({type: "topic.add_partitions", name: topic, partitions: Number(f.partitions.value)}, node, "grown"),
    {name: "add-partitions"});
}

// --- a topic: its facts, its config, growing it, deleting it, replaying its dead letters ------------
// The configs the page edits (Kafka's names; broker_core/config.py validates them).
const TOPIC_FIELDS = [
  ["retention.ms", "number", "How long records are kept; -1: for ever. 604800000 = 7 days."],
  ["retention.bytes", "number", "Most bytes kept per partition; -1: no limit."],
  ["cleanup.policy", ["delete", "compact", "compact,delete"], "What retention does with old segments."],
  ["min.insync.replicas", "number", "With acks=all, a write needs this many in-sync replicas."],
  ["unclean.leader.election.enable", ["false", "true"], "May an out-of-sync replica become leader (and lose acknowledged records)?"],
];

function topicFacts(name) {
  const t = model.topics.get(name);
  if (!t) return [el("p", {class: "muted gone", text: `Topic ${name} no longer exists: it was deleted.`})];
  const config = Object.keys(t.config).sort().map((k) => [k, k === "retention.ms" && t.config[k] >= 0 ? duration(t.config[k]) : String(t.config[k])]);
  const parts = el("ul", {class: "topic-partitions"}, ...t.partitions.filter(Boolean).map((p) => el("li", {},
    el("button", {type: "button", class: "linkish num", "data-inspect": "partition", "data-id": tpId(name, p.partition), text: `partition ${p.partition}`}),
    document.createTextNode(` · leader ${p.leader ?? "none"} · replicas [${p.replicas.join(", ")}]`))));
  return [dl([["partitions", t.partitions.length], ["replication factor", t.rf ?? "?"]]),
    el("h3", {text: "Configuration"}), el("dl", {class: "facts topic-config", "data-topic-config": name},
      ...config.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {class: "num", "data-config": k, text: v})])),
    el("h3", {text: "Partitions"}), parts];
}

function topicForms(name) {
  const forms = [topicConfigForm(name), addPartitionsForm(name)];
  const dltOf = [...model.groups.values()].some((g) => g.config?.dead_letter_topic === name);
  if (isSideTopic(name) || dltOf) forms.push(deadLetterReplayForm(name));
  forms.push(deleteTopicForm(name));
  return forms;
}

function topicConfigForm(name) {
  const t = model.topics.get(name);
  const current = t?.config || {};
  const fields = TOPIC_FIELDS.map(([key, kind, hint]) => {
    const value = current[key] != null ? String(current[key]) : "";
    const control = Array.isArray(kind) ? select(key, kind, value) : input(key, {type: "number", step: 1, value, min: key === "min.insync.replicas" ? 1 : -1});
    const f = field(key, control, hint);
    f.append(el("label", {class: "check small reset"}, el("input", {type: "checkbox", name: `reset:${key}`}), document.createTextNode(" reset to default")));
    return f;
  });
  return form("Configuration", fields, "Apply", (f, node) => {
    const config = {};
    for (const [key, kind] of TOPIC_FIELDS) {
      if (f.namedItem(`reset:${key}`).checked) {
        config[key] = null;
        continue;
      }
      const raw = f.namedItem(key).value;
      if (raw === "" || raw === String(current[key] ?? "")) continue;
      if (key === "unclean.leader.election.enable") config[key] = raw === "true";
      else if (kind === "number") config[key] = Number(raw);
      else config[key] = raw;
    }
    if (!Object.keys(config).length) {
      formStatus(node, "nothing changed", false);
      return;
    }
    send({type: "topic.alter_config", name, config}, node, "applied");
  }, {name: "topic-config"});
}

// A topic changed while its forms are open: show its new values, except in the field someone
// is in (a rebuild would also throw the keyboard focus away).
function syncTopicForms(name) {
  const t = model.topics.get(name);
  if (!t) return;
  const config = $('#inspector-forms form[data-form="topic-config"]');
  for (const [key] of config ? TOPIC_FIELDS : []) {
    const control = config.elements.namedItem(key);
    if (control !== document.activeElement && t.config[key] != null) control.value = String(t.config[key]);
    config.elements.namedItem(`reset:${key}`).checked = false;
  }
  const grow = $('#inspector-forms form[data-form="add-partitions"]');
  const total = grow?.elements.namedItem("partitions");
  if (total && total !== document.activeElement) {
    total.min = t.partitions.length + 1;
    total.value = t.partitions.length + 1;
  }
}

function deadLetterReplayForm(name) {
  const t = model.topics.get(name);
  const parts = (t?.partitions || []).filter(Boolean).map((p) => String(p.partition));
  return form("Replay dead letters", [
    field("Partition", select("partition", ["all", ...parts], "all")),
    field("From offset", input("from_offset", {type: "number", min: 0, value: 0})),
    field("To offset (exclusive)", input("to_offset", {type: "number", min: 0, placeholder: "the high watermark"}),
      "Each record goes back to the topic and partition its kafka_dlt-original-* headers name."),
  ], "Replay", (f, node) => send(prune({type: "dead_letter.replay", topic: name,
    partition: f.partition.value === "all" ? undefined : Number(f.partition.value),
    from_offset: num(f.from_offset.value), to_offset: num(f.to_offset.value)}), node, "replaying"));
}

function deleteTopicForm(name) {
  return form("Delete", [el("p", {class: "muted small", text: "Its records go for good; groups reading it lose its partitions."})],
    "Delete topic…", async (f, node) => {
      const ok = await confirmDialog(`Delete topic ${name}?`,
        `Every record in ${name} is deleted and its partitions leave every consumer group. This cannot be undone.`, "Delete topic");
      if (ok) await send({type: "topic.delete", name}, node, "deleted");
      else formStatus(node, "kept", false);
    }, {danger: true});
}

// A modal question; resolves true only for the confirming button (Escape and Cancel: false).
function confirmDialog(title, text, okText) {
  const d = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okText;
  d.returnValue = "";
  d.showModal();
  $("#confirm-cancel").focus();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), {once: true}));
}

function groupConfigForm(name, isNew = false) {
  const g = model.groups.get(name);
  const c = g?.config || {};
  return form(isNew ? "New or existing group" : "Configure", [
    isNew ? field("Group", input("group", {required: true, value: name || ""})) : null,
    field("Assignor", select("assignor", ["range", "roundrobin", "sticky", "cooperative-sticky"], g?.assignor)),
    field("Max attempts", input("max_attempts", {type: "number", min: 1, value: c.max_attempts ?? 3})),
    field("Retry back-off (ms)", input("retry_backoff_ms", {type: "number", min: 0, value: c.retry_backoff_ms ?? 1000})),
    field("Processing timeout (ms)", input("processing_timeout_ms", {type: "number", min: 1, value: c.processing_timeout_ms ?? 86400000})),
    field("Session timeout (ms)", input("session_timeout_ms", {type: "number", min: 1, value: c.session_timeout_ms ?? 45000})),
    field("Dead-letter topic", input("dead_letter_topic", {value: c.dead_letter_topic ?? "", placeholder: "<topic>-dlt"})),
  ], "Apply", (f, node) => send(prune({type: "group.configure", group: isNew ? f.group.value : name, assignor: f.assignor.value,
    max_attempts: num(f.max_attempts.value), retry_backoff_ms: num(f.retry_backoff_ms.value),
    processing_timeout_ms: num(f.processing_timeout_ms.value), session_timeout_ms: num(f.session_timeout_ms.value),
    dead_letter_topic: f.dead_letter_topic.value || undefined}), node));
}

function resetOffsetsForm(name) {
  return form("Reset offsets", [
    field("Topic", select("topic", [...model.topics.keys()])),
    field("To", input("to", {value: "earliest", list: "reset-choices"}), "earliest, latest or an offset; the group must have no live members"),
  ], "Reset", (f, node) => {
    const to = /^\d+$/.test(f.to.value) ? Number(f.to.value) : f.to.value;
    send({type: "group.reset_offsets", group: name, topic: f.topic.value, to}, node);
  });
}

function consumerAddForm(group) {
  const topics = [...model.topics.keys()];
  const g = model.groups.get(group);
  const subscribed = g ? [...g.consumers.values()].flatMap((c) => c.topics) : [];
  return form("Add a consumer", [
    group ? null : field("Group", input("group", {required: true})),
    field("Id", input("id", {placeholder: "automatic"})),
    field("Topic", select("topics", topics, subscribed[0] ?? topics[0])),
    field("Processing time (ms)", input("processing_ms", {type: "number", min: 0, value: 100})),
    field("Failure rate", input("failure_rate", {type: "number", min: 0, max: 1, step: 0.05, value: 0})),
    field("Commit", select("commit", ["after", "before", "auto"], "after")),
  ], "Add consumer", (f, node) => {
    const cmd = prune({type: "consumer.add", group: group || f.group.value, id: f.id.value || undefined, topics: [f.topics.value],
      processing_ms: num(f.processing_ms.value), commit: f.commit.value});
    const rate = num(f.failure_rate.value);
    if (rate) cmd.failure_rate = rate;
    send(cmd, node);
  });
}

function producerForm(tune) {
  const p = tune ? model.producers.get(tune) : null;
  const keys = p?.keys || {};
  return form(p ? `Tune ${p.id}` : "Start a producer", [
    field("Id", input("id", {required: true, value: p?.id ?? `producer-${model.producers.size + 1}`, readonly: p ? true : null})),
    field("Topic", select("topic", [...model.topics.keys()], p?.topic)),
    field("Rate (records/s)", input("rate_per_s", {type: "number", min: 0.001, step: "any", value: p?.rate_per_s ?? 2})),
    field("Keys", select("kind", ["sequence", "uniform", "hot", "null"], keys.kind ?? "sequence"), "sequence: order-1, order-2…; null: no key"),
    field("Key prefix", input("prefix", {value: keys.prefix ?? "order-"})),
    field("Acks", select("acks", ["all", "1", "0"], p?.acks ?? "all")),
  ], p ? "Apply" : "Start", async (f, node) => {
    const keySpec = f.kind.value === "null" ? {kind: "null"} : {kind: f.kind.value, prefix: f.prefix.value};
    const cmd = {type: "producer.add", id: f.id.value, topic: f.topic.value, rate_per_s: Number(f.rate_per_s.value), keys: keySpec, acks: f.acks.value};
    // No tune command in the contract: a tune is a stop and a start under the same id.
    if (p && !(await send({type: "producer.remove", id: p.id}, node))) return;
    send(cmd, node, p ? "tuned" : "started");
  });
}

function topicForm() {
  return form("Create a topic", [
    field("Name", input("name", {required: true, pattern: "[a-zA-Z0-9._\\-]{1,249}"})),
    field("Partitions", input("partitions", {type: "number", min: 1, value: 3})),
    field("Replication factor", input("replication_factor", {type: "number", min: 1, value: Math.min(3, model.brokers.size || 1)})),
    field("min.insync.replicas", input("min_isr", {type: "number", min: 1, value: 1})),
  ], "Create", (f, node) => send({type: "topic.create", name: f.name.value, partitions: Number(f.partitions.value),
    replication_factor: Number(f.replication_factor.value), config: {"min.insync.replicas": Number(f.min_isr.value)}}, node));
}

function openForm(kind, opts, from) {
  inspecting = {kind: "form", id: kind};
  opener = from;
  drawer.hidden = false;
  const titles = {"consumer.add": "Add a consumer", "producer.add": opts.tune ? "Tune a producer" : "Start a producer",
    "topic.create": "Create a topic", "group.configure": opts.group ? `Configure ${opts.group}` : "Configure a group"};
  $("#inspector-title").textContent = titles[kind];
  $("#inspector-facts").replaceChildren();
  const built = {"consumer.add": () => consumerAddForm(opts.group), "producer.add": () => producerForm(opts.tune),
    "topic.create": topicForm, "group.configure": () => groupConfigForm(opts.group, !opts.group)}[kind]();
  $("#inspector-forms").replaceChildren(built);
  const first = built.querySelector("input:not([readonly]), select");
  (first || $("#inspector-title")).focus();
}

// --- consequences: callouts and countdowns ----------------------------------------------------------
const callouts = new Callouts($("#callouts"), {inspect: (id) => openInspector("record", id)});

// --- narration -----------------------------------------------------------------------------------
// When a step is true: "at 0:20", "when broker 1 stops", or both ("from 0:10, when ...").
const WHEN_PHRASES = {
  "broker.stopped": (w) => `broker ${w.broker ?? ""} stops`, "broker.started": (w) => `broker ${w.broker ?? ""} starts`,
  "broker.session_expired": (w) => `broker ${w.broker ?? ""}'s ZooKeeper session expires`,
  "controller.elected": (w) => w.broker != null ? `broker ${w.broker} becomes controller` : "a controller is elected",
  "partition.leader_elected": (w) => `${w.topic ?? "a partition"}${w.partition != null ? `/${w.partition}` : ""} gets a new leader`,
  "partition.offline": (w) => `${w.topic ?? "a partition"}${w.partition != null ? `/${w.partition}` : ""} goes offline`,
  "partition.isr_changed": (w) => `${w.topic ?? "a partition"}'s ISR changes`,
  "record.produced": (w) => w.key != null ? `${w.key} is produced` : `a record is produced${w.topic ? ` to ${w.topic}` : ""}`,
  "record.acked": (w) => w.key != null ? `${w.key} is acknowledged` : "a record is acknowledged",
  "record.lost": () => "a record is lost", "record.dead_lettered": () => "a record is dead-lettered",
  "record.timed_out": () => "a record times out", "record.failed": () => "a record fails",
  "record.processed": (w) => `${w.group ?? "a group"} processes ${w.key ?? "a record"}`,
  "record.retry_scheduled": () => "a retry is scheduled",
  "group.rebalance_completed": (w) => `${w.group ?? "a group"} finishes rebalancing`,
  "group.rebalance_started": (w) => `${w.group ?? "a group"} starts rebalancing`,
  "consumer.crashed": (w) => `${w.consumer ?? "a consumer"} crashes`, "consumer.hung": (w) => `${w.consumer ?? "a consumer"} hangs`,
  "consumer.recovered": (w) => `${w.consumer ?? "a consumer"} recovers`,
  "group.member_expired": (w) => `${w.consumer ?? "a member"}'s session times out`,
  "replica.truncated": (w) => `broker ${w.broker ?? ""} truncates its log`,
};
function describeMoment(s) {
  const w = s.when;
  if (!w) return s.at_ms != null ? `at ${shortClock(s.at_ms)}` : "";
  const what = `when ${(WHEN_PHRASES[w.type] || (() => w.type))(w).replace(/ +/g, " ")}`;
  return s.at_ms ? `from ${shortClock(s.at_ms)}, ${what}` : what;
}

function watchSelector(w) {
  if (!w) return null;
  if (typeof w === "string") {
    if (w.startsWith("[") || w.startsWith(".") || w.startsWith("#")) return w;
    const [kind, rest] = w.split(":");
    return watchSelector({[kind]: rest});
  }
  const parts = [];
  if (w.record) parts.push(`[data-record="${cssEsc(w.record)}"]`);
  if (w.consumer) parts.push(`${w.group ? `[data-group="${cssEsc(w.group)}"] ` : ""}[data-consumer="${cssEsc(w.consumer)}"]`);
  else if (w.group) parts.push(`[data-group="${cssEsc(w.group)}"]`);
  // The leader's lane; every replica's lane while the partition has no leader (offline).
  const lanes = (tp) => `.lane${tp}[data-role="leader"], .lane.offline${tp}`;
  if (w.topic != null && w.partition != null) parts.push(lanes(`[data-topic="${cssEsc(w.topic)}"][data-partition="${w.partition}"]`));
  else if (w.topic != null) parts.push(lanes(`[data-topic="${cssEsc(w.topic)}"]`));
  if (w.partition != null && w.topic == null && typeof w.partition === "string") {
    const [t, p] = splitTp(w.partition);
    parts.push(lanes(`[data-topic="${cssEsc(t)}"][data-partition="${p}"]`));
  }
  if (w.broker != null) parts.push(`[data-broker="${w.broker}"]`);
  if (w.producer) parts.push(`[data-producer="${cssEsc(w.producer)}"]`);
  return parts.join(", ") || null;
}

function renderNarration() {
  const steps = scenario.steps || [];
  const panel = $("#narration");
  panel.hidden = !steps.length;
  if (!steps.length) return;
  const i = Math.max(0, Math.min(narrationStep, steps.length - 1));
  const s = steps[i] || {};
  $("#narration-count").textContent = `Step ${i + 1} of ${steps.length}`;
  $("#narration-title").textContent = s.title || "";
  $("#narration-moment").textContent = describeMoment(s);
  $("#narration-text").textContent = s.text || s.body || s.narration || s.say || "";
  // "Try it yourself": the step's record, filled into the produce form for the learner to send.
  const tryIt = $("#narration-try");
  tryIt.hidden = !s.try;
  if (s.try) tryIt.textContent = `Try it yourself: send ${s.try.key != null ? `key ${s.try.key}` : "a record"} to ${s.try.topic}`;
  const next = steps[i + 1];
  const cmds = next && next.commands && next.commands.length ? next.commands : null;
  const hint = $("#narration-commands");
  hint.hidden = !cmds;
  hint.textContent = cmds ? `Next also runs: ${cmds.map(describeCommand).join("; ")}` : "";
  // Narration runs commands through the room: the same lock as every command.
  for (const [b, edge] of [[$("#narration-back"), i === 0], [$("#narration-next"), i >= steps.length - 1]]) {
    b.disabled = edge || !!lock.command;
    if (lock.command) b.title = lock.command;
    else b.removeAttribute("title");
  }
  renderer.setWatch(watchSelector(s.watch));
}

function describeCommand(c) {
  if (c.type === "produce") return `produce ${c.key != null ? `key ${c.key}` : "a record"} to ${c.topic}`;
  const who = c.broker ?? c.id ?? c.group ?? c.name ?? c.topic ?? "";
  return `${c.type} ${who}`.trim();
}

async function narrate(to) {
  const steps = scenario.steps || [];
  if (to < 0 || to >= steps.length) return;
  try {
    await socket.narrate(to);
    narrationStep = to;
    renderNarration();
  } catch (err) {
    showError(err);
  }
}
$("#narration-try").addEventListener("click", () => {
  const s = (scenario.steps || [])[narrationStep];
  if (!s?.try) return;
  const f = produceForm.elements;
  fillTopicSelect(f.topic, s.try.topic);
  if (s.try.key != null) f.key.value = s.try.key;
  if (s.try.value != null) f.value.value = s.try.value;
  formStatus(produceForm, "filled in by the step: press Send", false);
  produceForm.querySelector("button[type=submit]").focus();
});
$("#narration-back").addEventListener("click", () => narrate(narrationStep - 1));
$("#narration-next").addEventListener("click", () => narrate(narrationStep + 1));

// --- event log and announcements -----------------------------------------------------------------
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
    case "partition.leader_elected": return `${e.topic}/${e.partition}: leader is now ${e.leader == null ? "none" : `broker ${e.leader}`} (epoch ${e.epoch})${e.unclean ? ", unclean" : ""}`;
    case "partition.isr_changed": return `${e.topic}/${e.partition}: ISR [${(e.isr || []).join(", ")}]`;
    case "partition.assigned": return `${e.group}: ${e.consumer} gets ${(e.partitions || []).map((x) => x.join("/")).join(", ")}`;
    case "partition.revoked": return `${e.group}: ${e.consumer} gives up ${(e.partitions || []).map((x) => x.join("/")).join(", ")}`;
    case "group.state_changed": return `${e.group}: ${e.from} → ${e.to}`;
    case "group.member_joined": return `${e.group}: ${e.consumer} joined`;
    case "group.member_left": return `${e.group}: ${e.consumer} left`;
    case "group.member_expired": return `${e.group}: ${e.consumer} expired (session timeout)`;
    case "consumer.crashed": return `${e.group}: ${e.consumer} crashed`;
    case "broker.stopped": return `broker ${e.broker} stopped${e.mode ? ` (${e.mode})` : ""}`;
    case "broker.started": return `broker ${e.broker} started`;
    case "broker.session_expired": return `broker ${e.broker}'s ZooKeeper session expired: the controller treats it as gone`;
    case "partition.offline": return `${e.topic}/${e.partition} is OFFLINE: ${e.reason || "no leader"}`;
    case "replica.truncated": return `broker ${e.broker} truncated ${e.topic}/${e.partition} to offset ${e.offset} (${e.reason || ""})`;
    case "consumer.hung": return `${e.group}: ${e.consumer} hung while processing`;
    case "controller.elected": return `controller is broker ${e.broker} (epoch ${e.epoch})`;
    case "produce.failed": return `produce to ${e.topic} failed: ${e.error}`;
    case "topic.created": return `topic ${e.topic} created (${e.partitions} partitions)`;
    case "topic.deleted": return `topic ${e.topic} deleted, with its records`;
    case "topic.config_changed": return `topic ${e.topic}: ${Object.entries(e.changes || {}).map(([k, v]) => `${k} ${e.previous?.[k] ?? "?"} → ${v}`).join(", ") || "config unchanged"}`;
    case "topic.partitions_added": return `topic ${e.topic} grew from ${e.previous ?? "?"} to ${e.partitions} partitions (keys may now map elsewhere)`;
    case "consumer.recovered": return `${e.group}: ${e.consumer} recovered`;
    case "dead_letter.replay_started": return `replaying ${e.records} record${e.records === 1 ? "" : "s"} from ${e.topic}`;
    case "dead_letter.replayed": return `${e.topic}: ${e.replayed} replayed to their original topics, ${e.skipped} skipped`;
    case "group.rebalance_started": return `${e.group}: rebalance started, generation ${e.generation}${e.reason ? ` (${e.reason})` : ""}`;
    case "group.rebalance_completed": return `${e.group}: rebalance done, generation ${e.generation}: ${Object.entries(e.assignment || {}).map(([m, tps]) => `${m} gets ${tps.map((x) => x.join("/")).join(", ") || "nothing"}`).join("; ") || "no members"}`;
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

function logEvent(e) {
  const cls = logClass(e.type);
  if (cls === "record") countRun(1, e.t_ms ?? clock.nowMs, false);
  logLine(describe(e), cls, e.type, e.t_ms);
  if (!RECORD_TYPES.test(e.type)) announceEvent(e);
}

// An aggregate stands for events the frame had no room to carry whole. It has no time of its own
// but ends where the frame's clock is: stamped with the last whole event's time instead, the log
// stayed 20 s behind the clock after "+1 min" (a frame carries its earliest records whole).
function logAggregate(a) {
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

function logLine(text, cls, type = "", t_ms = null, endsRun = true) {
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
    document.createTextNode(` ${entry.type ? `${entry.type}  ` : ""}${entry.text}`));
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
function flushLog(now) {
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

// A screen reader hears the important changes, at most one message every two seconds, never
// a record-by-record stream.
const IMPORTANT = /^(broker\.|controller\.|topic\.|dead_letter\.replayed|partition\.(leader_elected|offline)|consumer\.(hung|recovered)|group\.state_changed|group\.rebalance_completed|record\.(lost|dead_lettered|timed_out)|produce\.failed|consumer\.crashed|group\.member_(expired|left|joined))/;
let announceQueue = [];
let announceAt = 0;
function announceEvent(e) {
  if (!IMPORTANT.test(e.type)) return;
  if (e.type === "group.state_changed" && e.to !== "Stable" && e.to !== "PreparingRebalance") return;
  announce(describe(e));
}
function announce(text, urgent = false) {
  announceQueue.push(text);
  if (announceQueue.length > 20) announceQueue = announceQueue.slice(-20);
  if (urgent) announceAt = 0;
}
setInterval(() => {
  const now = performance.now();
  if (!announceQueue.length || now - announceAt < 2000) return;
  announceAt = now;
  const shown = announceQueue.slice(0, 3);
  const more = announceQueue.length - shown.length;
  $("#announcer").textContent = `${shown.join(". ")}${more > 0 ? `. And ${more} more changes.` : "."}`;
  announceQueue = [];
}, 500);

syncTimeControls();
renderNarration();
// For tests and the console: the page's state, read-only by convention.
window.playground = {model, renderer, clock, socket, session, scenario: () => scenario, narrationStep: () => narrationStep};
