// The cluster as the page draws it: the broker strip and controller, and the topics, either
// each partition once with its replicas as broker marks (the "topics" view, the default) or
// every replica as a lane on its broker's card (the "brokers" view). Reads the page's model;
// writes only its own columns (#controller, #broker-strip, #brokers, #side-topics).

import {CELL_WINDOW, recordId, tpId, splitTp} from "./model.js";
import {cssEsc, el} from "./dom.js";
import {keyColour} from "./keys.js";
import {countdown} from "./callouts.js";
import {Part} from "./part.js";
import {formatCount as fmt} from "./timeline.js";


export class ClusterView extends Part {
  constructor(r) {
    super(r);
    this.cellWindow = CELL_WINDOW;
    this.elected = new Map(); // partition -> when its leader changed (the new leader lane pulses)
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

  // The brokers as a strip over the topics: up, stopped or crashed, the controller, how many
  // partitions each leads, and their Stop/Crash/Start buttons. In the brokers view the cards
  // carry all of this, so the strip stays empty.
  renderStrip() {
    const m = this.model;
    const box = this.cols.strip;
    if (!box) return;
    box.replaceChildren();
    box.hidden = this.view === "brokers";
    if (this.view === "brokers") return;
    const leads = new Map();
    for (const t of m.topics.values()) for (const part of t.partitions) if (part && part.leader != null) leads.set(part.leader, (leads.get(part.leader) || 0) + 1);
    for (const b of [...m.brokers.values()].sort((a, z) => a.id - z.id)) {
      const crashed = !b.up && b.mode === "crash";
      const how = b.up ? "up" : crashed ? "crashed" : "stopped";
      const n = leads.get(b.id) || 0;
      box.append(el("section", {class: `broker-chip ${how}${b.up ? "" : " down"}`, "data-broker": b.id,
        "aria-label": `Broker ${b.id} (${how})${m.controller === b.id ? ", controller" : ""}, leads ${n} partition${n === 1 ? "" : "s"}`},
      el("h3", {text: `Broker ${b.id}`}),
      m.controller === b.id ? el("span", {class: "badge controller-badge", title: "The controller: it elects partition leaders", text: "♛ controller"}) : null,
      brokerStatus(b),
      el("span", {class: "leads muted num", title: "partitions this broker leads (takes writes and serves reads for)", text: `leads ${n}`}),
      sessionCountdown(b),
      brokerActions(b)));
    }
  }

  // Delivery topics (dead letters, retries) by the model's word, in the order the page made them.
  splitTopics() {
    const topics = [...this.model.topics.values()];
    return {main: topics.filter((t) => !this.model.isDelivery(t.name)), side: topics.filter((t) => this.model.isDelivery(t.name))};
  }

  // The default view: each topic a card, each partition drawn once as its log (the leader's),
  // its replicas as broker marks on it; a topic's dead-letter and retry topics sit under it,
  // set apart. Groups that write to a topic are named on it (a pipeline reads as one).
  renderTopics() {
    const m = this.model;
    const box = this.cols.brokers;
    box.className = "brokers topics";
    box.replaceChildren();
    this.cols.side.replaceChildren();
    this.cols.side.hidden = true;
    const {main, side} = this.splitTopics();
    const writers = this.writers();
    const placed = new Set();
    for (const t of main) {
      box.append(this.topicCard(t, writers.get(t.name)));
      for (const s of side) if (m.delivery.get(s.name)?.source === t.name && !placed.has(s.name)) {
        placed.add(s.name);
        box.append(this.topicCard(s, null));
      }
    }
    for (const s of side) if (!placed.has(s.name)) box.append(this.topicCard(s, null));
    if (!m.topics.size) box.append(el("p", {class: "muted empty", text: "No topics yet."}));
    this.measureWindow();
  }

  // topic -> the groups whose consumers write to it (their `emits`), for the pipeline arrows.
  writers() {
    const out = new Map();
    for (const g of this.model.groups.values()) {
      for (const t of this.model.groupOutputs(g)) {
        if (!out.has(t)) out.set(t, []);
        out.get(t).push(g.name);
      }
    }
    return out;
  }

  topicCard(t, writtenBy) {
    const d = this.model.delivery.get(t.name);
    const n = t.partitions.length;
    const card = el("section", {class: "topic-card" + (d ? " side " + d.kind : ""), "data-topic-block": t.name,
      "aria-label": d ? `${d.kind === "retry" ? "Retry" : "Dead-letter"} topic ${t.name}` : `Topic ${t.name}`});
    const head = el("header", {class: "topic-head"},
      el("button", {type: "button", class: "linkish topic-link", "data-inspect": "topic", "data-id": t.name,
        "aria-label": `Topic ${t.name}: configuration, partitions, delete`, text: t.name}),
      d ? el("span", {class: "muted small", text: d.kind === "retry" ? `retries of ${d.source}` : `dead letters of ${d.source}`})
        : el("span", {class: "muted small num", title: "A record's key picks its partition: murmur2(key) mod the partition count; no key: the sticky partitioner",
          text: `${n} partition${n === 1 ? "" : "s"} · key → murmur2(key) mod ${n}`}),
      writtenBy && writtenBy.length ? el("span", {class: "written-by small", text: `← written by ${writtenBy.join(", ")}`}) : null,
      el("span", {class: "spacer"}),
      el("span", {class: "rate small muted num", "data-rate": t.name}),
      el("span", {class: "spark", "data-spark-topic": t.name, "aria-hidden": "true"}));
    const rows = el("div", {class: "rows"});
    for (const part of t.partitions) if (part) rows.append(this.row(part));
    card.append(head, rows);
    this.charts?.attach(card);
    return card;
  }

  // A partition drawn once: its log (the leader's, newest right, the high watermark marked),
  // then one mark per replica (filled: the leader; outlined: an in-sync follower; dashed: out
  // of sync; struck through: its broker is down), each saying how far behind its log ends.
  row(part) {
    const offline = part.leader == null;
    const lane = el("div", {class: `lane row leader${offline ? " offline" : ""}`, "data-topic": part.topic, "data-partition": part.partition,
      "data-role": "leader", "data-replica": part.leader ?? ""});
    // The accessible name starts with what the button shows ("P0"), the rest for screen readers.
    const label = el("button", {type: "button", class: "lane-label", "data-inspect": "partition",
      "data-id": tpId(part.topic, part.partition)},
    el("span", {class: "lane-p num", text: `P${part.partition}`}),
    el("span", {class: "visually-hidden", text: ` of ${part.topic}${offline ? ", offline: no leader" : ", leader on broker " + part.leader}`}));
    const tape = el("div", {class: "tape", role: "img"});
    const count = el("span", {class: "undrawn num", hidden: true});
    const meta = el("span", {class: "lane-meta num"});
    const marks = el("span", {class: "replicas", role: "list", "aria-label": "replicas"});
    lane.append(label, tape, count, meta, marks);
    lane._parts = {tape, count, meta, label, marks};
    this.fillRow(lane, part);
    return lane;
  }

  fillRow(lane, part) {
    const leader = part.leader;
    const b = leader ?? part.replicas[0];
    const brokers = part.replicas.map((r) => this.model.brokers.get(r));
    const marksSig = part.replicas.map((r, i) => `${r}:${part.leo.get(r) ?? ""}:${part.isr.includes(r)}:${brokers[i]?.up}:${brokers[i]?.leavesIsrMs}`).join(",");
    const sig = `${leader}|${marksSig}`;
    lane.classList.toggle("offline", leader == null);
    this.fillLane(lane, part, b, "leader", part.replicas.filter((r) => r !== leader));
    if (lane._marksSig === sig) return;
    lane._marksSig = sig;
    const top = part.leo.get(leader) ?? part.hw;
    const marks = part.replicas.map((r, i) => {
      const bs = brokers[i];
      const down = bs && !bs.up;
      const inIsr = part.isr.includes(r);
      const role = r === leader ? "leader" : "follower";
      const leo = part.leo.get(r) ?? (role === "leader" ? part.hw : 0);
      const behind = Math.max(0, top - leo);
      const words = [`broker ${r}`, role, inIsr ? "in sync (ISR)" : "out of sync", down ? (bs.mode === "crash" ? "broker crashed" : "broker stopped") : null,
        `log ends at ${leo}`, behind ? `${behind} behind the leader` : null].filter(Boolean).join(", ");
      return el("span", {class: `rmark ${role}${inIsr ? " isr" : " out"}${down ? " down" : ""}`, role: "listitem",
        "data-broker-mark": r, title: words, "aria-label": words},
      el("span", {class: "rmark-id", text: `B${r}`}),
      behind ? el("span", {class: "rmark-behind num", text: `−${behind}`}) : null,
      role === "follower" && inIsr && down && bs.leavesIsrMs != null ? countdown(bs.leavesIsrMs, "leaves the ISR in", "isr-lag") : null);
    });
    lane._parts.marks.replaceChildren(...marks);
  }

  renderBrokers() {
    const m = this.model;
    const box = this.cols.brokers;
    box.className = "brokers";
    box.replaceChildren();
    // In the order the room made them (model.js keeps it across snapshots): the scenario's
    // own order, where its story starts, the same after a reload or a fork; new topics last.
    const {main, side} = this.splitTopics();
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
        brokerStatus(b),
        sessionCountdown(b),
        el("span", {class: "spacer"}),
        brokerActions(b));
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
    // 15 px a cell (13 and a 2 px gap), less the tape's padding and the marks between cells
    // (the high watermark, where followers' logs end).
    const fit = Math.max(4, Math.floor((w - 20) / 15));
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
      "data-id": tpId(part.topic, part.partition)},
    el("span", {class: "lane-p num", text: `P${part.partition}`}),
    el("span", {class: "role", title: role, text: role === "leader" ? "L" : "F"}),
    inIsr && !side ? el("span", {class: "isr", title: "in the ISR", text: "ISR"}) : null,
    el("span", {class: "visually-hidden", text: ` of ${part.topic}, ${role} replica${b != null ? " on broker " + b : ""}${inIsr ? ", in sync" : ""}`}));
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

  // `ticks`: followers whose log end is marked on this tape (the topics view draws one tape).
  // One offset's cell: its key's colour, its side of the high watermark.
  cell(part, off) {
    const rec = part.cells.get(off);
    const cell = document.createElement("span");
    cell.dataset.record = recordId(part.topic, part.partition, off);
    // A record this page never saw (before it connected, or counted in an aggregate) stays
    // an empty cell: grey is for records without a key.
    if (rec) cell.style.setProperty("--key", keyColour(rec.key));
    cellSides(cell, part, off, rec);
    return cell;
  }

  fillLane(lane, part, b, role, ticks = []) {
    const {tape, count, meta} = lane._parts;
    const leo = part.leo.get(b) ?? (role === "leader" ? part.hw : 0);
    const first = Math.max(part.logStart, leo - this.cellWindow);
    const ends = new Map(); // offset -> the followers whose log ends just before it
    for (const r of ticks) {
      const f = part.leo.get(r);
      if (f == null || f >= leo || f <= first) continue;
      if (!ends.has(f)) ends.set(f, []);
      ends.get(f).push(r);
    }
    const sig = `${first}|${leo}|${part.hw}|${part.undrawn}|${[...ends].join(";")}`;
    if (lane._sig === sig) return;
    lane._sig = sig;
    // The window moves a few offsets at a time: cells still in it are kept, those it left are
    // dropped and new ones appended (rebuilding every cell of a busy lane each time cost the
    // style, layout and paint of all of them, the largest share of a busy frame). A window
    // that moved back (a truncated log, a wider lane) or jumped past its old end is redrawn.
    const drawn = lane._drawn;
    if (!drawn || first < drawn.first || leo < drawn.leo || first >= drawn.leo) {
      const cells = new Map();
      for (let off = first; off < leo; off++) cells.set(off, this.cell(part, off));
      tape.replaceChildren(...cells.values());
      lane._drawn = {first, leo, hw: part.hw, cells};
    } else {
      const {cells} = drawn;
      for (let off = drawn.first; off < first; off++) {
        cells.get(off)?.remove();
        cells.delete(off);
      }
      for (const mark of tape.querySelectorAll(":scope > .hw, :scope > .end-tick")) mark.remove();
      // Cells the high watermark passed (or, after an election, fell back over).
      const lo = Math.max(first, Math.min(drawn.hw, part.hw));
      const hi = Math.min(drawn.leo, Math.max(drawn.hw, part.hw));
      for (let off = lo; off < hi; off++) cellSides(cells.get(off), part, off);
      const fresh = document.createDocumentFragment();
      for (let off = drawn.leo; off < leo; off++) {
        const cell = this.cell(part, off);
        cells.set(off, cell);
        fresh.append(cell);
      }
      tape.append(fresh);
      Object.assign(drawn, {first, leo, hw: part.hw});
    }
    const cells = lane._drawn.cells;
    if (part.hw >= first && part.hw < leo) tape.insertBefore(hwMarker(part.hw), cells.get(part.hw));
    else if (part.hw >= leo && leo > first) tape.append(hwMarker(part.hw));
    for (const [off, brokers] of ends) tape.insertBefore(endTick(brokers), cells.get(off));
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
      if (lane.classList.contains("row")) {
        this.fillRow(lane, part);
        continue;
      }
      const side = lane.classList.contains("side");
      const b = side ? part.leader : Number(lane.dataset.replica);
      // The ISR changed (a follower left or rejoined): this lane's badges are redrawn whole.
      if (lane._isr !== part.isr.join(",")) lane.replaceWith(this.lane(part, side ? null : b));
      else this.fillLane(lane, part, b, lane.dataset.role);
    }
  }
}

