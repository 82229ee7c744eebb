// A scenario's figures on the page: per-record waits, e.g. the customer's wait in each design
// of amazon-sync-vs-async, live. The room's snapshot brings each figure whole (its numbers and
// newest points, room.figures); a frame brings only the figures its events changed (numbers
// and new points, frame.figures); see playground/rooms/figures.py. The numbers are a table
// (the accessible form); the chart (uPlot, static/vendor/uplot, loaded once the room is drawn:
// charts.js loadCharts) draws each wait at the virtual time it ended, on a log scale, so 20 ms
// and 5 s read on one chart. The panel stays hidden for a scenario without figures.
//
// DOM work happens in the page's animation loop (ui.js calls flushFigures), at most
// RENDER_EVERY_MS apart: frames come 20 a second, the numbers need not change that often to be
// read.

import {PALETTE} from "./keys.js";
import {el, setText} from "./dom.js";
import {formatCount, formatDuration, shortClock} from "./timeline.js";

const SERIES_POINTS = 300;  // as many as the server keeps per figure (SERIES_POINTS there)
const RENDER_EVERY_MS = 250;
// Okabe-Ito colours (render.js PALETTE): vermillion, blue, green…; on a dark page the light
// blue, which reads there where the dark blue does not.
const LIGHT = [5, 4, 2, 6, 0, 1, 3].map((i) => PALETTE[i]);
const DARK = [5, 1, 2, 6, 0, 4, 3].map((i) => PALETTE[i]);
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
const colour = (i) => (darkQuery.matches ? DARK : LIGHT)[i % LIGHT.length];
// Beyond colour: the second series is dashed, the third dotted (a colour-blind reader and a
// grey-scale print tell them apart too).
const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
const STATS = ["newest_ms", "mean_ms", "median_ms", "max_ms"];

const $ = (sel) => document.querySelector(sel);

// A virtual instant on the chart's axis: 45 s, 2:05, 1:02:05.
function formatAt(ms) {
  const t = Math.max(0, Math.round(ms / 1000));
  return t < 120 ? `${t} s` : shortClock(t * 1000);
}

class FiguresPanel {
  constructor(root) {
    this.root = root;
    this.body = root.querySelector("tbody");
    this.chartBox = root.querySelector("#figures-chart");
    this.empty = root.querySelector("#figures-empty");
    this.figures = [];
    this.rows = [];
    this.plot = null;
    this.rebuild = false;
    this.dirty = false;
    this.renderedAt = -Infinity;
    if (window.ResizeObserver) {
      new ResizeObserver(() => this.resize()).observe(this.chartBox);
    }
  }

  // A snapshot: every figure whole (a new room, a reload, a seek or a rewind).
  load(list) {
    this.figures = (list || []).map((f) => ({...f, points: (f.points || []).slice(-SERIES_POINTS)}));
    this.rebuild = true;
    this.dirty = true;
    this.renderedAt = -Infinity;  // drawn at the next animation frame
  }

  // A frame: the figures its events changed.
  update(changes) {
    for (const change of changes || []) {
      const figure = this.figures[change.index];
      if (!figure) continue;
      const {points, ...numbers} = change;
      Object.assign(figure, numbers);
      if (points?.length) {
        figure.points.push(...points);
        if (figure.points.length > SERIES_POINTS) figure.points.splice(0, figure.points.length - SERIES_POINTS);
      }
    }
    this.dirty = true;
  }

  flush(now) {
    if (!this.dirty || now - this.renderedAt < RENDER_EVERY_MS) return;
    this.dirty = false;
    this.renderedAt = now;
    this.render();
  }

  render() {
    const shown = this.figures.length > 0;
    this.root.hidden = !shown;
    if (this.rebuild) {
      this.rebuild = false;
      this.buildRows();
      this.destroyPlot();
    }
    if (!shown) return;
    this.figures.forEach((f, i) => this.fillRow(this.rows[i], f));
    this.drawChart();
  }

  buildRows() {
    this.body.replaceChildren();
    this.rows = this.figures.map((f, i) => {
      const swatch = el("span", {class: `figure-swatch figure-line-${i % DASHES.length}`, "aria-hidden": "true"});
      swatch.style.setProperty("--figure", colour(i));
      const head = el("th", {scope: "row", role: "rowheader"}, swatch, el("span", {class: "figure-label", text: f.label}));
      const cells = {};
      const row = el("tr", {"data-figure": i, role: "row"}, head);
      for (const stat of STATS) row.append(cells[stat] = el("td", {"data-stat": stat, role: "cell"}));
      cells.records = el("span", {class: "figure-records"});
      cells.waiting = el("span", {class: "figure-waiting muted"});
      row.append(el("td", {"data-stat": "count", role: "cell"}, cells.records, cells.waiting));
      this.body.append(row);
      return cells;
    });
  }

