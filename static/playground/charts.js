// Pictures of the room over time, on its virtual time axis, drawn with uPlot (vendored in
// static/vendor/uplot, a plain global script): a lag sparkline on each consumer group, a
// records-per-second sparkline on each topic, and a larger lag chart in a group's inspector.
//
// uPlot is not needed to draw the room, so it is not part of the page's first load: loadCharts()
// fetches it once the room is drawn, and the charts appear when it arrives (the event
// "playground:charts"). Samples are taken from the start.
//
// Samples come from the page's model (a group's lag, the sum of a topic's log end offsets),
// at most four a second of wall time, so the cost does not grow with the event rate. A seek
// or rewind (virtual time going back) starts the series again.

const KEEP = 120;             // samples per series
const SAMPLE_MS = 250;        // wall ms between samples
const DRAW_MS = 500;          // wall ms between redraws
const SPARK = {width: 84, height: 22};
const RATE_SPAN_S = 5;        // virtual seconds a topic's rate is averaged over

import {formatCount, shortClock} from "./timeline.js";

let loading = null;

// Fetch uPlot (its URL, hashed, is in the page's <meta name="playground-charts">) once.
export function loadCharts() {
  if (window.uPlot) return Promise.resolve();
  if (loading) return loading;
  const src = document.querySelector('meta[name="playground-charts"]')?.content;
  if (!src) return Promise.resolve();
  loading = new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => {
      window.dispatchEvent(new Event("playground:charts"));
      resolve();
    };
    script.onerror = () => resolve(); // no charts; the numbers (rates, lag, the tables) remain
    document.head.append(script);
  });
  return loading;
}

export class Charts {
  constructor(model) {
    this.model = model;
    this.series = new Map();  // "group:<name>" / "topic:<name>" -> {x: [], y: [], last}
    this.plots = new Map();   // same keys -> uPlot instance (its root is moved between rebuilds)
    this.big = null;          // {key, plot, node}: the inspector's chart
    this.sampledAt = -Infinity;
    this.drawnAt = -Infinity;
    this.lastV = null;
    window.addEventListener("playground:charts", () => this.attach(document));
  }

  // Each frame: `now` wall ms, `vnow` the room's virtual ms.
  tick(now, vnow) {
    if (now - this.sampledAt >= SAMPLE_MS) {
      this.sampledAt = now;
      this.sample(vnow);
    }
    if (this.drawing || now - this.drawnAt >= DRAW_MS) {
      if (!this.drawing) this.drawnAt = now;
      this.drawing = this.draw();
    }
  }

  sample(vnow) {
    if (this.lastV != null && vnow < this.lastV) this.series.clear();
    if (this.lastV === vnow) return; // paused: nothing new to say
    const dt = this.lastV == null ? null : (vnow - this.lastV) / 1000;
    this.lastV = vnow;
    const x = vnow / 1000;
    const m = this.model;
    for (const g of m.groups.values()) this.push(`group:${g.name}`, x, m.groupLag(g));
    for (const t of m.topics.values()) {
      let end = 0;
      for (const p of t.partitions) if (p) end += p.leo.get(p.leader) ?? p.hw;
      // Records per second over the last few samples (at least RATE_SPAN_S of virtual time
      // when there are that many): a quarter second at 2 records/s holds 0 or 1 record.
      const s = this.series.get(`topic:${t.name}`);
      let rate = 0;
      if (s && s.ends.length && dt) {
        let k = s.ends.length - 1;
        while (k > 0 && x - s.x[k] < RATE_SPAN_S) k--;
        const span = x - s.x[k];
        rate = span > 0 ? Math.max(0, (end - s.ends[k]) / span) : 0;
      }
      this.push(`topic:${t.name}`, x, rate, end);
    }
  }

  push(key, x, y, end = null) {
    let s = this.series.get(key);
    if (!s) {
      s = {x: [], y: [], ends: []};
      this.series.set(key, s);
    }
    s.x.push(x);
    s.y.push(y);
    s.ends.push(end);
    if (s.x.length > KEEP) {
      s.x.shift();
      s.y.shift();
      s.ends.shift();
    }
  }

