// Follow one record: its journey lights up on the diagram (render.js applyFollow) and the bar
// over the cluster says it in words — which partition and why (the murmur2 arithmetic), which
// replicas hold it, whether the high watermark has passed it, and what each group did with it.
// Start by clicking a token, a cell, a key in the legend or a record on a consumer, or by
// typing a key: the newest record with that key, or the next one to be produced.

import {$, el, setHidden} from "./dom.js";
import {murmur2} from "./model.js";

export class Follow {
  constructor({renderer, model, root = document}) {
    this.renderer = renderer;
    this.model = model;
    this.form = $("#follow", root);
    this.input = $("#follow-key", root);
    this.text = $("#follow-text", root);
    this.next = $("#follow-next", root);
    this.stopButton = $("#follow-stop", root);
    this.keys = $("#follow-keys", root);
    this.shown = "";
    renderer.onFollow = () => this.render();
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const key = this.input.value.trim();
      if (key) this.key(key);
    });
    this.next.addEventListener("click", () => {
      const key = this.following()?.key;
      if (key != null) this.key(key, {next: true});
    });
    this.stopButton.addEventListener("click", () => this.stop());
    // Cells, records on consumer chips and legend keys: follow what was clicked (the
    // inspector opens too, through ui.js's own handler).
    document.addEventListener("click", (e) => {
      const key = e.target.closest("[data-follow-key]");
      if (key) {
        this.key(key.dataset.followKey);
        return;
      }
      const rec = e.target.closest(".cell[data-record], .rec[data-record]");
      if (rec) this.record(rec.dataset.record);
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.following() && !document.querySelector("dialog[open]") && $("#inspector").hidden) this.stop();
    });
  }

  following() {
    return this.renderer.follow;
  }

  // Follow record `id` ("topic/partition/offset").
  record(id) {
    const t = this.model.trail(id);
    this.renderer.setFollow({id, key: t ? t.key : null});
    this.render();
  }

  // The newest record with `key` this page knows, or (next, or none known) the next one.
  key(key, {next = false} = {}) {
    let id = null;
    if (!next) {
      for (const t of [...this.model.trails.values()].reverse()) {
        if (t.key === key) {
          id = t.id;
          break;
        }
      }
    }
    this.input.value = key;
    this.renderer.setFollow({id, key});
    this.render();
  }

  stop() {
    this.renderer.setFollow(null);
    this.render();
  }

  // The bar's words; called each frame (cheap when nothing changed).
  render() {
    const f = this.following();
    const j = this.renderer.journey;
    const words = !f ? "" : !f.id ? `Waiting for the next record with key ${f.key}…` : j ? describe(j, this.model) : "That record is no longer on this page.";
    setHidden(this.stopButton, !f);
    setHidden(this.next, !f || f.key == null);
    if (words !== this.shown) {
      this.shown = words;
      this.text.textContent = words;
    }
    // The key field's suggestions (the newest keys), at most twice a second.
    const now = performance.now();
    if (now - (this.keysAt ?? -Infinity) < 500) return;
    this.keysAt = now;
    const newest = [...this.model.keys.keys()].slice(-12).reverse();
    const keys = newest.join("\n");
    if (keys !== this.keysShown) {
      this.keysShown = keys;
      this.keys.replaceChildren(...newest.map((k) => el("option", {value: k})));
    }
  }
}

// One record's journey in a sentence per stage.
export function describe(j, model) {
  const t = j.record;
  const bits = [];
  const key = t.key == null ? "no key" : `key ${t.key}`;
  let why = "";
  const byClient = t.why?.method === "client";
  if ((t.why?.method === "murmur2" || (byClient && t.why.murmur2)) && t.key != null) {
    const h = t.why.hash ?? murmur2(t.key);
    const n = t.why.partitions ?? model.topics.get(t.topic)?.partitions.length;
    const positive = h & 0x7fffffff;
    why = ` because murmur2("${t.key}") & 0x7fffffff = ${positive}, and ${positive} mod ${n} = ${positive % n}`;
    if (byClient) why += " (the client's partitioner, as Java's default)";
  } else if (byClient) {
    why = t.key == null ? " (no key: the client's partitioner chose it)"
      : " (the client's own partitioner chose it: not murmur2, so not where Java would put it)";
  } else if (t.why?.method === "sticky") {
    why = " (no key: the sticky partitioner chose it)";
  } else if (t.why?.method === "explicit") {
    why = " (the producer named the partition)";
  }
  bits.push(`${t.topic}/${t.partition} offset ${t.offset} (${key}): partition ${t.partition}${why}.`);
  const copies = j.copies.map((c) => `B${c.broker} ${c.has ? "✓" : "…"}`).join(" ");
  if (copies) bits.push(`Copies: ${copies}; ${j.committed ? "below the high watermark: committed, consumers may read it" : "above the high watermark: not readable yet"}.`);
  for (const g of j.groups) bits.push(`${g.group}: ${g.consumer ?? "nobody"} — ${g.state}.`);
  if (t.dead) bits.push(`Dead-lettered to ${t.dead}.`);
  return bits.join(" ");
}
