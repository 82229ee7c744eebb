// The inspector drawer: opening and closing it (focus goes back where it was), refreshing it,
// and the facts it shows about a record, a partition, a topic or a group; its forms come from
// forms.js.

import {$, el} from "./dom.js";
import {murmur2, recordId, splitTp, tpId} from "./model.js";
import {keyStyle, keyLabel} from "./keys.js";
import {formatClock, formatCount} from "./timeline.js";
import {state} from "./state.js";
import {addPartitionsForm, consumerAddForm, groupConfigForm, producerForm, resetOffsetsForm, topicForm, topicForms} from "./forms.js";

const {model} = state;

// --- inspector drawer --------------------------------------------------------------------------
const drawer = $("#inspector");

export function openInspector(kind, id, from) {
  state.inspecting = {kind, id};
  state.opener = from || document.activeElement;
  drawer.hidden = false;
  refreshInspector(true);
  $("#inspector-title").focus();
  keepInSight(state.opener);
}

// The inspector never hides what it describes: on a narrow screen it is a sheet over the
// bottom half (room.css), so what was clicked scrolls up above it.
function keepInSight(node) {
  if (!node || !document.contains(node) || !window.matchMedia("(max-width: 1100px)").matches) return;
  const r = node.getBoundingClientRect();
  const free = drawer.getBoundingClientRect().top - 8;
  if (r.bottom > free || r.top < 0) window.scrollBy({top: r.top - Math.max(8, (free - r.height) / 2), behavior: "instant"});
}

export function closeInspector() {
  drawer.hidden = true;
  state.inspecting = null;
  if (state.opener && document.contains(state.opener)) state.opener.focus();
}
$("#inspector-close").addEventListener("click", closeInspector);

export function refreshInspector(withForms = false) {
  if (!state.inspecting || drawer.hidden) return;
  const {kind, id} = state.inspecting;
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
  // An object of names to values, or [name, value] pairs when a client sent a name twice.
  const pairs = !t.headers ? [] : Array.isArray(t.headers) ? t.headers : Object.entries(t.headers);
  const headers = pairs.length
    ? el("ul", {class: "headers"}, ...pairs.map(([k, v]) => el("li", {}, el("code", {text: k}), document.createTextNode(" = "), el("code", {text: String(v)}))))
    : "none";
  const value = el("code", {class: "value", text: String(t.value ?? "")});
  const valueNode = t.valueChars
    ? el("span", {}, value, el("small", {class: "muted", text: ` (the first ${formatCount(String(t.value).length)} of ${formatCount(t.valueChars)} characters)`}))
    : value;
  out.push(dl([["key", keyNode], ["value", valueNode], ["headers", headers],
    ["topic / partition / offset", `${t.topic} / ${t.partition} / ${t.offset}`], ["produced at", formatClock(t.t_ms)],
    ["producer", t.producer ?? (t.joined ? "not known (sent before this page connected)" : "the produce form")],
    ["acks", t.acks ?? "all"]]));
  out.push(el("h3", {text: "Why this partition"}));
  const why = t.why || {};
  const byClient = why.method === "client";
  if ((why.method === "murmur2" || (byClient && why.murmur2)) && t.key != null) {
    const h = why.hash ?? murmur2(t.key);
    const positive = h & 0x7fffffff;
    const n = why.partitions ?? model.topics.get(t.topic)?.partitions.length;
    out.push(el("p", {class: "why num"}, el("code", {text: `murmur2("${t.key}") = ${h}`}), el("br"),
      el("code", {text: `${h} & 0x7fffffff = ${positive}`}), el("br"),
      el("code", {text: `${positive} mod ${n} = ${positive % n}`}), document.createTextNode(` → partition ${t.partition}`)));
    if (byClient) out.push(el("p", {text: "A real client chose the partition with murmur2, as Java's default partitioner does."}));
  } else if (byClient && t.key != null) {
    const n = why.partitions ?? model.topics.get(t.topic)?.partitions.length;
    const would = ((why.hash ?? murmur2(t.key)) & 0x7fffffff) % n;
    out.push(el("p", {text: `A real client chose partition ${t.partition} with its own partitioner; murmur2, as Java's default, would give partition ${would}. (librdkafka's default hashes keys with crc32, sarama's with FNV-1a.)`}));
  } else if (byClient) {
    out.push(el("p", {text: "No key: the real client's own partitioner chose it (Java's spreads batches, KIP-480)."}));
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
  const names = holders.map((b) => "broker " + b + (part && part.leader === b ? " (leader)" : "")).join(", ") || "none yet";
  const committed = part ? "; committed (below the high watermark " + part.hw + "): " + (t.offset < part.hw ? "yes" : "not yet") : "";
  out.push(el("p", {class: "num", text: names + committed}));
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
  const exact = `${formatCount(Number(ms))} ms`;
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size === 1 && unit === "d" ? "24 h" : ms / size + " " + unit} (${exact})`;
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
  el("h3", {text: "Assignment"}), members, el("h3", {text: "Lag over time"}), state.charts?.groupChart(name),
    el("h3", {text: "Lag"}), table].filter(Boolean);
}

// --- a topic's facts (its forms are in forms.js) ---------------------------------------------------
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

// A form alone in the drawer (add a consumer, start a producer, create a topic, configure a group).
export function openForm(kind, opts, from) {
  state.inspecting = {kind: "form", id: kind};
  state.opener = from;
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
