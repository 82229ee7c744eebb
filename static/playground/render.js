// The diagram: producers → the cluster → consumer groups, plus records in flight.
//
// Render is a function of the model: `mark(effect)` records what changed, `flush()` (once per
// animation frame) places the tokens queued since the last frame (reads, before any write),
// then rewrites only what changed; `animate(now)` moves the tokens. The parts are drawn by
// cluster.js (brokers and topics), groups.js (consumer groups) and tokens.js (the canvas);
// this module keeps what is dirty, the producers, the legend, and the highlights (a narration
// step's watch, a followed record's journey). User text (keys, values, headers) only ever goes
// in through textContent.

import {tpId, splitTp} from "./model.js";
import {cssEsc, el} from "./dom.js";
import {ClusterView} from "./cluster.js";
import {GroupsView} from "./groups.js";
import {TokenLayer} from "./tokens.js";
import {keyLabel, keyStyle} from "./keys.js";
import {formatCount as fmt, naturalCompare} from "./timeline.js";


// A redraw round (the rows, or the groups, that changed) is spread over about this many frames:
// one row or group a frame while there are few, more when many changed, so a round still ends
// within ~100 ms. Eight rows in one frame made the page's slowest frames (bench/anim_frames.py:
// frame work p95 10 ms with 400 tokens; one a frame, 7-8.5 ms).
const ROUND_FRAMES = 6;

export class Renderer {
  constructor(root, model, opts = {}) {
    this.root = root;
    this.model = model;
    this.cols = {
      producers: root.querySelector("#producers"),
      controller: root.querySelector("#controller"),
      brokers: root.querySelector("#brokers"),
      strip: root.querySelector("#broker-strip"),
      side: root.querySelector("#side-topics"),
      groups: root.querySelector("#groups"),
      legend: root.querySelector("#legend"),
    };
    this.dirty = {all: true, parts: new Set(), groups: new Set(), producers: false, controller: false, legend: true};
    this.watch = null;
    this.at = {parts: 0, groups: 0, producers: 0, legend: 0};
    this.round = {parts: false, groups: false}; // a redraw round still under way
    this.per = {parts: 1, groups: 1}; // how many a frame in the round under way
    this.touched = false; // rows or chips redrawn this frame: highlights are applied again
    // "topics": each partition drawn once, its replicas as broker marks on it (the default);
    // "brokers": every replica a lane on its broker's card (for replication lessons).
    this.view = opts.view === "brokers" ? "brokers" : "topics";
    this.follow = null; // {id, key}: the record whose journey is lit (follow.js sets it)
    this.journey = null; // what applyFollow found, for follow.js to say in words
    this.charts = opts.charts || null; // sparklines (charts.js), re-attached after a rebuild
    this.onFollow = opts.onFollow || null;
    this.cluster = new ClusterView(this);
    this.groups = new GroupsView(this);
    this.tokens = new TokenLayer(this, opts);
    // Lanes draw as many cells as fit, measured again whenever the cluster's column changes
    // width (a scroll bar, a panel beside it, the window): measured only when the lanes were
    // rebuilt, a page that has been open a while kept an old window and drew other cells than
    // a page opened later at the same size.
    if (window.ResizeObserver) new ResizeObserver(() => { this.dirty.measure = true; }).observe(this.cols.brokers);
  }

  setView(view) {
    this.view = view === "brokers" ? "brokers" : "topics";
    document.body.dataset.view = this.view;
    this.markAll();
  }

  mark(effect) {
    const d = this.dirty;
    if (effect.kind === "leader") this.cluster.elected.set(tpId(effect.topic, effect.partition), performance.now());
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
    // Following "the next record with key X": this is it.
    if (effect.kind === "produced" && this.follow && !this.follow.id && this.follow.key === effect.key) {
      this.follow = {...this.follow, id: effect.id};
      d.all = true; // lit at the next flush, once its cell is drawn
      this.onFollow?.(this.follow);
    }
    this.tokens.motion(effect);
  }

