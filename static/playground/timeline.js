// Time on the page: the room's virtual clock between frames, the speed scale, and tokens in
// flight. Like raftscope, a token's position is computed from its start time and duration each
// frame, never stored, so a paused tab or a slow frame cannot desynchronise it.

export const SPEED_MIN = 0.1;
export const SPEED_MAX = 100000;
export const TOKEN_CAP = 400;

const pad = (n, w = 2) => String(n).padStart(w, "0");

// `Day 1, 14:03:22.150` for a virtual time in ms (day 1 starts at 0).
export function formatClock(ms) {
  const t = Math.max(0, Math.floor(ms));
  const day = Math.floor(t / 86400000) + 1;
  const h = Math.floor(t / 3600000) % 24;
  const m = Math.floor(t / 60000) % 60;
  const s = Math.floor(t / 1000) % 60;
  return `Day ${day}, ${pad(h)}:${pad(m)}:${pad(s)}.${pad(t % 1000, 3)}`;
}

// A virtual instant or span as a clock reads: `0:05`, `4:05`, `1:02:05`, `0:01.5` (with the
// milliseconds when there are any): narration moments, countdowns, chart axes.
export function shortClock(ms) {
  const t = Math.max(0, Math.round(ms));
  const s = Math.floor(t / 1000) % 60, m = Math.floor(t / 60000) % 60, h = Math.floor(t / 3600000);
  const frac = t % 1000 ? `.${pad(t % 1000, 3).replace(/0+$/, "")}` : "";
  return h ? `${h}:${pad(m)}:${pad(s)}${frac}` : `${m}:${pad(s)}${frac}`;
}

// A duration for people (as broker_core.report.format_ms): 20 ms, 1,300 ms, 42.5 s,
// 3 min 20 s, 24 h: a wait, a timeout, a back-off.
export function formatDuration(ms) {
  if (ms == null) return "–";
  if (ms < 10000) return `${formatCount(Math.round(ms))} ms`;
  if (ms < 120000) return `${formatCount(Math.round(ms / 100) / 10)} s`;
  if (ms < 7200000) {
    const total = Math.round(ms / 1000);
    const m = Math.floor(total / 60), s = total % 60;
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  return `${formatCount(Math.round(ms / 360000) / 10)} h`;
}

// A count for people: 1,240, and at most three decimals, rounded as en-US number formatting
// rounds (half up, on the shortest decimal that reads back as the number: 1.2345 → 1.235).
// Written out rather than Intl.NumberFormat: the first Intl object a page makes loads the
// locale data, 15-40 ms of a cold load's main thread before the room could be drawn
// (bench/anim_frames.py), and Number.toLocaleString builds a formatter every call. What
// rounds to zero is "0", not "-0".
export function formatCount(n) {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1e21) return String(n);  // String() switches to exponent notation there
  let [whole, frac = ""] = abs < 1e-6 ? ["0"] : String(abs).split(".");
  if (frac.length > 3) {
    let digits = whole + frac.slice(0, 3);
    if (frac[3] >= "5") {
      let i = digits.length - 1;
      while (i >= 0 && digits[i] === "9") i -= 1;
      digits = i < 0 ? "1" + "0".repeat(digits.length)
        : digits.slice(0, i) + String(Number(digits[i]) + 1) + "0".repeat(digits.length - i - 1);
    }
    whole = digits.slice(0, -3);
    frac = digits.slice(-3).replace(/0+$/, "");
  }
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ",");
  const zero = /^0*$/.test(whole) && !frac;
  return (n < 0 && !zero ? "-" : "") + grouped + (frac ? "." + frac : "");
}

