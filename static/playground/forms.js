// The page's forms: the produce form, the drawer's form builders, sending a command and saying
// how it went (the form's status line, the flash, the log), and the confirm dialog.

import {$, el} from "./dom.js";
import {state} from "./state.js";
import {logLine} from "./eventlog.js";

const {model} = state;
// The room's socket, given by ui.js once it is built (importing ui.js here would be a cycle).
let socket = null;
export function initForms(deps) {
  ({socket} = deps);
}

// --- produce -----------------------------------------------------------------------------------
export const produceForm = $("#produce-form");
// The topics a learner would send to first: those the producers use, then the rest, each in
// the scenario's order (a stable sort keeps the model's).
export function fillTopicSelect(select, keep) {
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

export async function send(command, form, okText = "done") {
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

export function formStatus(form, text, bad) {
  const out = form.querySelector(".form-status");
  if (!out) return;
  out.textContent = text;
  out.classList.toggle("bad", !!bad);
}

// A refusal as a person reads it: "command.partitions: must be …"; the room's own refusals
// (field "type": a viewer's command, a replay) are whole sentences and need no field.
export function errorText(err) {
  if (err && err.field && err.field !== "type") return `${err.field}: ${err.message}`;
  return String(err && err.message ? err.message : err);
}

export function showError(err) {
  const text = errorText(err);
  flash(text, true);
  logLine(`refused: ${text}`, "warning");
}

let flashTimer = 0;
export function flash(text, bad = false) {
  const f = $("#flash");
  f.textContent = text;
  f.classList.toggle("bad", bad);
  f.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { f.hidden = true; }, 4000);
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

export function addPartitionsForm(topic) {
  const t = model.topics.get(topic);
  return form("Add partitions", [field("New total", input("partitions", {type: "number", min: (t?.partitions.length || 1) + 1, value: (t?.partitions.length || 1) + 1}), "Partitions only grow; keys may move.")],
    "Grow topic", (f, node) => send({type: "topic.add_partitions", name: topic, partitions: Number(f.partitions.value)}, node, "grown"),
    {name: "add-partitions"});
}

// --- a topic: its config, growing it, deleting it, replaying its dead letters (its facts: inspector.js)
// The configs the page edits (Kafka's names; broker_core/config.py validates them).
const TOPIC_FIELDS = [
  ["retention.ms", "number", "How long records are kept; -1: for ever. 604800000 = 7 days."],
  ["retention.bytes", "number", "Most bytes kept per partition; -1: no limit."],
  ["cleanup.policy", ["delete", "compact", "compact,delete"], "What retention does with old segments."],
  ["min.insync.replicas", "number", "With acks=all, a write needs this many in-sync replicas."],
  ["unclean.leader.election.enable", ["false", "true"], "May an out-of-sync replica become leader (and lose acknowledged records)?"],
];

export function topicForms(name) {
  const forms = [topicConfigForm(name), addPartitionsForm(name)];
  // A dead-letter topic by the model's word (its snapshot and the dead letters it announces).
  if (model.delivery.get(name)?.kind === "dead_letter") forms.push(deadLetterReplayForm(name));
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
export function syncTopicForms(name) {
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
export function confirmDialog(title, text, okText) {
  const d = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okText;
  d.returnValue = "";
  d.showModal();
  $("#confirm-cancel").focus();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), {once: true}));
}

export function groupConfigForm(name, isNew = false) {
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

export function resetOffsetsForm(name) {
  return form("Reset offsets", [
    field("Topic", select("topic", [...model.topics.keys()])),
    field("To", input("to", {value: "earliest", list: "reset-choices"}), "earliest, latest or an offset; the group must have no live members"),
  ], "Reset", (f, node) => {
    const to = /^\d+$/.test(f.to.value) ? Number(f.to.value) : f.to.value;
    send({type: "group.reset_offsets", group: name, topic: f.topic.value, to}, node);
  });
}

export function consumerAddForm(group) {
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

export function producerForm(tune) {
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

export function topicForm() {
  return form("Create a topic", [
    field("Name", input("name", {required: true, pattern: "[a-zA-Z0-9._\\-]{1,249}"})),
    field("Partitions", input("partitions", {type: "number", min: 1, value: 3})),
    field("Replication factor", input("replication_factor", {type: "number", min: 1, value: Math.min(3, model.brokers.size || 1)})),
    field("min.insync.replicas", input("min_isr", {type: "number", min: 1, value: 1})),
  ], "Create", (f, node) => send({type: "topic.create", name: f.name.value, partitions: Number(f.partitions.value),
    replication_factor: Number(f.replication_factor.value), config: {"min.insync.replicas": Number(f.min_isr.value)}}, node));
}
