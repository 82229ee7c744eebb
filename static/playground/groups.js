// The consumer groups as the page draws them, in the order data flows through them: each a
// container with its state (plain words and Kafka's term), total lag and a lag sparkline, and a
// chip per consumer with its partitions (and the lag of those it is behind on), the records in
// its hands and its buttons. A group is rebuilt only when its shape changes (state, generation,
// members, assignment); lag and recent records are patched in place, and partitions that moved
// slide to their new owner (FLIP).

import {splitTp} from "./model.js";
import {cssEsc, el} from "./dom.js";
import {keyLabel, keyStyle} from "./keys.js";
import {countdown} from "./callouts.js";
import {Part} from "./part.js";
import {naturalCompare} from "./timeline.js";

export class GroupsView extends Part {

  renderGroups() {
    const box = this.cols.groups;
    box.replaceChildren();
    const names = this.groupOrder();
    if (!names.length) box.append(el("p", {class: "muted empty", text: "No consumer groups yet."}));
    for (const name of names) {
      const section = el("section", {class: "group", "data-group": name, "aria-label": `Consumer group ${name}`});
      box.append(section);
      this.updateGroup(name, section);
    }
  }

  // Groups in the order data flows through them: a group reading a topic another group writes
  // comes after that group (a pipeline top to bottom); otherwise the order they were made in,
  // which is the scenario's.
  groupOrder() {
    const m = this.model;
    const made = [...m.groups.keys()];
    const reads = new Map(made.map((n) => [n, new Set([...m.groups.get(n).consumers.values()].flatMap((c) => c.topics || []))]));
    const writes = new Map(made.map((n) => [n, new Set(m.groupOutputs(m.groups.get(n)))]));
    const out = [];
    const placed = new Set();
    while (out.length < made.length) {
      // The first group (in made order) that no unplaced group feeds; a cycle takes the first.
      const next = made.find((n) => !placed.has(n) && !made.some((o) => o !== n && !placed.has(o)
        && [...writes.get(o)].some((t) => reads.get(n).has(t)))) ?? made.find((n) => !placed.has(n));
      placed.add(next);
      out.push(next);
    }
    return out;
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
    if (!this.r.reduced) for (const tag of section.querySelectorAll(".tag[data-tp]")) before.set(`${tag.dataset.tp}`, tag.getBoundingClientRect());
    const focused = section.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    const outputs = this.model.groupOutputs(g);
    const head = el("header", {class: "group-head"},
      el("button", {type: "button", class: "group-name", "data-inspect": "group", "data-id": name, text: name}),
      el("span", {class: "group-lag num", "data-group-lag": name, title: "records committed to its partitions that this group has not yet committed (high watermark − committed offset, summed)",
        text: `lag ${this.model.groupLag(g)}`}),
      el("span", {class: "spark", "data-spark-group": name, title: "lag over the last minutes (virtual time)", "aria-hidden": "true"}),
      el("span", {class: "state-line"},
        el("span", {class: `pill state-${g.state}`, "data-state": g.state, title: STATE_HELP[g.state] || g.state},
          el("span", {text: STATE_WORDS[g.state] || g.state}), el("span", {class: "term", text: ` — ${g.state}`})),
        el("span", {class: "muted num gen", title: "generation: how many times the group has been rebalanced", text: `gen ${g.generation}`}),
        outputs.length ? el("span", {class: "writes small", title: "what this group's consumers write while they process: the next stage of the pipeline",
          text: `→ ${outputs.join(", ")}`}) : null,
        g.kind === "clients" ? el("span", {class: "badge clients", "data-clients": g.assignor,
          title: `Real Kafka clients: their leader computed this assignment with ${g.assignor}; the broker only relayed it`,
          text: `real clients · ${g.assignor}`}) : null),
      g.kind === "clients" ? null : el("button", {type: "button", class: "mini", "data-action": "consumer.add",
        "data-in-group": name, "aria-label": `Add a consumer to ${name}`, text: "+"}));
    const list = el("ul", {class: "consumers"});
    for (const c of [...g.consumers.values()].sort((a, z) => naturalCompare(a.id, z.id))) {
      list.append(this.consumerChip(g, c));
    }
    if (!g.consumers.size) list.append(el("li", {class: "muted empty", text: "no consumers"}));
    section.classList.toggle("rebalancing", g.state === "PreparingRebalance" || g.state === "CompletingRebalance");
    section.replaceChildren(head, list);
    this.charts?.attach(section);
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
    const total = section.querySelector("[data-group-lag]");
    const lagText = `lag ${this.model.groupLag(g)}`;
    if (total && total.textContent !== lagText) {
      total.textContent = lagText;
      total.classList.toggle("behind", lagText !== "lag 0");
    }
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
        if (n.textContent === `lag ${lag}`) continue;
        n.textContent = `lag ${lag}`;
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
    // Its partitions, grouped by topic ("placed P0 P1 · cancelled P0"); a partition it is
    // behind on says so ("P1 lag 3", with a bar), the group's header says its total lag.
    const tags = el("span", {class: "tags"});
    const names = topicNicknames(c.partitions.map((k) => splitTp(k)[0]));
    const byTopic = new Map();
    for (const key of c.partitions) {
      const topic = splitTp(key)[0];
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic).push(key);
    }
    for (const [topic, keys] of byTopic) {
      const group = el("span", {class: "topic-tags"}, names.get(topic) ? el("span", {class: "tnick", text: names.get(topic)}) : null);
      for (const key of keys) {
        const p = splitTp(key)[1];
        const lag = m.lag(g, key);
        group.append(el("span", {class: "tag", "data-tp": key, title: `${topic} partition ${p}: lag ${lag}`},
          el("span", {class: "num", text: `P${p}`}),
          el("span", {class: `lag num${lag ? " behind" : ""}`, "aria-label": `lag ${lag}`, text: `lag ${lag}`}),
          el("span", {class: "lagbar", "aria-hidden": "true"}, el("span", {style: `width:${Math.min(100, lag * 10)}%`}))));
      }
      tags.append(group);
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
        style: keyStyle(key), title: `${id}${key != null ? " · key " + key : ""} (${state === "busy" ? "processing" : "processed"})`,
        "aria-label": `record ${id}${key != null ? " key " + key : ""}, ${state === "busy" ? "processing" : "processed"}`,
        text: keyLabel(key)});
    });
  }
}

const deadlinesKey = (c) => `${c.status}|${c.sessionExpiresMs}|${c.timesOutMs}|${c.retryMs}`;


// A selector that finds "the same" control after a rebuild.
function focusKey(node) {
  const d = node.dataset || {};
  if (d.action) return `[data-action="${cssEsc(d.action)}"][data-id="${cssEsc(d.id || "")}"]`;
  if (d.inspect) return `[data-inspect="${cssEsc(d.inspect)}"][data-id="${cssEsc(d.id || "")}"]`;
  return null;
}

// A group's state in plain words, the Kafka term beside it (the pill shows both).
const STATE_WORDS = {Stable: "steady", PreparingRebalance: "reassigning partitions", CompletingRebalance: "waiting for assignments",
  Empty: "no consumers", Dead: "removed"};
const STATE_HELP = {
  Stable: "Stable: every consumer has its partitions and is reading",
  PreparingRebalance: "PreparingRebalance: the group stopped to share its partitions out again; members are (re)joining",
  CompletingRebalance: "CompletingRebalance: members joined; waiting for the leader's assignment",
  Empty: "Empty: no member; committed offsets are kept",
  Dead: "Dead: the group is gone",
};

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