// Names with numbers in them in the order people count: consumer-2 before consumer-10.
// Not localeCompare: its collator costs a cold page the same locale load as Intl.
export function naturalCompare(a, z) {
  const x = a.match(/\d+|\D+/g) || [], y = z.match(/\d+|\D+/g) || [];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    if (x[i] === y[i]) continue;
    const nx = /^\d/.test(x[i]), ny = /^\d/.test(y[i]);
    if (nx && ny) return Number(x[i]) - Number(y[i]) || x[i].length - y[i].length;
    return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

export function formatSpeed(speed) {
  if (speed >= 1000) return `${formatCount(Math.round(speed))}×`;
  if (speed >= 10) return `${Math.round(speed)}×`;
  return `${Number(speed.toPrecision(2))}×`;
}

// The slider runs 0..1000 on a log scale from 0.1× to 100,000×, with a snap to round values.
const SNAPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
export function sliderToSpeed(v) {
  const lo = Math.log10(SPEED_MIN);
  const hi = Math.log10(SPEED_MAX);
  const raw = 10 ** (lo + (hi - lo) * (v / 1000));
  let best = SNAPS[0];
  for (const s of SNAPS) if (Math.abs(Math.log10(s) - Math.log10(raw)) < Math.abs(Math.log10(best) - Math.log10(raw))) best = s;
  return best;
}
export function speedToSlider(speed) {
  const lo = Math.log10(SPEED_MIN);
  const hi = Math.log10(SPEED_MAX);
  return Math.round(((Math.log10(Math.min(SPEED_MAX, Math.max(SPEED_MIN, speed))) - lo) / (hi - lo)) * 1000);
}

// The virtual clock shown in the header: set by each frame, run forward between frames at the
// room's speed while it plays.
export class Clock {
  constructor() {
    this.nowMs = 0;
    this.speed = 1;
    this.playing = false;
    this.behind = false;
    this.realtime = false;  // real Kafka clients are attached: the room runs at 1x
    // A jump or step under way: where it started and where it goes (null: none).
    this.goalMs = null;
    this.goalFromMs = null;
    this.goalStep = null;
    this.at = performance.now();
  }
  set({now_ms, speed, playing, behind, realtime, goal_ms, goal_from_ms, goal_step}) {
    // Every clock the server sends says goal_ms (null once a jump ended or was cancelled).
    if (goal_ms !== undefined) this.goalMs = goal_ms;
    // A narration step on its way to its moment (null: a plain jump, or none).
    if (goal_step !== undefined) this.goalStep = goal_step;
    if (goal_from_ms !== undefined) this.goalFromMs = goal_from_ms;
    if (behind != null) this.behind = behind;
    if (realtime != null) this.realtime = realtime;
    if (now_ms != null) this.nowMs = now_ms;
    if (speed != null) this.speed = speed;
    if (playing != null) this.playing = playing;
    this.at = performance.now();
  }
  // An idle playing room sends a clock-only frame about once a second, so the display runs
  // ahead on its own for up to 1.2 s; a room that says it is behind is not run ahead at all.
  read(wallNow = performance.now()) {
    if (!this.playing || this.behind) return this.nowMs;
    const ahead = Math.min(wallNow - this.at, 1200) * this.speed;
    return this.nowMs + ahead;
  }
}

// How long a hop takes on screen: a few hundred ms, shorter when the room runs fast, never
// more than a second.
export function hopMs(speed, reduced) {
  if (reduced) return 220;
  const base = 700 / Math.max(1, speed) ** 0.2;
  return Math.max(240, Math.min(900, base));
}

const ease = (x) => (x < 0.5 ? 2 * x * x : 1 - (-2 * x + 2) ** 2 / 2);

// Tokens in flight. Each is {from: {x,y}, to: {x,y}, start, dur, el, ...}. `add` refuses past
// the cap so the caller can count what it did not draw.
export class Flights {
  constructor(cap = TOKEN_CAP) {
    this.cap = cap;
    this.items = new Set();
  }
  get size() {
    return this.items.size;
  }
  full() {
    return this.items.size >= this.cap;
  }
  add(token) {
    if (this.full()) return false;
    this.items.add(token);
    return true;
  }
  // Positions at wall time `now` (virtual time `vnow` for tokens placed on the room's clock);
  // tokens that arrived are returned in `done` and removed.
  step(now, reduced, vnow = now) {
    const moving = [];
    const done = [];
    for (const t of this.items) {
      const x = ((t.virtual ? vnow : now) - t.start) / t.dur;
      if (x >= 1) {
        done.push(t);
        this.items.delete(t);
        continue;
      }
      if (x < 0) continue;
      // Written on the token (no object a token a frame): the canvas draws t.x, t.y.
      if (reduced) {
        t.x = t.to.x;
        t.y = t.to.y;
        t.opacity = Math.min(1, x * 2);
      } else {
        const k = ease(x);
        // A gentle arc: lift the middle of the path by a tenth of its length.
        const dx = t.to.x - t.from.x;
        const dy = t.to.y - t.from.y;
        const lift = Math.min(60, Math.hypot(dx, dy) * 0.1) * Math.sin(Math.PI * k);
        t.x = t.from.x + dx * k;
        t.y = t.from.y + dy * k - lift;
        t.opacity = 1;
      }
      t.r = t.disc ? t.disc.r : 12;
      moving.push(t);
    }
    return {moving, done};
  }
  clear() {
    const all = [...this.items];
    this.items.clear();
    return all;
  }
}

// How far a jump has got: {percent, label} while one long enough to watch is under way, else
// null. Short steps (under a minute of virtual time) finish before a bar could mean anything.
export function jumpProgress(clock) {
  const goal = clock.goalMs, from = clock.goalFromMs;
  if (goal == null || from == null || goal - from < 60_000) return null;
  const done = Math.max(0, Math.min(1, (clock.nowMs - from) / (goal - from)));
  const percent = Math.floor(done * 100);
  const to = formatClock(goal).replace(/:\d\d\.\d+$/, "");
  if (clock.goalStep != null) return {percent, label: `Going to step ${clock.goalStep + 1} — ${percent} %`};
  return {percent, label: `Jumping to ${to} — ${percent} %`};
}
