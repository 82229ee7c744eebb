// The room page's entry point: wires the socket to the model, the model to the renderer, and
// the controls, keyboard, inspector, narration and event log to the socket.
//
// One requestAnimationFrame loop does all DOM work: frames from the socket only change the
// model and mark what is dirty.

import {Renderer} from "./render.js";
import {$, el, setAttr, setHidden, setText, typing} from "./dom.js";
import {formatClock, formatCount, formatSpeed, jumpProgress, sliderToSpeed, speedToSlider} from "./timeline.js";
import {RoomSocket} from "./socket.js";
import {Session} from "./session.js";
import {Callouts, tickCountdowns} from "./callouts.js";
import {state} from "./state.js";
import {announce} from "./announce.js";
import {flushLog, logAggregate, logEvent, logLine} from "./eventlog.js";
import {fillTopicSelect, flash, initForms, produceForm, send, showError, syncTopicForms} from "./forms.js";
import {initNarration, renderNarration} from "./narration.js";
import {Charts, loadCharts} from "./charts.js";
import {Follow} from "./follow.js";
import {View} from "./view.js";

const reducedQuery = window.matchMedia("(prefers-reduced-motion: reduce)");

const {bootstrap, model, clock} = state;

const charts = new Charts(model);
state.charts = charts; // the inspector draws a group's lag chart with it
const renderer = new Renderer(document.body, model, {
  reduced: reducedQuery.matches,
  speed: () => clock.speed,
  clock,
  charts,
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
    if (room.scenario) state.scenario = room.scenario;
    state.narrationStep = room.narration_step ?? state.narrationStep;
    showViewers(room.viewers);
    showFigures(room.figures);
    callouts.forgetAfter(msg.state.now_ms ?? 0);
    renderer.markAll();
    fillTopicSelect(produceForm.elements.topic);
    renderNarration();
    logLine(`snapshot at event ${msg.seq}`, "system");
    for (const n of room.notices || []) notice(n);
    inspector?.refreshInspector();
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
        if (state.inspecting?.kind === "topic" && state.inspecting.id === ev.topic) state.topicFormsDirty = true;
      }
    }
    if (frame.delivery_topics) {
      model.setDelivery(frame.delivery_topics);
      renderer.mark({kind: "topology"});
    }
    for (const a of frame.aggregates || []) {
      for (const effect of model.applyAggregate(a)) renderer.mark(effect);
      logAggregate(a);
    }
    callouts.flush();
    if (frame.narration_step != null && frame.narration_step !== state.narrationStep) {
      state.narrationStep = frame.narration_step;
      renderNarration();
    }
    showViewers(frame.viewers);
    figureChanges(frame.figures);
    state.inspectorDirty = true;
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
initForms({socket});
initNarration({renderer, socket});
const follow = new Follow({renderer, model});
const view = new View({renderer, state});

// Loaded when first needed, not with the page (issue 13: the room page's first load is what
// it takes to draw the room): the inspector and its forms when something is first opened, the
// figures panel only in a scenario that has figures.
let inspector = null;
let inspectorLoading = null;
function withInspector(fn) {
  if (inspector) return fn(inspector);
  inspectorLoading ||= import("./inspector.js").then((m) => { inspector = m; });
  return inspectorLoading.then(() => fn(inspector));
}
const openInspector = (kind, id, from) => withInspector((m) => m.openInspector(kind, id, from));
const openForm = (kind, opts, from) => withInspector((m) => m.openForm(kind, opts, from));

let figures = null;
let figuresQueue = []; // frames' figure changes that came while the module was on its way
const FIGURES_QUEUE_LIMIT = 200;
function showFigures(list) {
  if (figures) figures.loadFigures(list);
  else if (list?.length) {
    figuresQueue = [];
    import("./figures.js").then((m) => {
      figures = m;
      m.loadFigures(list);
      for (const changes of figuresQueue) m.updateFigures(changes);
      figuresQueue = [];
    });
  }
}
function figureChanges(changes) {
  if (!changes) return;
  if (figures) figures.updateFigures(changes);
  else if (figuresQueue.length < FIGURES_QUEUE_LIMIT) figuresQueue.push(changes);
}

const session = new Session({socket, clock, bootstrap, flash: (t) => flash(t), showError: (e) => showError(e), control: (a, x) => control(a, x)});
document.addEventListener("playground:locks", () => renderNarration());

