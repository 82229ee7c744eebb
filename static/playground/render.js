// The diagram: producers → brokers (replica lanes) → consumer groups, plus tokens in flight.
//
// Render is a function of the model: `mark(kind, key)` records what changed, `flush()` (once
// per animation frame) rewrites only those parts, then reads the positions new tokens need
// (all reads after all writes, so one layout per frame), then `animate(now)` moves tokens.
// User text (keys, values, headers) only ever goes in through textContent.

import {CELL_WINDOW, recordId, tpId, splitTp} from "./model.js";
import {Flights, hopMs} from "./timeline.js";

// Okabe–Ito, colour-blind safe; black is left out (it is the text colour in light mode).
export const PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"];
// Text on each colour: black where it reads at 4.5:1 or better, white on the dark blue.
const INK = ["#111", "#111", "#111", "#111", "#fff", "#111", "#111"];
const NULL_KEY = "#b8bdc2";

function keyIndex(key) {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % PALETTE.length;
}

export function keyColour(key) {
  return key == null ? NULL_KEY : PALETTE[keyIndex(key)];
}

export function keyInk(key) {
  return key == null ? "#111" : INK[keyIndex(key)];
}

// The CSS custom properties a key-coloured element needs: its fill and its text colour.
export function keyStyle(key) {
  return `--key:${keyColour(key)};--ink:${keyInk(key)}`;
}

// What a token says: the key's trailing number if it has one ("order-17" → "17"), else its
// first three characters; "∅" for no key.
export function keyLabel(key) {
  if (key == null) return "∅";
  const m = /(\d+)$/.exec(key);
  return m ? m[1].slice(-4) : key.slice(0, 3);
}

export const isSideTopic = (name) => /(-dlt|-retry(-\d+)?|\.DLT|-dlq)$/i.test(name);

// Why this page may not send commands now (a viewer of a presenter's room, a replay), or null.
// Every command button is built disabled while it is set, so a rebuild never re-enables one;
// ui.js updates the buttons already on the page when it changes.
export const lock = {command: null};