  // Put each sparkline in its slot under `root` (a group or topic just rebuilt).
  attach(root) {
    if (!window.uPlot) return;
    for (const slot of root.querySelectorAll("[data-spark-group], [data-spark-topic]")) {
      const key = slot.dataset.sparkGroup != null ? `group:${slot.dataset.sparkGroup}` : `topic:${slot.dataset.sparkTopic}`;
      let plot = this.plots.get(key);
      if (!plot) {
        plot = sparkline(key.startsWith("group:") ? "--amber" : "--accent");
        this.plots.set(key, plot);
      }
      slot.replaceChildren(plot.root);
    }
  }

  // A round every DRAW_MS redraws the sparklines one a frame, in turn: redrawing them all in
  // one frame made it one of the page's slowest (bench/anim_frames.py). True while a round is
  // under way.
  draw() {
    const keys = [...this.plots.keys()];
    this.turn = (this.turn ?? -1) + 1;
    if (this.turn >= keys.length) {
      this.turn = -1;
      this.drawRest();
      return false;
    }
    this.drawOne(keys[this.turn]);
    return true;
  }

  drawOne(key) {
    const plot = this.plots.get(key);
    if (!plot.root.isConnected) {
      // Its group or topic is gone: let it go (a new one is made if it comes back).
      if (!this.model.groups.has(key.slice(6)) && !this.model.topics.has(key.slice(6))) {
        plot.destroy();
        this.plots.delete(key);
      }
      return;
    }
    const s = this.series.get(key);
    if (s && s.x.length > 1) plot.setData([s.x, s.y]);
  }

  drawRest() {
    if (this.big) {
      if (!this.big.node.isConnected) {
        this.big.plot.destroy();
        this.big = null;
      } else {
        const s = this.series.get(this.big.key);
        if (s && s.x.length > 1) this.big.plot.setData([s.x, s.y]);
      }
    }
    for (const [key, s] of this.series) {
      if (!key.startsWith("topic:")) continue;
      const rate = document.querySelector(`[data-rate="${CSS.escape(key.slice(6))}"]`);
      const last = s.y.length ? s.y[s.y.length - 1] : 0;
      const text = last > 0 ? `${formatRate(last)} records/s` : "";
      if (rate && rate.textContent !== text) rate.textContent = text;
    }
  }

  // A group's lag over time with its axes, for the inspector: returns the element to show.
  groupChart(name) {
    if (!window.uPlot) return null;
    // The inspector redraws its facts twice a second: the same chart moves to the new facts.
    if (this.big?.key === `group:${name}`) return this.big.node;
    const node = document.createElement("div");
    node.className = "lag-chart";
    node.setAttribute("role", "img");
    node.setAttribute("aria-label", `Chart: ${name}'s total lag over virtual time (the table below has the numbers)`);
    if (this.big) this.big.plot.destroy();
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue("--muted").trim() || "#666";
    const plot = new window.uPlot({
      width: 340, height: 140, legend: {show: false}, cursor: {show: false},
      scales: {x: {time: false}},
      axes: [
        {stroke: ink, size: 30, font: "12px system-ui", values: (u, ticks) => ticks.map((s) => shortClock(Math.round(s) * 1000))},
        {stroke: ink, size: 40, font: "12px system-ui", values: (u, ticks) => ticks.map((v) => String(Math.round(v)))},
      ],
      series: [{}, {label: "lag", stroke: css.getPropertyValue("--amber").trim() || "#9a5b00", width: 2}],
    }, [[], []], node);
    this.big = {key: `group:${name}`, plot, node};
    const s = this.series.get(this.big.key);
    if (s && s.x.length > 1) plot.setData([s.x, s.y]);
    return node;
  }
}

function sparkline(colourVar) {
  const css = getComputedStyle(document.documentElement);
  const root = document.createElement("div");
  return new window.uPlot({
    ...SPARK, legend: {show: false}, cursor: {show: false}, select: {show: false},
    scales: {x: {time: false}, y: {range: (u, lo, hi) => [0, Math.max(1, hi)]}},
    axes: [{show: false}, {show: false}],
    series: [{}, {stroke: css.getPropertyValue(colourVar).trim() || "#0072b2", width: 1.5, points: {show: false}}],
  }, [[], []], root);
}

function formatRate(v) {
  return v >= 100 ? formatCount(Math.round(v)) : v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