// How a broker is: up, crashed (it said nothing; ZooKeeper notices when its session expires,
// counted down beside it) or stopped cleanly (it handed its leaderships over first).
function brokerStatus(b) {
  const crashed = !b.up && b.mode === "crash";
  return el("span", {class: `status ${b.up ? "up" : crashed ? "crashed" : "down"}`,
    title: crashed ? "crashed: no goodbye; ZooKeeper notices when its session expires" : b.up ? "" : "stopped cleanly: it handed its leaderships over first",
    text: crashed ? "✕ crashed" : b.up ? "up" : "■ stopped"});
}

function sessionCountdown(b) {
  return !b.up && b.mode === "crash" && b.sessionExpiresMs != null
    ? countdown(b.sessionExpiresMs, "ZooKeeper session expires in", "zk-session") : null;
}

// Stop (cleanly) and Crash for a broker that is up; Start for one that is down.
function brokerActions(b) {
  return b.up
    ? el("span", {class: "actions"},
      el("button", {type: "button", class: "mini", "data-action": "broker.stop", "data-mode": "clean", "data-id": b.id,
        "aria-label": `Stop broker ${b.id} cleanly`, text: "Stop"}),
      el("button", {type: "button", class: "mini danger", "data-action": "broker.stop", "data-mode": "crash", "data-id": b.id,
        "aria-label": `Crash broker ${b.id}`, text: "Crash"}))
    : el("button", {type: "button", class: "mini", "data-action": "broker.start", "data-id": b.id,
      "aria-label": `Start broker ${b.id}`, text: "Start"});
}