// Disable a control with the reason as its tooltip (reason null: give it back as it was).
export function lockNode(node, reason) {
  if (reason) {
    if (!("locked" in node.dataset)) node.dataset.title0 = node.getAttribute("title") ?? "";
    node.disabled = true;
    node.title = reason;
    node.dataset.locked = "";
  } else if ("locked" in node.dataset) {
    node.disabled = false;
    if (node.dataset.title0) node.title = node.dataset.title0;
    else node.removeAttribute("title");
    delete node.dataset.locked;
    delete node.dataset.title0;
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  if (lock.command && (attrs["data-action"] || attrs["data-command"])) lockNode(node, lock.command);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

const fmt = (n) => Number(n).toLocaleString("en-US");

// A deadline the model announced (a session, a processing timeout, a back-off, the ISR's
// patience): drawn on the thing that will change, its text kept running by ui.js's ticker
// (tickCountdowns) from the room's clock, so it counts at the room's speed and stops when
// the room pauses.
export function countdown(untilMs, label, kind) {
  return el("span", {class: `countdown ${kind}`, "data-until-ms": String(untilMs), "data-label": label,
    role: "timer", text: label});
}

export class Renderer {
  constructor(root, model, opts = {}) {
    this.root = root;
    this.model = model;
    this.reduced = !!opts.reduced;
    this.speed = () => (opts.speed ? opts.speed() : 1);
    this.onArrive = opts.onArrive || (() => {});
    this.cols = {
      producers: root.querySelector("#producers"),
      controller: root.querySelector("#controller"),
      brokers: root.querySelector("#brokers"),
      side: root.querySelector("#side-topics"),
      groups: root.querySelector("#groups"),
      legend: root.querySelector("#legend"),
    };
    this.canvas = root.querySelector("#flights");
    this.ctx = this.canvas.getContext("2d");
    window.addEventListener("resize", () => this.sizeCanvas());
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.sizeCanvas());
    this.flights = new Flights(opts.cap);
    this.pending = []; // tokens waiting for positions
    this.dirty = {all: true, parts: new Set(), groups: new Set(), producers: false, controller: false, legend: true};
    this.sampled = 0; // records not drawn since the page started sampling
    this.sampledAt = 0;
    this.watch = null;
    this.cellWindow = CELL_WINDOW;
    // Lanes draw as many cells as fit, measured again whenever the brokers' column changes
    // width (a scroll bar, a panel beside it, the window): measured only when the lanes were
    // rebuilt, a page that has been open a while kept an old window and drew other cells than
    // a page opened later at the same size.
    if (window.ResizeObserver) new ResizeObserver(() => { this.dirty.measure = true; }).observe(this.cols.brokers);
    this.at = {parts: 0, groups: 0, producers: 0, legend: 0};
    this.elected = new Map(); // partition -> when its leader changed (the new leader lane pulses)
  }

  // --- marking -------------------------------------------------------------------------------
  mark(effect) {
    const d = this.dirty;
    if (effect.kind === "leader") this.elected.set(tpId(effect.topic, effect.partition), performance.now());
    switch (effect.kind) {
      case "topology": case "broker": case "controller": case "leader": case "groups":
        d.all = true; break;
      case "partition": case "aggregate": case "replicated":
        d.parts.add(tpId(effect.topic, effect.partition)); break;
      case "produced":
        d.parts.add(tpId(effect.topic, effect.partition)); d.producers = true; d.legend = true; break;
      case "group": case "lag": case "consumer": case "mark": case "assigned": case "delivered":
        d.groups.add(effect.group); break;
      case "dead":
        d.groups.add(effect.group); d.parts.add(tpId(effect.topic, effect.partition)); break;
      case "producers": d.producers = true; break;
      case "zk": d.controller = true; break;
      default: break;
    }
    if (effect.kind === "lag" || effect.kind === "partition") for (const g of this.model.groups.keys()) d.groups.add(g);
    this.motion(effect);
  }

  markAll() {
    this.dirty.all = true;
    this.flights.clear();
    this.pending = [];
  }

  // --- motion --------------------------------------------------------------------------------
  // Queue a token for an effect; positions are read in flush().
  motion(e) {
    const m = this.model;
    let token = null;
    if (e.kind === "produced") {
      token = {id: e.id, key: e.key, from: e.from ? {consumer: e.from} : {producer: e.producer},
        to: {lane: [e.topic, e.partition, e.leader]}, kind: "produce",
        arrive: {kind: "produced", record: e.id, topic: e.topic, partition: e.partition, broker: e.leader}};
    } else if (e.kind === "replicated") {
      const t = m.trail(recordId(e.topic, e.partition, e.offset));
      if (!t) return; // a record this page never saw: its copy is only a count
      token = {id: recordId(e.topic, e.partition, e.offset), key: t ? t.key : null, count: e.count,
        from: {lane: [e.topic, e.partition, e.from]}, to: {lane: [e.topic, e.partition, e.broker]}, kind: "replica",
        arrive: {kind: "replicated", record: recordId(e.topic, e.partition, e.offset), count: e.count, broker: e.broker}};
    } else if (e.kind === "delivered") {
      const t = m.trail(e.id);
      if (!t) return;
      const part = m.partition(e.topic, e.partition);
      token = {id: e.id, key: t ? t.key : null, from: {lane: [e.topic, e.partition, part ? part.leader : null]},
        to: {consumer: [e.group, e.consumer]}, kind: e.attempt > 1 ? "retry" : "deliver",
        arrive: {kind: "delivered", record: e.id, group: e.group, consumer: e.consumer}};
    } else if (e.kind === "dead") {
      token = {id: recordId(e.topic, e.partition, e.offset), key: e.key, from: {consumer: [e.group, e.consumer]},
        to: {lane: [e.topic, e.partition, null]}, kind: "dead",
        arrive: {kind: "dead_lettered", record: recordId(e.topic, e.partition, e.offset), group: e.group}};
    }
    if (!token) return;
    if (this.flights.full() || this.pending.length + this.flights.size >= this.flights.cap) {
      if (e.kind === "produced") {
        const part = m.partition(e.topic, e.partition);
        if (part) part.undrawn += 1;
        this.sampled += 1;
        this.sampledAt = performance.now();
        this.dirty.legend = true;
      }
      if (token.arrive) this.onArrive(token.arrive);
      return;
    }
    this.pending.push(token);
  }

  // --- DOM writes ----------------------------------------------------------------------------
  flush(now = performance.now()) {
    const d = this.dirty;
    if (d.all) {
      this.renderControllerPanel();
      this.renderBrokers();
      this.renderGroups();
      this.renderProducers();
      this.pulseElected();
      d.all = false;
      d.parts.clear();
      d.groups.clear();
      d.producers = false;
      d.controller = false;
      d.legend = true;
      this.applyWatch();
    } else {
      // Lanes, groups and side panels redraw a few times a second at most, whatever the event
      // rate; only tokens move every frame.
      if (d.parts.size && now - this.at.parts >= 100) {
        this.at.parts = now;
        for (const key of d.parts) this.updatePartition(...splitTp(key));
        d.parts.clear();
      }
      if (d.groups.size && now - this.at.groups >= 150) {
        this.at.groups = now;
        for (const g of d.groups) this.updateGroup(g);
        d.groups.clear();
      }
      if (d.producers && now - this.at.producers >= 250) {
        this.at.producers = now;
        this.renderProducers();
        d.producers = false;
      }
      if (d.controller) this.renderControllerPanel();
      d.controller = false;
      // Redrawn lanes and chips are new elements: a step watching a record that has just
      // arrived (or a consumer whose chip changed) must find it highlighted there too.
      if (this.watch && (now === this.at.parts || now === this.at.groups || now === this.at.producers)) this.applyWatch();
    }
    if (d.legend && now - this.at.legend >= 500) {
      this.at.legend = now;
      this.renderLegend(now);
      d.legend = false;
    }
    if (d.measure) {
      d.measure = false;
      this.measureWindow();
    }
    this.launch(now);
  }

  renderControllerPanel() {
    const m = this.model;
    const box = this.cols.controller;
    const wasOpen = !!box.querySelector("details[open]");
    box.replaceChildren();
    box.append(el("h2", {class: "panel-title", text: "Controller"}),
      el("p", {class: "controller-line"},
        el("span", {class: "crown", "aria-hidden": "true", text: "♛"}),
        el("span", {text: m.controller != null ? ` broker ${m.controller}` : " none"}),
        el("span", {class: "muted num", text: m.controllerEpoch != null ? ` · epoch ${m.controllerEpoch}` : ""})));
    const nodes = [...m.zk.keys()].sort();
    const details = el("details", {class: "zk", open: wasOpen}, el("summary", {text: `ZooKeeper · ${nodes.length} nodes`}));
    const list = el("ul", {class: "zk-nodes"});
    for (const path of nodes) {
      const v = m.zk.get(path);
      list.append(el("li", {}, el("code", {text: path}), el("span", {class: "muted", text: ` ${summariseZk(v)}`})));
    }
    details.append(list);
    box.append(details);
  }

  renderBrokers() {
    const m = this.model;
    const box = this.cols.brokers;
    box.replaceChildren();
    // In the order the room made them (model.js keeps it across snapshots): the scenario's
    // own order, where its story starts, the same after a reload or a fork; new topics last.
    const topics = [...m.topics.values()];
    const main = topics.filter((t) => !isSideTopic(t.name));
    const side = topics.filter((t) => isSideTopic(t.name));
    for (const b of [...m.brokers.values()].sort((a, z) => a.id - z.id)) {
      // A crash and a clean stop look different: a crashed broker said nothing, and the
      // cluster finds out only when its ZooKeeper session expires (counted down here).
      const crashed = !b.up && b.mode === "crash";
      const how = b.up ? "up" : crashed ? "crashed" : "stopped cleanly";
      const card = el("section", {class: `broker${b.up ? "" : " down"}${crashed ? " crashed" : ""}`, "data-broker": b.id,
        "aria-label": `Broker ${b.id} (${how})${m.controller === b.id ? ", controller" : ""}`});
      const head = el("header", {class: "broker-head"},
        el("h3", {text: `Broker ${b.id}`}),
        m.controller === b.id ? el("span", {class: "badge controller-badge", title: "controller", text: "♛ controller"}) : null,
        el("span", {class: `status ${b.up ? "up" : crashed ? "crashed" : "down"}`,
          title: crashed ? "crashed: no goodbye; ZooKeeper notices when its session expires" : b.up ? "" : "stopped cleanly: it handed its leaderships over first",
          text: crashed ? "✕ crashed" : b.up ? "up" : "■ stopped"}),
        crashed && b.sessionExpiresMs != null ? countdown(b.sessionExpiresMs, "ZooKeeper session expires in", "zk-session") : null,
        el("span", {class: "spacer"}),
        b.up
          ? el("span", {class: "actions"},
            el("button", {type: "button", class: "mini", "data-action": "broker.stop", "data-mode": "clean", "data-id": b.id,
              "aria-label": `Stop broker ${b.id} cleanly`, text: "Stop"}),
            el("button", {type: "button", class: "mini danger", "data-action": "broker.stop", "data-mode": "crash", "data-id": b.id,
              "aria-label": `Crash broker ${b.id}`, text: "Crash"}))
          : el("button", {type: "button", class: "mini", "data-action": "broker.start", "data-id": b.id,
            "aria-label": `Start broker ${b.id}`, text: "Start"}));
      card.append(head);
      const lanes = el("div", {class: "lanes"});
      for (const t of main) {
        const here = t.partitions.filter((part) => part && part.replicas.includes(b.id));
        if (!here.length) continue;
        const block = el("div", {class: "topic-block", "data-topic-block": t.name}, topicTitle(t));
        for (const part of here) block.append(this.lane(part, b.id));
        lanes.append(block);
      }
      if (!lanes.childElementCount) lanes.append(el("p", {class: "muted empty", text: "no replicas"}));
      card.append(lanes);
      box.append(card);
    }
    // Dead-letter and retry topics: set apart, one lane per partition (its leader's log).
    this.cols.side.replaceChildren();
    this.cols.side.hidden = !side.length;
    if (side.length) {
      this.cols.side.append(el("h2", {class: "panel-title", text: "Dead-letter and retry topics"}));
      const grid = el("div", {class: "side-topic-grid"});
      for (const t of side) {
        const block = el("div", {class: "side-topic", "data-side-topic": t.name}, topicTitle(t));
        for (const part of t.partitions) if (part) block.append(this.lane(part, null));
        grid.append(block);
      }
      this.cols.side.append(grid);
    }
    this.measureWindow();
  }

  pulseElected() {
    const now = performance.now();
    for (const [key, at] of this.elected) {
      if (now - at > 2000) {
        this.elected.delete(key);
        continue;
      }
      const [topic, p] = splitTp(key);
      const lane = this.root.querySelector(`.lane[data-topic="${cssEsc(topic)}"][data-partition="${p}"][data-role="leader"]`);
      if (lane) lane.classList.add("elected");
    }
  }

  // How many cells fit: the window of newest offsets each lane shows.
  measureWindow() {
    const tape = this.root.querySelector(".tape");
    if (!tape) return;
    const w = tape.clientWidth;
    const fit = Math.max(4, Math.floor(w / 15));
    if (fit !== this.cellWindow) {
      this.cellWindow = Math.min(CELL_WINDOW * 2, fit);
      for (const t of this.model.topics.values()) for (const p of t.partitions) if (p) this.updatePartition(t.name, p.partition);
    }
  }

  lane(part, broker) {
    const side = broker == null;
    const b = side ? part.leader : broker;
    const role = part.leader === b ? "leader" : "follower";
    const inIsr = part.isr.includes(b);
    const offline = part.leader == null;
    const lane = el("div", {class: `lane ${role}${side ? " side" : ""}${offline ? " offline" : ""}`, "data-topic": part.topic, "data-partition": part.partition,
      "data-role": role, "data-replica": b ?? ""});
    const label = el("button", {type: "button", class: "lane-label", "data-inspect": "partition",
      "data-id": tpId(part.topic, part.partition),
      "aria-label": `${part.topic} partition ${part.partition}, ${role} replica${b != null ? ` on broker ${b}` : ""}${inIsr ? ", in sync" : ""}`},
    el("span", {class: "lane-p num", text: `P${part.partition}`}),
    el("span", {class: "role", title: role, text: role === "leader" ? "L" : "F"}),
    inIsr && !side ? el("span", {class: "isr", title: "in the ISR", text: "ISR"}) : null);
    const tape = el("div", {class: "tape", role: "img"});
    const count = el("span", {class: "undrawn num", hidden: true});
    const meta = el("span", {class: "lane-meta num"});
    lane.append(label, tape, count, meta);
    // A crashed broker's follower replica stays in the ISR until the leader's check finds it
    // stale or the controller sees its session end: the lane counts that down.
    const bs = !side && role === "follower" && inIsr ? this.model.brokers.get(b) : null;
    if (bs && !bs.up && bs.leavesIsrMs != null) lane.append(countdown(bs.leavesIsrMs, "leaves the ISR in", "isr-lag"));
    lane._parts = {tape, count, meta, label};
    lane._isr = part.isr.join(","); // drawn with this ISR (badges, countdown): updatePartition
    this.fillLane(lane, part, b, role);
    return lane;
  }

  fillLane(lane, part, b, role) {
    const {tape, count, meta} = lane._parts;
    const leo = part.leo.get(b) ?? (role === "leader" ? part.hw : 0);
    const first = Math.max(part.logStart, leo - this.cellWindow);
    const sig = `${first}|${leo}|${part.hw}|${part.undrawn}`;
    if (lane._sig === sig) return;
    lane._sig = sig;
    const cells = [];
    for (let off = first; off < leo; off++) {
      const rec = part.cells.get(off);
      const id = recordId(part.topic, part.partition, off);
      const cell = document.createElement("span");
      cell.className = off >= part.hw ? "cell above-hw" : "cell";
      cell.dataset.record = id;
      // A record this page never saw (before it connected, or counted in an aggregate) stays
      // an empty cell: grey is for records without a key.
      if (rec) cell.style.setProperty("--key", keyColour(rec.key));
      else cell.classList.add("unseen");
      cell.title = `offset ${off}${rec && rec.key != null ? ` · key ${rec.key}` : ""}${off >= part.hw ? " · above the high watermark" : ""}`;
      if (off === part.hw) cells.push(hwMarker(part.hw));
      cells.push(cell);
    }
    if (part.hw >= leo && leo > first) cells.push(hwMarker(part.hw));
    tape.replaceChildren(...cells);
    tape.setAttribute("aria-label", `offsets ${first} to ${Math.max(first, leo - 1)}, high watermark ${part.hw}`);
    meta.textContent = `${leo}`;
    meta.title = `log end offset ${leo} · high watermark ${part.hw}`;
    if (part.undrawn > 0) {
      count.hidden = false;
      count.textContent = `+${fmt(part.undrawn)}`;
      count.title = `${fmt(part.undrawn)} records arrived without a token of their own (sampled)`;
    } else {
      count.hidden = true;
    }
  }

  updatePartition(topic, p) {
    const part = this.model.partition(topic, p);
    if (!part) return;
    for (const lane of this.root.querySelectorAll(`.lane[data-topic="${cssEsc(topic)}"][data-partition="${p}"]`)) {
      const side = lane.classList.contains("side");
      const b = side ? part.leader : Number(lane.dataset.replica);
      // The ISR changed (a follower left or rejoined): this lane's badges are redrawn whole.
      if (lane._isr !== part.isr.join(",")) lane.replaceWith(this.lane(part, side ? null : b));
      else this.fillLane(lane, part, b, lane.dataset.role);
    }
  }

  renderGroups() {
    const box = this.cols.groups;
    box.replaceChildren();
    const names = [...this.model.groups.keys()]; // the order they were made, as topics
    if (!names.length) box.append(el("p", {class: "muted empty", text: "No consumer groups yet."}));
    for (const name of names) {
      const section = el("section", {class: "group", "data-group": name, "aria-label": `Consumer group ${name}`});
      box.append(section);
      this.updateGroup(name, section);
    }
  }

  // What a rebuild of a group's DOM depends on; lag and recent records are patched in place.
  groupShape(g) {
    const cs = [...g.consumers.values()].map((c) => `${c.id}:${c.status}:${c.mark}:${c.partitions.join(",")}`);
    return `${g.state}|${g.generation}|${g.kind}|${g.assignor}|${cs.join(";")}`;
  }

  updateGroup(name, section = null) {
    const g = this.model.groups.get(name);
    section = section || this.cols.groups.querySelector(`[data-group="${cssEsc(name)}"]`);
    if (!g || !section) {
      if (g && !section) this.dirty.all = true;
      return;
    }
    const shape = this.groupShape(g);
    if (section._shape === shape) {
      this.patchGroup(g, section);
      return;
    }
    section._shape = shape;
    // Where each partition tag was, so a rebalance can slide it to its new owner (FLIP).
    const before = new Map();
    if (!this.reduced) for (const tag of section.querySelectorAll(".tag[data-tp]")) before.set(`${tag.dataset.tp}`, tag.getBoundingClientRect());
    const focused = section.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    const head = el("header", {class: "group-head"},
      el("button", {type: "button", class: "group-name", "data-inspect": "group", "data-id": name, text: name}),
      el("span", {class: `pill state-${g.state}`, text: g.state}),
      el("span", {class: "muted num gen", title: "generation", text: `gen ${g.generation}`}),
      g.kind === "clients" ? el("span", {class: "badge clients", "data-clients": g.assignor,
        title: `Real Kafka clients: their leader computed this assignment with ${g.assignor}; the broker only relayed it`,
        text: `real clients · ${g.assignor}`}) : null,
      el("span", {class: "spacer"}),
      g.kind === "clients" ? null : el("button", {type: "button", class: "mini", "data-action": "consumer.add",
        "data-in-group": name, "aria-label": `Add a consumer to ${name}`, text: "+"}));
    const list = el("ul", {class: "consumers"});
    for (const c of [...g.consumers.values()].sort((a, z) => a.id.localeCompare(z.id, "en", {numeric: true}))) {
      list.append(this.consumerChip(g, c));
    }
    if (!g.consumers.size) list.append(el("li", {class: "muted empty", text: "no consumers"}));
    section.classList.toggle("rebalancing", g.state === "PreparingRebalance" || g.state === "CompletingRebalance");
    section.replaceChildren(head, list);
    if (focused) section.querySelector(focused)?.focus();
    if (before.size) {
      for (const tag of section.querySelectorAll(".tag[data-tp]")) {
        const was = before.get(tag.dataset.tp);
        if (!was) continue;
        const now = tag.getBoundingClientRect();
        const dx = was.left - now.left;
        const dy = was.top - now.top;
        if (Math.abs(dx) + Math.abs(dy) < 2) continue;
        tag.animate([{transform: `translate(${dx}px, ${dy}px)`}, {transform: "none"}], {duration: 450, easing: "ease-out"});
      }
    }
  }

  patchGroup(g, section) {
    for (const chip of section.querySelectorAll("[data-consumer]")) {
      const c = g.consumers.get(chip.dataset.consumer);
      if (!c) continue;
      const deadlines = deadlinesKey(c);
      if (chip._deadlines !== deadlines) {
        chip._deadlines = deadlines;
        chip.querySelector(".deadlines")?.replaceChildren(...this.deadlines(c));
      }
      const recentKey = `${c.inFlight}|${c.last}`;
      if (chip._recent !== recentKey) {
        chip._recent = recentKey;
        const box = chip.querySelector(".recent");
        if (box && !box.contains(document.activeElement)) box.replaceChildren(...this.recent(c));
      }
      for (const tag of chip.querySelectorAll(".tag[data-tp]")) {
        const lag = this.model.lag(g, tag.dataset.tp);
        const n = tag.querySelector(".lag");
        if (n.textContent === String(lag)) continue;
        n.textContent = String(lag);
        n.classList.toggle("behind", lag > 0);
        n.setAttribute("aria-label", `lag ${lag}`);
        tag.querySelector(".lagbar span").style.width = `${Math.min(100, lag * 10)}%`;
      }
    }
  }

  consumerChip(g, c) {
    const m = this.model;
    const li = el("li", {class: `consumer ${c.status}`, "data-consumer": c.id});
    const markIcon = {failed: "✕", retry: "↻", timeout: "◷", dead: "✕", hung: "‖"}[c.mark];
    const tags = el("span", {class: "tags"});
    const names = topicNicknames(c.partitions.map((k) => splitTp(k)[0]));
    for (const key of c.partitions) {
      const [topic, p] = splitTp(key);
      const lag = m.lag(g, key);
      tags.append(el("span", {class: "tag", "data-tp": key, title: `${topic} partition ${p}: lag ${lag}`},
        el("span", {class: "num", text: names.get(topic) ? `${names.get(topic)}·P${p}` : `P${p}`}),
        el("span", {class: `lag num${lag ? " behind" : ""}`, "aria-label": `lag ${lag}`, text: String(lag)}),
        el("span", {class: "lagbar", "aria-hidden": "true"}, el("span", {style: `width:${Math.min(100, lag * 10)}%`}))));
    }
    if (!c.partitions.length) tags.append(el("span", {class: "muted idle", text: c.status === "crashed" ? "—" : "idle"}));
    li.append(el("div", {class: "consumer-top"},
      el("span", {class: "consumer-name", text: c.id, title: c.client ? `real client ${c.client}` : c.id}),
      c.status === "crashed" ? el("span", {class: "badge down", title: "crashed: the group finds out when its session times out", text: "crashed"}) : null,
      markIcon ? el("span", {class: `mark mark-${c.mark}`, title: c.mark, "aria-label": c.mark, text: markIcon}) : null,
      el("span", {class: "deadlines"}, ...this.deadlines(c)),
      tags,
      el("span", {class: "spacer"}),
      el("span", {class: "recent"}, ...this.recent(c)),
      // A real client runs in its own program: the page cannot hang, remove or crash it.
      c.client ? null : el("span", {class: "chip-actions"},
      c.status === "crashed" ? null : el("button", {type: "button", class: `icon${c.hung ? " on" : ""}`, "data-action": "consumer.hang",
        "data-in-group": g.name, "data-id": c.id, "data-hangs": String(!c.hung), "aria-pressed": String(!!c.hung),
        "aria-label": c.hung ? `Let ${c.id} recover` : `Hang ${c.id}`,
        title: c.hung ? "hung: its code never returns; click to let it recover" : "hang (its code stops returning)", text: "‖"}),
      el("button", {type: "button", class: "icon", "data-action": "consumer.remove", "data-in-group": g.name, "data-id": c.id,
        "aria-label": `Remove ${c.id} (leaves politely)`, title: "remove (leaves politely)", text: "⏏"}),
      el("button", {type: "button", class: "icon danger", "data-action": "consumer.crash", "data-in-group": g.name, "data-id": c.id,
        "aria-label": `Crash ${c.id}`, title: "crash (silent)", text: "☠"}))));
    li._deadlines = deadlinesKey(c);
    return li;
  }

  // What will happen to a consumer next, and when: the group notices its crash, the record in
  // hand times out, the failed record is tried again. Patched in place (patchGroup): a new
  // delivery changes them without changing the group's shape.
  deadlines(c) {
    if (c.status === "crashed") return c.sessionExpiresMs != null ? [countdown(c.sessionExpiresMs, "session times out in", "session")] : [];
    return [c.timesOutMs != null ? countdown(c.timesOutMs, "record times out in", "processing") : null,
      c.retryMs != null ? countdown(c.retryMs, "retries in", "backoff") : null].filter(Boolean);
  }

  // The records a consumer is working on or just finished, newest first.
  recent(c) {
    const ids = [];
    if (c.inFlight) ids.push([c.inFlight, "busy"]);
    if (c.last && c.last !== c.inFlight) ids.push([c.last, "done"]);
    return ids.map(([id, state]) => {
      const t = this.model.trail(id);
      const key = t ? t.key : null;
      return el("button", {type: "button", class: `rec ${state}`, "data-record": id, "data-inspect": "record", "data-id": id,
        style: keyStyle(key), title: `${id}${key != null ? ` · key ${key}` : ""} (${state === "busy" ? "processing" : "processed"})`,
        "aria-label": `record ${id}${key != null ? ` key ${key}` : ""}, ${state === "busy" ? "processing" : "processed"}`,
        text: keyLabel(key)});
    });
  }

  renderProducers() {
    const box = this.cols.producers;
    box.replaceChildren();
    for (const p of [...this.model.producers.values()].sort((a, z) => a.id.localeCompare(z.id))) {
      box.append(el("li", {class: "producer", "data-producer": p.id},
        el("div", {class: "producer-name", text: p.id}),
        el("div", {class: "muted small num", text: `→ ${p.topic} · ${p.rate_per_s}/s · acks=${p.acks ?? "all"}`}),
        el("div", {class: "producer-foot"},
          el("span", {class: "muted small num", text: `${fmt(p.sent || 0)} sent`}),
          el("span", {class: "spacer"}),
          el("button", {type: "button", class: "mini", "data-action": "producer.tune", "data-id": p.id, "aria-label": `Tune ${p.id}`, text: "Tune"}),
          el("button", {type: "button", class: "mini", "data-action": "producer.remove", "data-id": p.id, "aria-label": `Stop ${p.id}`, text: "Stop"}))));
    }
    if (!this.model.producers.size) box.append(el("li", {class: "muted empty", text: "No running producers."}));
  }

  renderLegend(now) {
    const box = this.cols.legend;
    const keys = [...this.model.keys.keys()].slice(-4).reverse();
    const items = keys.map((k) => el("li", {}, el("span", {class: "swatch token-shape", style: keyStyle(k), text: keyLabel(k)}),
      el("span", {text: k})));
    const sampling = this.sampled > 0 && now - this.sampledAt < 5000;
    box.replaceChildren(...[
      el("ul", {class: "legend-keys", "aria-label": "Token colours by key"}, ...items),
      el("ul", {class: "legend-marks"},
        el("li", {}, el("span", {class: "swatch cell above-hw"}), el("span", {text: "above high watermark"})),
        el("li", {}, el("span", {class: "swatch cell unseen"}), el("span", {text: "counted, not drawn"})),
        el("li", {}, el("span", {class: "sym", text: "L/F"}), el("span", {text: "leader/follower"})),
        el("li", {}, el("span", {class: "sym amber", text: "◷"}), el("span", {text: "timeout"})),
        el("li", {}, el("span", {class: "sym amber", text: "‖"}), el("span", {text: "hung (stuck processing)"})),
        el("li", {}, el("span", {class: "sym amber", text: "↻"}), el("span", {text: "retry"})),
        el("li", {}, el("span", {class: "sym red", text: "✕"}), el("span", {text: "failed / dead letter"}))),
      sampling
        ? el("p", {class: "sampling", text: `Too many records to draw: showing a sample; lanes count the rest (+${fmt(this.sampled)}).`})
        : null].filter(Boolean));
    if (sampling) setTimeout(() => { this.dirty.legend = true; }, 5200);
  }

  // --- highlight for narration ---------------------------------------------------------------
  setWatch(selector) {
    this.watch = selector;
    this.applyWatch();
  }

  applyWatch() {
    for (const n of this.root.querySelectorAll(".watched")) n.classList.remove("watched");
    if (!this.watch) return;
    for (const n of this.root.querySelectorAll(this.watch)) n.classList.add("watched");
  }

  // --- tokens --------------------------------------------------------------------------------
  locate(spec) {
    if (spec.producer !== undefined) {
      const p = spec.producer != null && this.cols.producers.querySelector(`[data-producer="${cssEsc(spec.producer)}"]`);
      return p || this.root.querySelector("#produce-form");
    }
    if (spec.lane) {
      const [topic, p, b] = spec.lane;
      const sel = `.lane[data-topic="${cssEsc(topic)}"][data-partition="${p}"]`;
      const lane = (b != null && this.root.querySelector(`[data-broker="${b}"] ${sel}`)) || this.root.querySelector(`${sel}[data-role="leader"]`)
        || this.root.querySelector(sel);
      return lane ? lane._parts?.tape || lane : null;
    }
    if (spec.consumer) {
      const [g, c] = spec.consumer;
      const chip = this.cols.groups.querySelector(`[data-group="${cssEsc(g)}"] [data-consumer="${cssEsc(c)}"]`);
      return chip ? chip.querySelector(".recent") || chip : null;
    }
    return null;
  }

  launch(now) {
    if (!this.pending.length) return;
    const speed = this.speed();
    const dur = hopMs(speed, this.reduced);
    const rects = new Map();
    const rectOf = (node) => {
      if (!rects.has(node)) rects.set(node, node.getBoundingClientRect());
      return rects.get(node);
    };
    const ready = [];
    for (const tok of this.pending) {
      const a = this.locate(tok.from);
      const b = this.locate(tok.to);
      if (!a || !b) {
        if (tok.arrive) this.onArrive(tok.arrive);
        continue;
      }
      const ra = rectOf(a);
      const rb = rectOf(b);
      tok.target = describeTarget(b);
      const toTape = !!tok.to.lane;
      tok.from = {x: tok.from.lane ? ra.right - 10 : ra.left + ra.width / 2, y: ra.top + ra.height / 2};
      tok.to = {x: toTape ? rb.right - 10 : rb.left + 10, y: rb.top + rb.height / 2};
      ready.push(tok);
    }
    this.pending = [];
    // Tokens of one frame leave a little apart so a burst reads as a stream.
    let i = 0;
    for (const tok of ready) {
      tok.start = now + Math.min(i * 18, 400);
      tok.dur = dur;
      i++;
      this.flights.add(tok);
    }
  }

  // Tokens are drawn on one canvas: 300 moving DOM elements cost a full style, layout and
  // paint pass a frame in a software-rendered browser; 300 discs on a canvas cost about a ms.
  sizeCanvas() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = window.innerWidth;
    const h = window.innerHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    this.dpr = dpr;
    this.sprites = new Map();
    const css = getComputedStyle(document.documentElement);
    this.ink = {
      ring: css.getPropertyValue("--token-ring").trim() || "#fff",
      amber: css.getPropertyValue("--amber").trim() || "#9a5b00",
      red: css.getPropertyValue("--red").trim() || "#b3261e",
    };
  }

  animate(now) {
    const {moving, done} = this.flights.step(now, this.reduced);
    for (const t of done) {
      if (t.arrive) this.onArrive({...t.arrive, drawn: true, landed: t.target});
    }
    if (!moving.length && !this.painted) return this.flights.size;
    if (!this.dpr) this.sizeCanvas();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = [];
    const dpr = this.dpr;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = `700 ${10 * dpr}px system-ui, sans-serif`;
    for (const {t, x, y, opacity} of moving) {
      const sprite = this.sprite(t);
      ctx.globalAlpha = opacity;
      // Whole device pixels: a sprite drawn at a fraction is resampled, which costs and blurs.
      const px = Math.round(x * dpr);
      const py = Math.round(y * dpr);
      ctx.drawImage(sprite, px - sprite.width / 2, py - sprite.height / 2);
      if (t.kind !== "replica") {
        ctx.fillStyle = keyInk(t.key);
        ctx.fillText(t.count > 1 ? `${keyLabel(t.key)}+` : keyLabel(t.key), px, py + dpr / 2);
      }
      this.drawn.push({x, y, r: sprite.r, id: t.id});
    }
    ctx.globalAlpha = 1;
    this.painted = moving.length > 0;
    return this.flights.size;
  }

  // A token's disc, drawn once per (key colour, kind) and reused: a bitmap is far cheaper to
  // draw than an arc and a stroke for every token in every frame. The label is drawn on top.
  sprite(t) {
    const small = t.kind === "replica";
    const label = "";
    const id = `${keyColour(t.key)}|${t.kind}`;
    let sp = this.sprites.get(id);
    if (sp) return sp;
    const dpr = this.dpr;
    const r = small ? 7 : 11;
    const pad = t.kind === "retry" || t.kind === "dead" ? 8 : 2;
    const size = Math.ceil((r + pad) * 2 * dpr);
    sp = document.createElement("canvas");
    sp.width = size;
    sp.height = size;
    sp.r = r;
    const c = sp.getContext("2d");
    c.scale(dpr, dpr);
    const mid = size / dpr / 2;
    c.globalAlpha = small ? 0.8 : 1;
    c.fillStyle = keyColour(t.key);
    c.strokeStyle = t.kind === "dead" ? this.ink.red : this.ink.ring;
    c.lineWidth = 2;
    c.beginPath();
    c.arc(mid, mid, r, 0, Math.PI * 2);
    c.fill();
    c.stroke();
    if (label) {
      c.textAlign = "center";
      c.textBaseline = "middle";
      c.font = "700 10px system-ui, sans-serif";
      c.fillStyle = keyInk(t.key);
      c.fillText(label, mid, mid + 0.5);
    }
    if (t.kind === "retry" || t.kind === "dead") {
      c.font = "700 12px system-ui, sans-serif";
      c.fillStyle = t.kind === "retry" ? this.ink.amber : this.ink.red;
      c.fillText(t.kind === "retry" ? "↻" : "✕", mid + r - 1, mid - r + 3);
    }
    if (this.sprites.size > 600) this.sprites.clear();
    this.sprites.set(id, sp);
    return sp;
  }

  // The token under a point (the newest drawn on top), for clicks.
  tokenAt(x, y) {
    for (let i = (this.drawn || []).length - 1; i >= 0; i--) {
      const d = this.drawn[i];
      if ((d.x - x) ** 2 + (d.y - y) ** 2 <= (d.r + 2) ** 2) return d.id;
    }
    return null;
  }
}

