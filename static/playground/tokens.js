// Records in flight: a token for each produce, copy (brokers view), delivery and dead letter,
// drawn on one canvas over the page. A token goes from where its event starts to where it
// lands, both read from the DOM once, before the frame writes it; it is placed by the virtual
// time of its event (raftscope's idea), so pause, step and speed changes move it truthfully.
// Past the cap (timeline.js TOKEN_CAP), during a jump, or for events the clock has left
// behind, a record gets no token: its lane counts it.

import {recordId} from "./model.js";
import {Flights, hopMs} from "./timeline.js";
import {cssEsc} from "./dom.js";
import {keyColour, keyInk, keyLabel} from "./keys.js";
import {Part} from "./part.js";

const LABELS_MAX = 80;

// What a token says: its key's short label ("17"), "17+" for a batch of copies; a copy in the
// brokers view says nothing.
function label(t) {
  if (t.kind === "replica") return "";
  return t.count > 1 ? `${keyLabel(t.key)}+` : keyLabel(t.key);
}

export class TokenLayer extends Part {
  constructor(r, opts = {}) {
    super(r);
    this.reduced = !!opts.reduced;
    this.speed = () => (opts.speed ? opts.speed() : 1);
    this.onArrive = opts.onArrive || (() => {});
    // The room's clock (timeline.js Clock): tokens are placed by the virtual times of their
    // events, so pause freezes them and speed changes move them at the new rate.
    this.clock = opts.clock || null;
    this.canvas = r.root.querySelector("#flights");
    this.ctx = this.canvas.getContext("2d");
    window.addEventListener("resize", () => this.sizeCanvas());
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.sizeCanvas());
    this.flights = new Flights(opts.cap);
    this.pending = []; // tokens waiting for positions
    this.sampled = 0; // records not drawn since the page started sampling
    this.sampledAt = 0;
  }

  clear() {
    this.flights.clear();
    this.pending = [];
  }

  // Queue a token for an effect; positions are read in flush().
  motion(e) {
    const m = this.model;
    let token = null;
    if (e.kind === "produced") {
      token = {id: e.id, key: e.key, from: e.from ? {consumer: e.from} : {producer: e.producer},
        to: {lane: [e.topic, e.partition, e.leader]}, kind: "produce",
        arrive: {kind: "produced", record: e.id, topic: e.topic, partition: e.partition, broker: e.leader}};
    } else if (e.kind === "replicated" && this.view === "brokers") {
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
    token.t = e.t ?? null;
    // A jump or a step under way is a time-lapse, and a short jump may be over before its
    // events arrive: records the clock has already left behind by more than a hop are counted
    // on their lanes, not flown one by one (dozens of tokens would cover the page for a moment
    // and say nothing true about now).
    const speed = this.speed();
    const lapse = this.clock && (this.clock.goalMs != null
      || (token.t != null && this.clock.nowMs - token.t > Math.max(1000, hopMs(speed, this.reduced) * speed)));
    if (lapse || this.flights.full() || this.pending.length + this.flights.size >= this.flights.cap) {
      if (e.kind === "produced" && !lapse) {
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
    // Playing: a token occupies [its event's virtual time, + the hop at this speed] of the
    // room's time, so it stops when the room pauses. Paused (a command sent, a step): the
    // events happened at one frozen instant, and their tokens play out their hop in wall time.
    const virtual = !!(this.clock && this.clock.playing && !this.reduced);
    const vnow = this.clock ? this.clock.read(now) : 0;
    const rects = new Map();
    const rectOf = (node) => {
      if (!rects.has(node)) rects.set(node, node.getBoundingClientRect());
      return rects.get(node);
    };
    const ready = [];
    for (const tok of this.pending) {
      const a = this.locate(tok.from);
      const b = this.locate(tok.to);
      const ra = a && rectOf(a);
      const rb = b && rectOf(b);
      // Never to or from somewhere not on screen (a scrolled-away chip, a hidden column): the
      // token would park in empty space. The event still counts (onArrive).
      if (!ra || !rb || !this.onScreen(a, ra, rectOf) || !this.onScreen(b, rb, rectOf)) {
        if (tok.arrive) this.onArrive(tok.arrive);
        continue;
      }
      tok.target = describeTarget(b);
      const toTape = !!tok.to.lane;
      // From a producer's (or consumer's) edge, not its middle: never over its words.
      tok.from = {x: tok.from.lane ? ra.right - 10 : ra.right - 6, y: ra.top + ra.height / 2};
      tok.to = {x: toTape ? rb.right - 10 : rb.left + 10, y: rb.top + rb.height / 2};
      ready.push(tok);
    }
    this.pending = [];
    let i = 0;
    for (const tok of ready) {
      if (virtual && tok.t != null) {
        tok.virtual = true;
        tok.start = Math.min(tok.t, vnow);
        tok.dur = dur * Math.max(speed, 0.01);
      } else {
        // Tokens of one paused instant leave a little apart, so a burst reads as a stream.
        tok.start = now + Math.min(i * 18, 400);
        tok.dur = dur;
        i++;
      }
      this.flights.add(tok);
    }
  }

  onScreen(node, r, rectOf) {
    if (!r.width && !r.height) return false;
    if (r.bottom < 0 || r.top > window.innerHeight || r.right < 0 || r.left > window.innerWidth) return false;
    const col = node.closest(".col");
    if (!col) return true;
    const c = rectOf(col);
    return r.bottom > c.top && r.top < c.bottom;
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
    const vnow = this.clock ? this.clock.read(now) : now;
    const {moving, done} = this.flights.step(now, this.reduced, vnow);
    for (const t of done) {
      if (t.arrive) this.onArrive({...t.arrive, drawn: true, landed: t.target});
    }
    if (!moving.length && !this.painted) return this.flights.size;
    if (!this.dpr) this.sizeCanvas();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const dpr = this.dpr;
    // Clear only where tokens were and are (a full-window canvas cleared whole is damaged
    // whole: the browser repaints and uploads all of it every frame).
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const t of moving) {
      if (t.x < x0) x0 = t.x;
      if (t.x > x1) x1 = t.x;
      if (t.y < y0) y0 = t.y;
      if (t.y > y1) y1 = t.y;
    }
    const box = moving.length ? [(x0 - 30) * dpr, (y0 - 24) * dpr, (x1 + 30) * dpr, (y1 + 24) * dpr] : null;
    const was = this.box;
    if (was || box) {
      const a = was && box ? [Math.min(was[0], box[0]), Math.min(was[1], box[1]), Math.max(was[2], box[2]), Math.max(was[3], box[3])] : was || box;
      ctx.clearRect(Math.floor(a[0]), Math.floor(a[1]), Math.ceil(a[2] - a[0]) + 1, Math.ceil(a[3] - a[1]) + 1);
    }
    this.box = box;
    // Labels while the tokens can be told apart; in a dense stream (more than LABELS_MAX in
    // flight) they would overlap into noise, and the colours carry the keys (the legend, the
    // cells and a click still name each record).
    const labelled = moving.length <= LABELS_MAX;
    if (labelled) {
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.font = `700 ${12 * dpr}px system-ui, sans-serif`;
    }
    for (const t of moving) {
      // The disc (and its ↻ or ✕) is a cached bitmap, one per colour and kind: far cheaper to
      // draw than an arc and a stroke for every token in every frame.
      const disc = t.disc || (t.disc = this.sprite(t));
      t.r = disc.r;
      ctx.globalAlpha = t.opacity;
      // Whole device pixels: a bitmap drawn at a fraction is resampled (costs, blurs).
      const px = Math.round(t.x * dpr);
      const py = Math.round(t.y * dpr);
      ctx.drawImage(disc, px - disc.width / 2, py - disc.height / 2);
      if (labelled && t.kind !== "replica") {
        ctx.fillStyle = keyInk(t.key);
        ctx.fillText(label(t), px, py + dpr / 2);
      }
    }
    ctx.globalAlpha = 1;
    this.drawn = moving; // each has its x, y, r and id: tokenAt
    this.painted = moving.length > 0;
    return this.flights.size;
  }

  // A token's disc: key-coloured, a little wider than round so a four-digit label fits, with
  // a ↻ for a redelivery or ✕ for a dead letter; a copy (brokers view) is a small disc. One per
  // (colour, kind), made once.
  sprite(t) {
    const small = t.kind === "replica";
    const id = `${keyColour(t.key)}|${t.kind}`;
    let sp = this.sprites.get(id);
    if (sp) return sp;
    const dpr = this.dpr;
    const r = small ? 7 : 12;
    const half = small ? r : 16;
    const pad = t.kind === "retry" || t.kind === "dead" ? 8 : 2;
    sp = document.createElement("canvas");
    sp.width = Math.ceil((half + pad) * 2 * dpr);
    sp.height = Math.ceil((r + pad) * 2 * dpr);
    sp.r = half;
    const c = sp.getContext("2d");
    c.scale(dpr, dpr);
    const mx = sp.width / dpr / 2;
    const my = sp.height / dpr / 2;
    c.globalAlpha = small ? 0.8 : 1;
    c.fillStyle = keyColour(t.key);
    c.strokeStyle = t.kind === "dead" ? this.ink.red : this.ink.ring;
    c.lineWidth = 2;
    c.beginPath();
    c.roundRect(mx - half, my - r, half * 2, r * 2, r);
    c.fill();
    c.stroke();
    c.globalAlpha = 1;
    if (t.kind === "retry" || t.kind === "dead") {
      c.font = "700 12px system-ui, sans-serif";
      c.textAlign = "center";
      c.textBaseline = "middle";
      c.fillStyle = t.kind === "retry" ? this.ink.amber : this.ink.red;
      c.fillText(t.kind === "retry" ? "↻" : "✕", mx + half - 1, my - r + 3);
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
function describeTarget(node) {
  const bits = [];
  const lane = node.closest(".lane");
  // A replica's lane sits on its broker's card; a partition's row names its leader.
  const broker = node.closest("[data-broker]")?.dataset.broker ?? lane?.dataset.replica;
  if (broker) bits.push(`broker=${broker}`);
  if (lane) bits.push(`lane=${lane.dataset.topic}/${lane.dataset.partition}`, `role=${lane.dataset.role}`);
  const group = node.closest("[data-group]");
  if (group) bits.push(`group=${group.dataset.group}`);
  const consumer = node.closest("[data-consumer]");
  if (consumer) bits.push(`consumer=${consumer.dataset.consumer}`);
  return bits.join(" ");
}