// A topic's name over its lanes; it opens the topic's inspector (config, grow, delete).
function topicTitle(t) {
  return el("div", {class: "lane-group-title"}, el("button", {type: "button", class: "linkish topic-link", "data-inspect": "topic",
    "data-id": t.name, "aria-label": `Topic ${t.name}: configuration, partitions, delete`, text: t.name}));
}

// Where a follower's log ends on the leader's tape: the records right of it are not on that
// broker yet.
function endTick(brokers) {
  const m = document.createElement("span");
  m.className = "end-tick";
  m.dataset.brokers = brokers.join(",");
  m.title = `broker${brokers.length > 1 ? "s" : ""} ${brokers.join(", ")}: log ends here`;
  return m;
}

function cellSides(cell, part, off, rec = part.cells.get(off)) {
  if (!cell) return;
  const above = off >= part.hw;
  // Toggled, not set: a followed record's cell carries the follow's classes (render.js).
  cell.classList.add("cell");
  cell.classList.toggle("above-hw", above);
  cell.classList.toggle("unseen", !rec);
  cell.title = `offset ${off}${rec && rec.key != null ? " · key " + rec.key : ""}${above ? " · above the high watermark" : ""}`;
}

function hwMarker(hw) {
  const m = document.createElement("span");
  m.className = "hw";
  m.title = `high watermark ${hw}`;
  return m;
}

function summariseZk(v) {
  if (v == null) return "";
  if (typeof v !== "object") return String(v);
  if ("leader" in v) return `leader ${v.leader ?? "none"} · epoch ${v.leader_epoch ?? "?"} · isr [${(v.isr || []).join(",")}]`;
  if ("brokerid" in v) return `broker ${v.brokerid}`;
  if ("host" in v) return `${v.host}:${v.port}`;
  return JSON.stringify(v).slice(0, 60);
}