// Which hook-carrying element a token landed on: "broker=2 lane=order-placed/1 role=leader" or
// "group=inventory consumer=inventory-1".
const deadlinesKey = (c) => `${c.status}|${c.sessionExpiresMs}|${c.timesOutMs}|${c.retryMs}`;

function describeTarget(node) {
  const bits = [];
  const broker = node.closest("[data-broker]");
  if (broker) bits.push(`broker=${broker.dataset.broker}`);
  const lane = node.closest(".lane");
  if (lane) bits.push(`lane=${lane.dataset.topic}/${lane.dataset.partition}`, `role=${lane.dataset.role}`);
  const group = node.closest("[data-group]");
  if (group) bits.push(`group=${group.dataset.group}`);
  const consumer = node.closest("[data-consumer]");
  if (consumer) bits.push(`consumer=${consumer.dataset.consumer}`);
  return bits.join(" ");
}

// A selector that finds "the same" control after a rebuild.
function focusKey(node) {
  const d = node.dataset || {};
  if (d.action) return `[data-action="${cssEsc(d.action)}"][data-id="${cssEsc(d.id || "")}"]`;
  if (d.inspect) return `[data-inspect="${cssEsc(d.inspect)}"][data-id="${cssEsc(d.id || "")}"]`;
  return null;
}

