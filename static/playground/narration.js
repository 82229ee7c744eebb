// The scenario's narration panel: the step shown, when it is true, what to watch on the stage,
// "try it yourself", and moving between steps through the room.

import {$, cssEsc, lock} from "./dom.js";
import {splitTp} from "./model.js";
import {shortClock} from "./timeline.js";
import {state} from "./state.js";
import {fillTopicSelect, formStatus, produceForm, showError} from "./forms.js";

// The renderer (for the watched elements) and the socket, given by ui.js once they are built.
let renderer = null;
let socket = null;
export function initNarration(deps) {
  ({renderer, socket} = deps);
}

// --- narration -----------------------------------------------------------------------------------
// When a step is true: "at 0:20", "when broker 1 stops", or both ("from 0:10, when ...").
const WHEN_PHRASES = {
  "broker.stopped": (w) => `broker ${w.broker ?? ""} stops`, "broker.started": (w) => `broker ${w.broker ?? ""} starts`,
  "broker.session_expired": (w) => `broker ${w.broker ?? ""}'s ZooKeeper session expires`,
  "controller.elected": (w) => w.broker != null ? `broker ${w.broker} becomes controller` : "a controller is elected",
  "partition.leader_elected": (w) => `${w.topic ?? "a partition"}${w.partition != null ? "/" + w.partition : ""} gets a new leader`,
  "partition.offline": (w) => `${w.topic ?? "a partition"}${w.partition != null ? "/" + w.partition : ""} goes offline`,
  "partition.isr_changed": (w) => `${w.topic ?? "a partition"}'s ISR changes`,
  "record.produced": (w) => w.key != null ? `${w.key} is produced` : `a record is produced${w.topic ? " to " + w.topic : ""}`,
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
export function describeMoment(s) {
  const w = s.when;
  if (!w) return s.at_ms != null ? `at ${shortClock(s.at_ms)}` : "";
  const what = `when ${(WHEN_PHRASES[w.type] || (() => w.type))(w).replace(/ +/g, " ")}`;
  return s.at_ms ? `from ${shortClock(s.at_ms)}, ${what}` : what;
}

export function watchSelector(w) {
  if (!w) return null;
  if (typeof w === "string") {
    if (w.startsWith("[") || w.startsWith(".") || w.startsWith("#")) return w;
    const [kind, rest] = w.split(":");
    return watchSelector({[kind]: rest});
  }
  const parts = [];
  if (w.record) parts.push(`[data-record="${cssEsc(w.record)}"]`);
  if (w.consumer) parts.push((w.group ? `[data-group="${cssEsc(w.group)}"] ` : "") + `[data-consumer="${cssEsc(w.consumer)}"]`);
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

export function renderNarration() {
  const steps = state.scenario.steps || [];
  const panel = $("#narration");
  panel.hidden = !steps.length;
  if (!steps.length) return;
  const i = Math.max(0, Math.min(state.narrationStep, steps.length - 1));
  const s = steps[i] || {};
  $("#narration-count").textContent = `Step ${i + 1} of ${steps.length}`;
  $("#narration-title").textContent = s.title || "";
  $("#narration-moment").textContent = describeMoment(s);
  $("#narration-text").textContent = s.text || s.body || s.narration || s.say || "";
  // "Try it yourself": the step's record, filled into the produce form for the learner to send.
  const tryIt = $("#narration-try");
  tryIt.hidden = !s.try;
  if (s.try) tryIt.textContent = `Try it yourself: send ${s.try.key != null ? "key " + s.try.key : "a record"} to ${s.try.topic}`;
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
  if (c.type === "produce") return `produce ${c.key != null ? "key " + c.key : "a record"} to ${c.topic}`;
  const who = c.broker ?? c.id ?? c.group ?? c.name ?? c.topic ?? "";
  return `${c.type} ${who}`.trim();
}

export async function narrate(to) {
  const steps = state.scenario.steps || [];
  if (to < 0 || to >= steps.length) return;
  try {
    await socket.narrate(to);
    state.narrationStep = to;
    renderNarration();
  } catch (err) {
    showError(err);
  }
}
$("#narration-try").addEventListener("click", () => {
  const s = (state.scenario.steps || [])[state.narrationStep];
  if (!s?.try) return;
  const f = produceForm.elements;
  fillTopicSelect(f.topic, s.try.topic);
  if (s.try.key != null) f.key.value = s.try.key;
  if (s.try.value != null) f.value.value = s.try.value;
  formStatus(produceForm, "filled in by the step: press Send", false);
  produceForm.querySelector("button[type=submit]").focus();
});
$("#narration-back").addEventListener("click", () => narrate(state.narrationStep - 1));
$("#narration-next").addEventListener("click", () => narrate(state.narrationStep + 1));