// How many people have the room open (every frame says it): the presenter sees the class arrive.
function showViewers(n) {
  if (n == null) return;
  const text = n === 1 ? "only you watching" : `${formatCount(n)} watching`;
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
let inspectorAt = 0;
let clockAt = -Infinity;
let chartsAsked = false;
function frameLoop(now) {
  view.tick();
  renderer.flush(now);
  renderer.animate(now);
  follow.render();
  charts.tick(now, clock.read(now));
  session.tick(now);
  // The clock's text ten times a second, not every frame: each change is a layout and paint
  // of the header (bench/anim_frames.py), and tenths are as many as an eye can read.
  if (now - clockAt >= 100 || !clock.playing) {
    const text = formatClock(clock.read(now));
    if (text !== shownClock) {
      $("#clock").textContent = text;
      shownClock = text;
      clockAt = now;
    }
  }
  flushLog(now);
  figures?.flushFigures(now);
  // The charts' library and the tokens' painter once the room is drawn (neither is needed
  // to draw it).
  if (!chartsAsked && document.querySelector(".lane")) {
    chartsAsked = true;
    loadCharts();
    // After this frame is painted: starting a worker holds the main thread a while.
    setTimeout(() => renderer.tokens.startPainter(), 0);
  }
  // Countdowns run from the clock shown, a few times a second (not every animation frame).
  if (now - countdownsAt >= 200) {
    countdownsAt = now;
    tickCountdowns(stage, clock.read(now));
  }
  if ((state.inspectorDirty || state.topicFormsDirty) && now - inspectorAt > 500 && inspector) {
    inspectorAt = now;
    state.inspectorDirty = false;
    inspector.refreshInspector();
    if (state.topicFormsDirty && state.inspecting?.kind === "topic") syncTopicForms(state.inspecting.id);
    state.topicFormsDirty = false;
  }
  requestAnimationFrame(frameLoop);
}
requestAnimationFrame(frameLoop);

// --- time controls -------------------------------------------------------------------------
const speedInput = $("#speed");
function syncTimeControls() {
  const play = $("#play");
  setText(play, clock.playing ? "Pause" : "Play");
  setAttr(play, "aria-pressed", String(clock.playing));
  play.classList.toggle("primary", !clock.playing); // a toggle that changes nothing writes nothing
  setHidden($("#paused"), clock.playing);
  if (document.activeElement !== speedInput) {
    const slider = String(speedToSlider(clock.speed));
    if (speedInput.value !== slider) speedInput.value = slider;
  }
  setText($("#speed-out"), formatSpeed(clock.speed));
  setHidden($("#behind"), !(clock.playing && clock.behind));
  // A long jump runs over many server ticks (other rooms keep their share): show how far.
  const progress = jumpProgress(clock);
  const bar = $("#jump-progress");
  setHidden(bar, progress == null);
  if (progress) {
    bar.querySelector("progress").value = progress.percent;
    setAttr(bar.querySelector("progress"), "aria-valuetext", progress.label);
    setText($("#jump-label"), progress.label);
  }
  // Real Kafka clients connected: the server refuses pause and speed changes, so say why.
  setHidden($("#realtime"), !clock.realtime);
  if (speedInput.disabled !== clock.realtime) speedInput.disabled = clock.realtime;
  const why = "Real Kafka clients are connected: this room runs at 1×";
  for (const button of [play, $("#step"), ...document.querySelectorAll("[data-jump]")]) {
    // (Set again if something else gave the button back meanwhile.)
    if (clock.realtime && (!button.dataset.realtimeLock || !button.disabled || button.title !== why)) {
      button.dataset.realtimeLock = "1";
      button.disabled = true;
      button.title = why;
    } else if (!clock.realtime && button.dataset.realtimeLock) {
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
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "Escape") {
    // An open dialog (confirm, shortcuts) takes its own Escape.
    if (document.querySelector("dialog[open]")) return;
    if (!$("#inspector").hidden) inspector?.closeInspector();
    return;
  }
  if (typing(e.target)) return;
  if (e.key === " " && e.target.tagName !== "BUTTON" && e.target.tagName !== "SUMMARY") {
    e.preventDefault();
    togglePlay();
  } else if (e.key === "ArrowRight" && e.target.type !== "range") {
    e.preventDefault();
    control("step");
  } else if (e.key === "p") {
    view.toggleProjector();
  } else if (e.key === "?") {
    e.preventDefault();
    $("#shortcuts").showModal();
  }
});
$("#help").addEventListener("click", () => $("#shortcuts").showModal());

// --- actions (buttons anywhere with data-action / data-inspect) ----------------------------------
document.addEventListener("click", (e) => {
  const inspect = e.target.closest("[data-inspect]");
  if (inspect) {
    openInspector(inspect.dataset.inspect, inspect.dataset.id, inspect);
    return;
  }
  const token = !e.target.closest("button, input, select, a, summary") && renderer.tokenAt(e.clientX, e.clientY);
  if (token) {
    follow.record(token);
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

// --- consequences: callouts and countdowns ----------------------------------------------------------
const callouts = new Callouts($("#callouts"), {inspect: (id) => openInspector("record", id)});

syncTimeControls();
renderNarration();
// For tests and the console: the page's state, read-only by convention.
window.playground = {model, renderer, clock, socket, session, follow, view, charts, scenario: () => state.scenario,
  narrationStep: () => state.narrationStep, tokensInFlight: () => renderer.flights.size};