// A topic's name over its lanes; it opens the topic's inspector (config, grow, delete).
function topicTitle(t) {
  return el("div", {class: "lane-group-title"}, el("button", {type: "button", class: "linkish topic-link", "data-inspect": "topic",
    "data-id": t.name, "aria-label": `Topic ${t.name}: configuration, partitions, delete`, text: t.name}));
}

function hwMarker(hw) {
  const m = document.createElement("span");
  m.className = "hw";
  m.title = `high watermark ${hw}`;
  return m;
}

// Short names for a chip's topics: nothing when there is one topic, else what differs once the
// shared prefix is gone ("order-placed", "order-cancelled" → "placed", "cancelled").
export function topicNicknames(topics) {
  const unique = [...new Set(topics)];
  const out = new Map();
  if (unique.length <= 1) return out;
  let prefix = unique[0];
  for (const t of unique) while (!t.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = Math.max(prefix.lastIndexOf("-"), prefix.lastIndexOf("."), prefix.lastIndexOf("_")) + 1;
  for (const t of unique) out.set(t, shortTopic(t.slice(cut) || t));
  return out;
}

function shortTopic(name) {
  return name.length > 14 ? `${name.slice(0, 12)}…` : name;
}

function summariseZk(v) {
  if (v == null) return "";
  if (typeof v !== "object") return String(v);
  if ("leader" in v) return `leader ${v.leader ?? "none"} · epoch ${v.leader_epoch ?? "?"} · isr [${(v.isr || []).join(",")}]`;
  if ("brokerid" in v) return `broker ${v.brokerid}`;
  if ("host" in v) return `${v.host}:${v.port}`;
  return JSON.stringify(v).slice(0, 60);
}

export function cssEsc(s) {
  return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s).replace(/["\\]/g, "\\$&");
}