  markAll() {
    this.dirty.all = true;
    this.tokens.clear();
  }

  flush(now = performance.now()) {
    const d = this.dirty;
    // Read where new tokens go before this frame writes the DOM: reading after the writes
    // forces a style and layout pass in the middle of the frame. A full rebuild replaces the
    // elements, so its tokens are placed after it.
    const rebuild = d.all;
    if (!rebuild) this.tokens.launch(now);
    if (d.all) {
      this.cluster.renderControllerPanel();
      this.cluster.renderStrip();
      if (this.view === "brokers") this.cluster.renderBrokers();
      else this.cluster.renderTopics();
      this.groups.renderGroups();
      this.renderProducers();
      this.cluster.pulseElected();
      d.all = false;
      d.parts.clear();
      d.groups.clear();
      this.round = {parts: false, groups: false};
      d.producers = false;
      d.controller = false;
      d.legend = true;
      this.applyWatch();
      this.applyFollow();
    } else {
      // Lanes, groups and side panels redraw a few times a second at most, whatever the event
      // rate; only tokens move every frame.
      // A round redraws what is dirty a few parts a frame (ROUND_FRAMES), so a busy room
      // spreads its DOM work over frames instead of one long frame every 100 ms.
      if (d.parts.size && (this.round.parts || now - this.at.parts >= 100)) {
        if (!this.round.parts) this.at.parts = now;
        this.round.parts = this.take("parts", d.parts, (key) => this.cluster.updatePartition(...splitTp(key)));
        this.touched = true;
      }
      if (d.groups.size && (this.round.groups || now - this.at.groups >= 150)) {
        if (!this.round.groups) this.at.groups = now;
        this.round.groups = this.take("groups", d.groups, (g) => this.groups.updateGroup(g));
        this.touched = true;
      }
      if (d.producers && now - this.at.producers >= 250) {
        this.at.producers = now;
        this.renderProducers();
        d.producers = false;
      }
      if (d.controller) this.cluster.renderControllerPanel();
      d.controller = false;
      // Redrawn lanes and chips are new elements: a step watching a record that has just
      // arrived (or a consumer whose chip changed) must find it highlighted there too.
      if (this.watch && (this.touched || now === this.at.producers)) this.applyWatch();
      if (this.follow && (this.touched || now === this.at.producers)) this.applyFollow();
      this.touched = false;
    }
    if (d.legend && now - this.at.legend >= 500) {
      this.at.legend = now;
      this.renderLegend(now);
      d.legend = false;
    }
    if (d.measure) {
      d.measure = false;
      this.cluster.measureWindow();
    }
    if (rebuild) this.tokens.launch(now);
  }

  // Redraw this frame's share of `set` (removing them); true while some are left. A round's
  // share is set when it starts: what was dirty then, over ROUND_FRAMES frames.
  take(kind, set, redraw) {
    if (!this.round[kind]) this.per[kind] = Math.max(1, Math.ceil(set.size / ROUND_FRAMES));
    let n = 0;
    for (const item of set) {
      if (n++ >= this.per[kind]) return true;
      set.delete(item);
      redraw(item);
    }
    return false;
  }


  renderProducers() {
    const box = this.cols.producers;
    const producers = [...this.model.producers.values()].sort((a, z) => naturalCompare(a.id, z.id));
    // Records sent change four times a second; the cards only when producers come, go or are
    // tuned: then they are rebuilt, else their counts are patched.
    const shape = producers.map((p) => `${p.id}|${p.topic}|${p.rate_per_s}|${p.acks}`).join(";");
    if (box._shape === shape) {
      for (const p of producers) {
        const sent = box.querySelector(`[data-producer="${cssEsc(p.id)}"] .sent`);
        const text = `${fmt(p.sent || 0)} sent`;
        if (sent && sent.textContent !== text) sent.textContent = text;
      }
      return;
    }
    box._shape = shape;
    box.replaceChildren();
    for (const p of producers) {
      box.append(el("li", {class: "producer", "data-producer": p.id},
        el("div", {class: "producer-name", text: p.id}),
        el("div", {class: "muted small num", text: `→ ${p.topic} · ${p.rate_per_s}/s · acks=${p.acks ?? "all"}`}),
        el("div", {class: "producer-foot"},
          el("span", {class: "muted small num sent", text: `${fmt(p.sent || 0)} sent`}),
          el("span", {class: "spacer"}),
          el("button", {type: "button", class: "mini", "data-action": "producer.tune", "data-id": p.id, "aria-label": `Tune ${p.id}`, text: "Tune"}),
          el("button", {type: "button", class: "mini", "data-action": "producer.remove", "data-id": p.id, "aria-label": `Stop ${p.id}`, text: "Stop"}))));
    }
    if (!this.model.producers.size) box.append(el("li", {class: "muted empty", text: "No running producers."}));
  }

