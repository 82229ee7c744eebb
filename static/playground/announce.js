// The screen reader's live region (#announcer), fed by the event log and the room's notices.

import {$} from "./dom.js";

// A screen reader hears the important changes, at most one message every two seconds, never
// a record-by-record stream.
const IMPORTANT = /^(broker\.|controller\.|topic\.|dead_letter\.replayed|partition\.(leader_elected|offline)|consumer\.(hung|recovered)|group\.state_changed|group\.rebalance_completed|record\.(lost|dead_lettered|timed_out)|produce\.failed|consumer\.crashed|group\.member_(expired|left|joined))/;
let announceQueue = [];
let announceAt = 0;
// `describe` (eventlog.js) words the event; passed in, so the log and this module need not
// depend on each other both ways.
export function announceEvent(e, describe) {
  if (!IMPORTANT.test(e.type)) return;
  if (e.type === "group.state_changed" && e.to !== "Stable" && e.to !== "PreparingRebalance") return;
  announce(describe(e));
}
export function announce(text, urgent = false) {
  announceQueue.push(text);
  if (announceQueue.length > 20) announceQueue = announceQueue.slice(-20);
  if (urgent) announceAt = 0;
}
setInterval(() => {
  const now = performance.now();
  if (!announceQueue.length || now - announceAt < 2000) return;
  announceAt = now;
  const shown = announceQueue.slice(0, 3);
  const more = announceQueue.length - shown.length;
  $("#announcer").textContent = `${shown.join(". ")}${more > 0 ? ". And " + more + " more changes." : "."}`;
  announceQueue = [];
}, 500);