  fillRow(cells, f) {
    if (!cells) return;
    for (const stat of STATS) setText(cells[stat], f.count ? formatDuration(f[stat]) : "–");
    const median = cells.median_ms;
    const note = f.median_of != null && f.median_of < f.count
      ? `median of the newest ${formatCount(f.median_of)} waits` : "";
    if (median.title !== note) median.title = note;
    setText(cells.records, formatCount(f.count));
    setText(cells.waiting, f.pending ? ` (${formatCount(f.pending)} waiting)` : "");
  }

  data() {
    // uPlot wants one x array for all series: the union of the instants, each series null
    // where it has no point (spanGaps draws its line across).
    const xs = [...new Set(this.figures.flatMap((f) => f.points.map((p) => p[0])))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const series = this.figures.map((f) => {
      const ys = new Array(xs.length).fill(null);
      // A log scale has no 0: a wait under 1 ms is drawn at 1 ms (the table says what it was).
      for (const [t, w] of f.points) ys[at.get(t)] = Math.max(w, 1);
      return ys;
    });
    return [xs.map((x) => x / 1000), ...series];
  }

  drawChart() {
    const hasPoints = this.figures.some((f) => f.points.length);
    if (this.empty) this.empty.hidden = hasPoints;
    if (!hasPoints || !window.uPlot) return;
    const data = this.data();
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const style = getComputedStyle(document.body);
    const ink = style.getPropertyValue("--muted").trim() || "#596069";
    const grid = style.getPropertyValue("--line").trim() || "#d5d9de";
    const axis = {stroke: ink, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1},
      font: "12px system-ui, sans-serif"};
    const size = this.size();
    this.plot = new window.uPlot({
      width: size.width, height: size.height,
      legend: {show: false},
      cursor: {show: false},
      // Whole decades, so the lowest and highest waits sit between labelled gridlines.
      scales: {x: {time: false}, y: {distr: 3, log: 10, range: (u, min, max) => [
        10 ** Math.floor(Math.log10(Math.max(min, 1))),
        10 ** Math.max(Math.ceil(Math.log10(Math.max(max, 1))), Math.floor(Math.log10(Math.max(min, 1))) + 1)]}},
      padding: [10, 10, 0, 0],
      axes: [
        {...axis, values: (u, ticks) => ticks.map((s) => formatAt(s * 1000))},
        // Gridlines and labels at the decades only (10 ms, 100 ms, 1 s, 10 s…): a short chart
        // has no room for the ones between.
        {...axis, size: 64, space: 16, splits: (u, i, min, max) => decades(min, max),
          filter: (u, splits) => splits, values: (u, ticks) => ticks.map(formatDecade)},
      ],
      series: [{}, ...this.figures.map((f, i) => ({
        label: f.label, stroke: colour(i), width: 2, spanGaps: true,
        dash: DASHES[i % DASHES.length], points: {show: true, size: 4},
      }))],
    }, data, this.chartBox);
  }

  size() {
    const box = this.chartBox.getBoundingClientRect();
    return {width: Math.max(160, Math.floor(box.width)), height: Math.max(90, Math.floor(box.height) || 130)};
  }

  resize() {
    if (!this.plot) return;
    const {width, height} = this.size();
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({width, height});
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

// 10 ms, 100 ms, 1 s, 10 s, 100 s, 16.7 min… for a decade on the wait axis.
function formatDecade(ms) {
  if (ms == null) return null;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 1000000) return `${ms / 1000} s`;
  return formatDuration(ms);
}

function decades(min, max) {
  const out = [];
  for (let d = 10 ** Math.floor(Math.log10(Math.max(min, 1))); d <= max * 1.0001; d *= 10) {
    if (d >= min * 0.9999) out.push(d);
  }
  return out;
}

let panel = null;
// The chart library arrives after the room is drawn (charts.js): draw the chart then.
window.addEventListener("playground:charts", () => {
  if (panel) panel.dirty = true;
});
function thePanel() {
  const root = $("#figures");
  if (!root) return null;
  panel ??= new FiguresPanel(root);
  return panel;
}

// The room's snapshot said its figures (room.figures; none: the panel hides).
export function loadFigures(list) {
  thePanel()?.load(list);
}

// A frame's figure changes (frame.figures), if any.
export function updateFigures(changes) {
  if (changes?.length) thePanel()?.update(changes);
}

// From the page's animation loop: draw what changed, at most every RENDER_EVERY_MS.
export function flushFigures(now) {
  panel?.flush(now);
}