  // The newest keys, each with the partition it went to (a key always goes to the same one
  // while the partition count stays): click one to follow its next record.
  renderLegend(now) {
    const box = this.cols.legend;
    const m = this.model;
    const keys = [...m.keys.keys()].slice(-5).reverse();
    const items = keys.map((k) => {
      const t = m.keys.get(k);
      return el("li", {}, el("button", {type: "button", class: "key-button", "data-follow-key": k},
      el("span", {class: "visually-hidden", text: "Follow key "}),
      el("span", {class: "swatch token-shape", style: keyStyle(k), "aria-hidden": "true", text: keyLabel(k)}),
      el("span", {class: "key-name", text: k}),
      t ? el("span", {class: "muted num", text: `→ P${t.partition}`}) : null));
    });
    const {sampled, sampledAt} = this.tokens;
    const sampling = sampled > 0 && now - sampledAt < 5000;
    box.replaceChildren(...[
      el("p", {class: "legend-note", text: "Colour = key. Click one to follow it."}),
      el("ul", {class: "legend-keys", "aria-label": "Recent keys and their partitions"}, ...items),
      el("ul", {class: "legend-marks"},
        el("li", {}, el("span", {class: "swatch cell above-hw"}), el("span", {title: "written, but not yet on every in-sync replica: consumers cannot read it yet", text: "above the high watermark"})),
        el("li", {}, el("span", {class: "swatch cell unseen"}), el("span", {text: "counted, not drawn"})),
        el("li", {}, el("span", {class: "rmark leader", text: "B1"}), el("span", {text: "leader"})),
        el("li", {}, el("span", {class: "rmark", text: "B2"}), el("span", {text: "in-sync follower"})),
        el("li", {}, el("span", {class: "rmark out", text: "B3"}), el("span", {text: "out of sync"})),
        el("li", {}, el("span", {class: "sym amber", text: "◷"}), el("span", {text: "timeout"})),
        el("li", {}, el("span", {class: "sym amber", text: "‖"}), el("span", {title: "its processing code stopped returning", text: "hung"})),
        el("li", {}, el("span", {class: "sym amber", text: "↻"}), el("span", {text: "retry"})),
        el("li", {}, el("span", {class: "sym red", text: "✕"}), el("span", {text: "failed / dead letter"}))),
      sampling
        ? el("p", {class: "sampling", text: `Too many records to draw: showing a sample; lanes count the rest (+${fmt(sampled)}).`})
        : null].filter(Boolean));
    if (sampling) setTimeout(() => { this.dirty.legend = true; }, 5200);
  }

  setWatch(selector) {
    this.watch = selector;
    this.applyWatch();
  }

  applyWatch() {
    for (const n of this.root.querySelectorAll(".watched")) n.classList.remove("watched");
    if (!this.watch) return;
    for (const n of this.root.querySelectorAll(this.watch)) n.classList.add("watched");
  }

  // {id, key}: light the record's journey (producer, its partition and cell, each replica that
  // holds it, the high watermark once it passes it, the one consumer in each group that reads
  // the topic, and a dead letter) and dim the rest. {key, id: null}: wait for the next record
  // with that key (motion() picks it up as it is produced).
  setFollow(follow) {
    this.follow = follow;
    this.applyFollow();
  }

