// Who may drive this room, and the ways out of it: share (a recording's short link), fork (a
// room of your own) and, in a replay, the timeline to scrub (issue 5; protocol in
// docs/ARCHITECTURE.md, "Presenter, share, fork and replay on the page").
//
// The server decides; this only mirrors its rules so that controls a person may not use are
// disabled with the reason as their tooltip, before they try. A refusal that comes anyway
// (the presenter took the room back a moment ago) is shown like any other error.

import {el, lock, lockNode} from "./dom.js";
import {formatClock} from "./timeline.js";

const $ = (sel, root = document) => root.querySelector(sel);

export const VIEWER_REASON = "The presenter drives this room. Fork it to try things yourself.";
export const REPLAY_REASON = "This is a replay: fork it to take over.";
const OPEN_TEXT = "The presenter lets everyone drive this room.";

export class Session {
  constructor({socket, clock, flash, showError, control, bootstrap = {}}) {
    this.socket = socket;
    this.clock = clock;
    this.flash = flash;
    this.showError = showError;
    this.control = control;
    this.you = null; // the server's `you` message; null until one comes (then anyone may drive)
    this.open = false;
    this.recording = null; // {end_ms, slug, ...} in a replay room
    this.marks = []; // the recorded commands' virtual times
    this.marksFor = null;
    this.scrubbing = false;
    this.seekTimer = 0;
    this.shownScrub = null;
    this.embed = document.body.classList.contains("embed") || !!bootstrap.embed;
    this.wire();
    // The page knows a replay before the socket opens: show its timeline at once.
    if (bootstrap.replay) this.onClock({recording: {slug: bootstrap.replay.slug, end_ms: bootstrap.replay.end_ms}});
  }

  get replay() {
    return !!this.recording || this.you?.mode === "replay";
  }

  get mayControl() {
    return !this.you || this.you.presenter || this.open;
  }

  // Why commands (anything that changes the cluster) are off now, or null.
  get commandReason() {
    if (this.replay) return REPLAY_REASON;
    return this.mayControl ? null : VIEWER_REASON;
  }

  // Why the clock controls are off now, or null. A replay's owner may still play, step and seek.
  get timeReason() {
    return this.mayControl ? null : VIEWER_REASON;
  }

  // --- what the server says ------------------------------------------------------------------
  onYou(msg) {
    this.you = msg;
    this.open = !!msg.open;
    this.apply();
  }

  onRoom(msg) {
    if (typeof msg.open !== "boolean" || msg.open === this.open) return;
    this.open = msg.open;
    if (this.you && !this.you.presenter) {
      this.flash(msg.open ? "The presenter opened this room: you can drive it too." : "The presenter took this room back.");
    }
    this.apply();
  }

  // A snapshot's room object says whether the room is open (a `you` follows it).
  onSnapshotRoom(room) {
    if (typeof room?.open === "boolean") this.open = room.open;
  }

  // The clock object of a snapshot or frame: a replay room's carries `recording`.
  onClock(c) {
    if (!c || !("recording" in c)) return;
    const rec = c.recording || null;
    const changed = JSON.stringify(rec) !== JSON.stringify(this.recording);
    this.recording = rec;
    if (changed) {
      this.apply();
      this.loadMarks();
    }
  }

  // --- the page --------------------------------------------------------------------------------
  apply() {
    const reason = this.commandReason;
    lock.command = reason;
    for (const node of document.querySelectorAll("[data-action], [data-command]")) lockNode(node, reason);
    const timeReason = this.timeReason;
    for (const node of document.querySelectorAll("#play, #step, #speed, [data-jump], #jump-cancel, #scrub")) lockNode(node, timeReason);
    document.body.dataset.mayControl = String(this.mayControl);
    document.body.dataset.mode = this.replay ? "replay" : "live";
    document.dispatchEvent(new CustomEvent("playground:locks"));
    this.renderBar();
  }

  renderBar() {
    const bar = $("#session");
    const text = $("#drive-text");
    const openLabel = $("#open-label");
    const fork = $("#fork");
    const replay = $("#replay");
    bar.hidden = !this.you && !this.recording;
    bar.classList.toggle("replaying", this.replay);
    replay.hidden = !this.replay;
    const presenter = !!this.you?.presenter;
    openLabel.hidden = !presenter || this.replay;
    $("#open-toggle").checked = this.open;
    fork.hidden = presenter && !this.replay;
    fork.textContent = this.replay ? "Fork from here" : "Fork";
    if (this.replay) {
      const slug = this.recording?.slug ?? "";
      text.replaceChildren("Replay of ", el("a", {href: `/s/${encodeURIComponent(slug)}`, class: "slug", text: slug}), " — fork from here");
      const end = this.recording?.end_ms ?? 0;
      const scrub = $("#scrub");
      if (Number(scrub.max) !== end) scrub.max = String(end);
      scrub.step = "1";
      this.shownScrub = null;
    } else if (presenter) {
      text.textContent = "You are presenting.";
    } else {
      text.textContent = this.open ? OPEN_TEXT : VIEWER_REASON;
    }
  }

