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
// A frame's batch for the painter (tokenpaint.js): x, y, opacity, disc index per token.
const STRIDE = 4;
// The half-width of a token's disc in CSS pixels: a click within it picks the token.
const discHalf = (kind) => (kind === "replica" ? 7 : 16);
const PAINTER_START_MS = 3000;

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
    this.painter = null; // {worker} or {here: Painter} once known
    this.painterAsked = false;
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
      tok.r = discHalf(tok.kind); // what a click must land within (tokenAt)
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
  // That canvas is painted by a worker (tokenworker.js, its URL in room.html's
  // <meta name="playground-token-worker">) when the browser can hand it one: the drawing, and
  // the commit's copy of a window-sized bitmap every frame, then leave the main thread (it
  // kept 1-2 ms of a busy frame's work, bench/anim_frames.py). Otherwise, or if the worker does
  // not start within PAINTER_START_MS, the page paints it itself with the same code. Started
  // once the room is drawn (ui.js), as the charts are: a worker starting while the page loads
  // took its time from the first drawn frame; tokens meanwhile move unpainted.
  startPainter() {
    if (this.painterAsked) return;
    this.painterAsked = true;
    const url = document.querySelector('meta[name="playground-token-worker"]')?.content;
    // The painting code is not part of the page's first load: the room is drawn without it.
    const here = () => import("./tokenpaint.js").then(({Painter}) => {
      if (this.painter) return;
      this.painter = {here: new Painter(this.canvas)};
      this.dpr = null; // sized on the next frame
    });
    if (!url || !this.canvas.transferControlToOffscreen || typeof OffscreenCanvas !== "function" || !window.Worker) {
      here();
      return;
    }
    let worker;
    try {
      worker = new Worker(url, {type: "module"});
    } catch {
      here();
      return;
    }
    const late = setTimeout(() => {
      worker.terminate();
      here();
    }, PAINTER_START_MS);
    worker.onmessage = ({data}) => {
      if (!data.ready || this.painter) return;
      clearTimeout(late);
      const canvas = this.canvas.transferControlToOffscreen();
      worker.postMessage({canvas}, [canvas]);
      this.painter = {worker};
      this.dpr = null;
    };
    worker.onerror = (e) => {
      if (this.painter) {
        // After the canvas was handed over there is no painting it here: say so once.
        console.warn("the token painter stopped:", e.message);
        return;
      }
      clearTimeout(late);
      worker.terminate();
      here();
    };
  }

  send(message, transfer = []) {
    const p = this.painter;
    if (p.worker) {
      p.worker.postMessage(message, transfer);
      return;
    }
    if (message.size) p.here.size(message.size);
    if (message.frame) p.here.paint(message.frame);
  }

  sizeCanvas() {
    if (!this.painter) return;
    const dpr = window.devicePixelRatio || 1;
    const css = getComputedStyle(document.documentElement);
    const ink = {
      ring: css.getPropertyValue("--token-ring").trim() || "#fff",
      amber: css.getPropertyValue("--amber").trim() || "#9a5b00",
      red: css.getPropertyValue("--red").trim() || "#b3261e",
    };
    this.dpr = dpr;
    this.discs = new Map(); // colour|kind -> the painter's disc index
    this.discGen = (this.discGen || 0) + 1;
    this.send({size: {width: Math.round(window.innerWidth * dpr), height: Math.round(window.innerHeight * dpr), dpr, ink}});
  }

  animate(now) {
    const vnow = this.clock ? this.clock.read(now) : now;
    const {moving, done} = this.flights.step(now, this.reduced, vnow);
    for (const t of done) {
      if (t.arrive) this.onArrive({...t.arrive, drawn: true, landed: t.target});
    }
    this.drawn = moving; // each has its x, y, r and id: tokenAt
    if (!this.painter || (!moving.length && !this.painted)) return this.flights.size;
    if (!this.dpr) this.sizeCanvas();
    if (this.discs.size > 600) this.sizeCanvas(); // colours of many keys: start the cache again
    const dpr = this.dpr;
    const tokens = new Float32Array(moving.length * STRIDE);
    const discs = [];
    // Labels while the tokens can be told apart; in a dense stream (more than LABELS_MAX in
    // flight) they would overlap into noise, and the colours carry the keys (the legend, the
    // cells and a click still name each record).
    const labels = moving.length <= LABELS_MAX ? [] : null;
    for (let i = 0; i < moving.length; i++) {
      const t = moving[i];
      if (t.discGen !== this.discGen) {
        const colour = keyColour(t.key);
        const id = `${colour}|${t.kind}`;
        let index = this.discs.get(id);
        if (index === undefined) {
          index = this.discs.size;
          this.discs.set(id, index);
          discs.push([index, {colour, kind: t.kind, half: discHalf(t.kind)}]);
        }
        t.disc = index;
        t.discGen = this.discGen;
      }
      const o = i * STRIDE;
      // Whole device pixels: a bitmap drawn at a fraction is resampled (costs, blurs).
      tokens[o] = Math.round(t.x * dpr);
      tokens[o + 1] = Math.round(t.y * dpr);
      tokens[o + 2] = t.opacity;
      tokens[o + 3] = t.disc;
      if (labels) labels.push(t.kind === "replica" ? null : [label(t), keyInk(t.key)]);
    }
    this.send({frame: {tokens, count: moving.length, stride: STRIDE, discs, labels}}, [tokens.buffer]);
    this.painted = moving.length > 0;
    return this.flights.size;
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