  applyFollow() {
    const root = this.root;
    for (const n of root.querySelectorAll(".lit, .lit-pending")) n.classList.remove("lit", "lit-pending");
    for (const n of root.querySelectorAll(".follow-note")) n.remove();
    const t = this.follow?.id ? this.model.trail(this.follow.id) : null;
    document.body.classList.toggle("following", !!t);
    this.journey = null;
    if (!t) return;
    const lit = (node, pending = false) => node?.classList.add(pending ? "lit-pending" : "lit");
    const m = this.model;
    const part = m.partition(t.topic, t.partition);
    lit(t.producer ? this.cols.producers.querySelector(`[data-producer="${cssEsc(t.producer)}"]`) : null);
    const tp = `[data-topic="${cssEsc(t.topic)}"][data-partition="${t.partition}"]`;
    lit(root.querySelector(`[data-topic-block="${cssEsc(t.topic)}"]`));
    const journey = {record: t, copies: [], groups: []};
    for (const lane of root.querySelectorAll(`.lane${tp}`)) {
      const b = Number(lane.dataset.replica);
      lit(lane, !lane.classList.contains("row") && !t.replicas.has(b));
      lit(lane.querySelector(`.cell[data-record="${cssEsc(t.id)}"]`));
      if (part && part.hw > t.offset) lit(lane.querySelector(".hw"));
      for (const mark of lane.querySelectorAll("[data-broker-mark]")) lit(mark, !t.replicas.has(Number(mark.dataset.brokerMark)));
    }
    if (part) for (const r of part.replicas) journey.copies.push({broker: r, has: t.replicas.has(r)});
    journey.committed = part ? part.hw > t.offset : false;
    for (const g of m.groups.values()) {
      const reads = [...g.consumers.values()].some((c) => (c.topics || []).includes(t.topic) || c.partitions.includes(tpId(t.topic, t.partition)));
      if (!reads && !t.groups.has(g.name)) continue;
      const d = t.groups.get(g.name);
      const owner = d?.consumer ?? [...g.consumers.values()].find((c) => c.partitions.includes(tpId(t.topic, t.partition)))?.id ?? null;
      const done = g.committed.get(tpId(t.topic, t.partition));
      const state = d?.outcome === "dead-lettered" ? "dead letter" : d?.committed || (done != null && done > t.offset) ? "committed"
        : d?.outcome === "processed" ? "processed" : d ? (d.attempts > 1 ? `attempt ${d.attempts}` : "processing") : owner ? "will read it" : "no consumer";
      journey.groups.push({group: g.name, consumer: owner, state});
      const section = this.cols.groups.querySelector(`[data-group="${cssEsc(g.name)}"]`);
      lit(section);
      const chip = owner && section?.querySelector(`[data-consumer="${cssEsc(owner)}"]`);
      if (chip) {
        lit(chip, !d);
        chip.querySelector(".consumer-top")?.append(el("span", {class: `follow-note ${state.replace(/\W+/g, "-")}`, text: state}));
      }
    }
    if (t.dead) {
      const [dt, dp] = splitTp(t.dead.slice(0, t.dead.lastIndexOf("/")));
      lit(root.querySelector(`[data-topic-block="${cssEsc(dt)}"]`));
      for (const lane of root.querySelectorAll(`.lane[data-topic="${cssEsc(dt)}"][data-partition="${dp}"]`)) {
        lit(lane);
        lit(lane.querySelector(`.cell[data-record="${cssEsc(t.dead)}"]`));
      }
    }
    this.journey = journey;
  }

  // What the page asks of the token layer.
  get flights() { return this.tokens.flights; }
  get drawn() { return this.tokens.drawn; }
  get reduced() { return this.tokens.reduced; }
  set reduced(on) { this.tokens.reduced = on; }
  animate(now) { return this.tokens.animate(now); }
  tokenAt(x, y) { return this.tokens.tokenAt(x, y); }
}