  // The recorded commands' times, for the timeline's marks: from the server's clock object
  // when it gives them, else from the recording's export document.
  async loadMarks() {
    const rec = this.recording;
    if (!rec || this.marksFor === rec.slug) return;
    this.marksFor = rec.slug;
    let times = rec.command_ms || rec.marks || null;
    if (!times) {
      try {
        const res = await fetch(`/s/${encodeURIComponent(rec.slug)}/export`, {headers: {Accept: "application/json"}});
        if (res.ok) {
          const doc = await res.json();
          times = (doc.log || []).map((entry) => entry.at_ms).filter((t) => Number.isFinite(t));
        }
      } catch {
        times = null;
      }
    }
    this.marks = [...new Set(times || [])].sort((a, b) => a - b);
    this.drawMarks();
  }

  drawMarks() {
    const end = Math.max(1, this.recording?.end_ms ?? 1);
    $("#scrub-ticks").replaceChildren(...this.marks.map((t) => el("option", {value: t})));
    $("#scrub-marks").replaceChildren(...this.marks.map((t) => el("span", {class: "scrub-mark", "data-at": t,
      style: `left:${Math.min(100, (t / end) * 100)}%`, title: formatClock(t)})));
  }

  // Once per animation frame: the timeline follows the clock unless someone holds it.
  tick(now) {
    if (!this.replay || this.scrubbing) return;
    const scrub = $("#scrub");
    const t = Math.round(this.clock.read(now));
    const end = this.recording?.end_ms ?? 0;
    const shown = Math.min(t, end);
    if (shown !== this.shownScrub) {
      this.shownScrub = shown;
      scrub.value = String(shown);
      scrub.setAttribute("aria-valuetext", formatClock(t));
    }
    const label = `${formatClock(t)} of ${formatClock(end)}${t > end ? " (past the recording)" : ""}`;
    const out = $("#scrub-out");
    if (out.textContent !== label) out.textContent = label;
  }

  seekSoon(ms, wait) {
    clearTimeout(this.seekTimer);
    this.scrubbing = true;
    $("#scrub-out").textContent = `to ${formatClock(ms)}`;
    $("#scrub").setAttribute("aria-valuetext", formatClock(ms));
    this.seekTimer = setTimeout(async () => {
      await this.control("seek", {to_ms: ms});
      this.scrubbing = false;
      this.shownScrub = null;
    }, wait);
  }

  wire() {
    const scrub = $("#scrub");
    scrub.addEventListener("input", () => {
      this.scrubbing = true;
      $("#scrub-out").textContent = `to ${formatClock(Number(scrub.value))}`;
    });
    scrub.addEventListener("change", () => this.seekSoon(Number(scrub.value), 0));
    // Arrow keys move by 1% of the recording (a millisecond step is useless by hand); with
    // Shift they go to the previous or next recorded command. Seeks wait for the keys to rest.
    scrub.addEventListener("keydown", (e) => {
      const end = this.recording?.end_ms ?? 0;
      const dir = {ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1}[e.key];
      if (!dir) return;
      e.preventDefault();
      const at = Number(scrub.value);
      let to;
      if (e.shiftKey && this.marks.length) {
        to = dir > 0 ? (this.marks.find((t) => t > at) ?? end) : ([...this.marks].reverse().find((t) => t < at) ?? 0);
      } else {
        to = at + dir * Math.max(1, Math.round(end / 100));
      }
      to = Math.max(0, Math.min(end, to));
      scrub.value = String(to);
      this.seekSoon(to, 350);
    });

    $("#open-toggle").addEventListener("change", async (e) => {
      const want = e.target.checked;
      try {
        await this.socket.roomAction(want ? "open" : "close");
        this.open = want;
        this.flash(want ? "Everyone in this room can drive it now." : "Only you drive this room again.");
      } catch (err) {
        e.target.checked = this.open;
        this.showError(err);
      }
      this.apply();
    });

    $("#fork").addEventListener("click", () => this.fork());
    $("#share").addEventListener("click", () => this.share());
    $("#share-copy").addEventListener("click", () => this.copy());
    $("#share-close").addEventListener("click", () => this.closeShare());
    $("#share-panel").addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.closeShare();
      }
    });
  }

  async fork() {
    const button = $("#fork");
    const status = $("#fork-status");
    button.disabled = true;
    status.textContent = "Forking…";
    try {
      const reply = await this.socket.fork();
      status.textContent = "Opening your room…";
      const url = new URL(reply.url || `/r/${reply.room}`, window.location.href);
      if (this.embed) url.searchParams.set("embed", "1");
      window.location.assign(url.href);
    } catch (err) {
      status.textContent = "";
      button.disabled = false;
      this.showError(err);
    }
  }

  async share() {
    const button = $("#share");
    const status = $("#share-status");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const reply = await this.socket.share();
      const url = new URL(reply.url || `/s/${reply.slug}`, window.location.origin).href;
      const panel = $("#share-panel");
      $("#share-url").value = url;
      $("#share-export").href = `/s/${encodeURIComponent(reply.slug)}/export`;
      $("#share-export").setAttribute("download", `${reply.slug}.json`);
      panel.hidden = false;
      panel.dataset.slug = reply.slug;
      button.setAttribute("aria-expanded", "true");
      status.textContent = `Link ready: ${url}`;
      $("#share-url").focus();
      $("#share-url").select();
    } catch (err) {
      this.showError(err);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  async copy() {
    const input = $("#share-url");
    const status = $("#share-status");
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied.";
    } catch {
      input.focus();
      input.select();
      status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  }

  closeShare() {
    $("#share-panel").hidden = true;
    $("#share").setAttribute("aria-expanded", "false");
    $("#share").focus();
  }
}
