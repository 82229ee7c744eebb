// The page's copy of the room: a snapshot, then events applied one by one.
//
// Knows nothing of the DOM. `apply(event)` changes the state and returns what changed, as
// small "effects" ({kind, ...}) that render.js turns into motion and ui.js into log lines.
// Memory is bounded whatever the room does: each replica keeps only its newest CELL_WINDOW
// records, record trails are kept for the newest TRAIL_LIMIT records.

export const CELL_WINDOW = 16;
export const TRAIL_LIMIT = 2000;

export const recordId = (topic, partition, offset) => `${topic}/${partition}/${offset}`;
export const tpId = (topic, partition) => `${topic}/${partition}`;

// Kafka's murmur2 (seed 0x9747b28c) on the key's UTF-8 bytes, as a signed 32-bit int. The
// inspector recomputes what the server said so the learner can see the arithmetic.
export function murmur2(key) {
  const data = new TextEncoder().encode(key);
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) | 0;
  const len4 = data.length & ~3;
  for (let i = 0; i < len4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length & 3;
  if (rest === 3) h ^= data[len4 + 2] << 16;
  if (rest >= 2) h ^= data[len4 + 1] << 8;
  if (rest >= 1) {
    h ^= data[len4];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

function newPartition(topic, p) {
  return {
    topic, partition: p.partition, leader: p.leader ?? null, epoch: p.leader_epoch ?? 0,
    replicas: p.replicas || [], isr: p.isr || [],
    logStart: p.log_start_offset ?? 0, hw: p.high_watermark ?? 0,
    // Each replica's log end offset; the leader's is the partition's.
    leo: new Map(Object.entries(p.replica_log_end_offsets || {}).map(([b, o]) => [Number(b), o])),
    cells: new Map(), // offset -> {key, value, headers} for the newest records we have seen
    undrawn: 0, // records that reached this partition without a token of their own
  };
}

const KEYS_KEPT = 64; // keys the legend remembers (it shows the newest few)

// A broker as the page draws it: up, or how it went down (a crash or a clean stop), the
// ZooKeeper session a crashed one still holds and when its followers leave their ISRs (ms,
// the model's deadlines: render.js counts them down).
function brokerState(id, up, mode = null, sessionExpiresMs = null, leavesIsrMs = null) {
  return {id, up, mode: up ? null : mode ?? null, sessionExpiresMs: sessionExpiresMs ?? null, leavesIsrMs: leavesIsrMs ?? null};
}

// `map` with the names in `order` first, in that order, then the rest as they were.
function reordered(map, order) {
  const out = new Map();
  for (const name of order) if (map.has(name) && !out.has(name)) out.set(name, map.get(name));
  for (const [name, value] of map) if (!out.has(name)) out.set(name, value);
  return out;
}

export class Model {
  // `made`: the order the room made its topics and groups in, from the page's bootstrap. A
  // snapshot lists them by name; the page draws them as the scenario wrote them instead, the
  // same after a reload or a fork, and live frames append new ones at the end.
  constructor(made = {}) {
    this.made = {topics: made.topics || [], groups: made.groups || []};
    this.reset();
  }

  reset() {
    this.seq = 0;
    this.nowMs = 0;
    this.controller = null;
    this.controllerEpoch = null;
    this.brokers = new Map(); // id -> {id, up}
    this.zk = new Map(); // path -> value
    this.topics = new Map(); // name -> {name, config, rf, partitions: []}
    this.groups = new Map(); // name -> group
    this.producers = new Map(); // id -> {id, topic, rate_per_s, keys, acks, sent}
    this.trails = new Map(); // record id -> trail (insertion order = age)
    this.keys = new Map(); // key -> {topic, partition} of its newest record (the legend), newest last
    // Dead-letter and retry topics, as the model names them (snapshot.delivery_topics, and
    // the dead letters and retries it announces): name -> {kind, source, groups}.
    this.delivery = new Map();
  }

  // The cluster's word on which topics are delivery topics (a snapshot's, or a frame's after
  // topics or groups changed): it replaces what the page had.
  setDelivery(map) {
    this.delivery = new Map(Object.entries(map || {}).map(([name, d]) => [name, {kind: d.kind, source: d.source, groups: [...(d.groups || [])]}]));
  }

  isDelivery(name) {
    return this.delivery.has(name);
  }

  noteDelivery(name, kind, source, group) {
    if (name == null) return false;
    const d = this.delivery.get(name);
    if (d) {
      if (group && !d.groups.includes(group)) d.groups.push(group);
      return false;
    }
    this.delivery.set(name, {kind, source, groups: group ? [group] : []});
    return true;
  }

  // The topics a group's consumers write to while processing (a pipeline's next stage).
  groupOutputs(g) {
    return [...(g.outputs || [])].filter((t) => this.topics.has(t) && !this.isDelivery(t));
  }

  loadSnapshot(state, seq) {
    // The order this page has drawn so far (it saw later topics made), then the bootstrap's.
    const order = {topics: [...this.topics.keys(), ...this.made.topics], groups: [...this.groups.keys(), ...this.made.groups]};
    this.reset();
    this.seq = seq ?? state.seq ?? 0;
    this.nowMs = state.now_ms ?? 0;
    this.controller = state.controller ?? null;
    this.controllerEpoch = state.controller_epoch ?? null;
    // How a stopped broker went down, the ZooKeeper session a crashed one still holds, and
    // when its follower replicas leave their ISRs.
    for (const b of state.brokers || []) this.brokers.set(b.id, brokerState(b.id, b.up !== false, b.stopped, b.session_expires_ms, b.leaves_isr_ms));
    for (const [path, value] of Object.entries(state.zookeeper || {})) this.zk.set(path, value);
    const recent = []; // [record, partition] of every record the snapshot carries
    for (const [name, t] of Object.entries(state.topics || {})) {
      const topic = {name, config: t.config || {}, rf: t.replication_factor, partitions: []};
      for (const p of t.partitions || []) {
        const part = newPartition(name, p);
        if (!part.leo.size && part.leader != null) part.leo.set(part.leader, p.log_end_offset ?? 0);
        // The snapshot carries each partition's newest records (PROTOCOL.md, "records"): the
        // same cells, and the same keys on consumer chips, as a page that watched them arrive.
        for (const r of p.records || []) {
          part.cells.set(r.offset, {key: r.key ?? null, value: r.value, headers: r.headers});
          recent.push([r, part]);
        }
        topic.partitions.push(part);
      }
      this.topics.set(name, topic);
    }
    // Oldest first, so the trail limit and the key legend keep the newest, as they do live.
    recent.sort(([a], [z]) => a.timestamp_ms - z.timestamp_ms);
    for (const [r, part] of recent) this.trailFromSnapshot(r, part);
    this.setDelivery(state.delivery_topics);
    for (const [name, g] of Object.entries(state.groups || {})) this.groups.set(name, this.groupFromSnapshot(name, g));
    for (const [id, p] of Object.entries(state.producers || {})) this.producers.set(id, {id, ...p, sent: p.sent ?? 0});
    this.topics = reordered(this.topics, order.topics);
    this.groups = reordered(this.groups, order.groups);
  }

  // A record known from a snapshot, not from its events: what its log holds (key, a value
  // preview, headers, timestamp, acks), not who sent it or why this partition (`producer`
  // and `why` null); `joined` marks it, so the inspector can say its history before this page
  // connected is summed up by the groups' committed offsets rather than listed.
  trailFromSnapshot(r, part) {
    const id = recordId(part.topic, part.partition, r.offset);
    const key = r.key ?? null;
    const holders = part.replicas.filter((b) => (part.leo.get(b) ?? 0) > r.offset);
    this.touchTrail(id, () => ({id, topic: part.topic, partition: part.partition, offset: r.offset, key,
      value: r.value, valueChars: r.value_truncated ? r.value_chars : null,
      headers: r.headers || null, why: null, leader: part.leader,
      producer: null, acks: r.acks ?? null, t_ms: r.timestamp_ms ?? null, steps: [], groups: new Map(),
      replicas: new Set(holders), joined: true}));
    if (key != null) this.noteKey(key, part.topic, part.partition);
  }

  // The legend lists the most recent keys: a key seen again moves to the newest end.
  noteKey(key, topic, partition) {
    this.keys.delete(key);
    this.keys.set(key, {topic, partition}); // where its newest record went (the legend says)
    if (this.keys.size > KEYS_KEPT) this.keys.delete(this.keys.keys().next().value);
  }

  groupFromSnapshot(name, g) {
    const group = this.newGroup(name, g.config);
    group.state = g.state;
    group.generation = g.generation ?? 0;
    group.assignor = g.assignor || group.config.assignor || "range";
    group.protocol = g.protocol || "eager";
    group.kind = g.kind || "modelled";
    const consumers = g.consumers || {};
    for (const c of Object.values(consumers)) for (const out of c.emits || []) if (out.topic) group.outputs.add(out.topic);
    const ids = new Set([...Object.keys(g.members || {}), ...Object.keys(consumers)]);
    for (const id of [...ids].sort()) {
      const c = consumers[id] || {};
      group.consumers.set(id, {
        id, status: c.status || "live", topics: c.topics || [],
        partitions: (g.members?.[id] || c.partitions || []).map(([t, p]) => tpId(t, p)),
        inFlight: c.in_flight ? recordId(c.in_flight.topic, c.in_flight.partition, c.in_flight.offset) : null,
        last: null, mark: c.hangs ? "hung" : null, hung: !!c.hangs, client: c.client || null,
        // The deadlines a page counts down: a crashed consumer's session, a stuck record's
        // processing timeout, a retry's back-off.
        sessionExpiresMs: c.session_expires_ms ?? null, timesOutMs: c.in_flight?.times_out_ms ?? null,
        retryMs: c.in_flight?.retry_ms ?? null,
      });
      // The record in its hands: the snapshot says who has it and at which attempt.
      const held = c.in_flight && this.trail(recordId(c.in_flight.topic, c.in_flight.partition, c.in_flight.offset));
      if (held) held.groups.set(name, {consumer: id, attempts: c.in_flight.attempt ?? 1, outcome: null, committed: false});
    }
    for (const row of g.lag || []) group.committed.set(tpId(row.topic, row.partition), row.committed);
    return group;
  }

  newGroup(name, config) {
    return {name, state: "Empty", generation: 0, assignor: config?.assignor || "range", protocol: "eager",
      kind: "modelled", config: {...(config || {})}, consumers: new Map(), committed: new Map(), outputs: new Set()};
  }

  partition(topic, p) {
    return this.topics.get(topic)?.partitions[p];
  }

  group(name) {
    let g = this.groups.get(name);
    if (!g) {
      g = this.newGroup(name);
      this.groups.set(name, g);
    }
    return g;
  }

  consumer(groupName, id) {
    const g = this.group(groupName);
    let c = g.consumers.get(id);
    if (!c) {
      c = {id, status: "live", topics: [], partitions: [], inFlight: null, last: null, mark: null};
      g.consumers.set(id, c);
    }
    return c;
  }

  // Lag of a group on a partition: high watermark − committed (null committed: counted from
  // the log start, where an earliest-reset group starts).
  lag(group, key) {
    const [topic, p] = splitTp(key);
    const part = this.partition(topic, p);
    if (!part) return 0;
    const committed = group.committed.get(key);
    // A client may commit a negative sentinel (kafkajs' -2, "earliest"): counted as none.
    return Math.max(0, part.hw - (committed != null && committed >= 0 ? committed : part.logStart));
  }

  // A group's lag summed over the partitions its consumers own (the header's "lag n", the
  // sparkline's samples).
  groupLag(group) {
    let lag = 0;
    for (const c of group.consumers.values()) for (const tp of c.partitions) lag += this.lag(group, tp);
    return lag;
  }

  trail(id) {
    return this.trails.get(id);
  }

  touchTrail(id, make) {
    let t = this.trails.get(id);
    if (!t && make) {
      t = make();
      this.trails.set(id, t);
      if (this.trails.size > TRAIL_LIMIT) this.trails.delete(this.trails.keys().next().value);
    }
    return t;
  }

  // Per-record events the server folded into counts (protocol: frame.aggregates): what they
  // imply for offsets, watermarks and commits is applied; the records themselves stay unseen.
  applyAggregate(a) {
    const part = a.topic != null ? this.partition(a.topic, a.partition) : null;
    if (!part) return [];
    const effects = [{kind: "partition", topic: a.topic, partition: a.partition}];
    if (a.type === "record.produced" && a.last_offset != null) {
      const leo = a.last_offset + 1;
      if (part.leader != null) part.leo.set(part.leader, Math.max(part.leo.get(part.leader) ?? 0, leo));
      // The newest high watermark the folded records carried (a lone leader's moves with them).
      if (a.high_watermark != null) part.hw = Math.max(part.hw, a.high_watermark);
      part.undrawn += a.count;
      for (const off of part.cells.keys()) if (off < leo - CELL_WINDOW * 2) part.cells.delete(off);
      effects.push({kind: "aggregate", topic: a.topic, partition: a.partition, count: a.count});
    } else if (a.type === "partition.high_watermark" && a.high_watermark != null) {
      part.hw = Math.max(part.hw, a.high_watermark);
      // Every in-sync replica holds at least up to the high watermark.
      for (const b of part.isr) part.leo.set(b, Math.max(part.leo.get(b) ?? 0, part.hw));
    } else if (a.type === "offset.committed" && a.group != null && a.last_offset != null) {
      this.group(a.group).committed.set(tpId(a.topic, a.partition), a.last_offset);
      effects.push({kind: "lag", group: a.group});
    }
    return effects;
  }

  apply(e) {
    if (e.seq) this.seq = e.seq;
    if (e.t_ms != null) this.nowMs = e.t_ms;
    const handler = HANDLERS[e.type];
    const effects = handler ? handler(this, e) || [] : [];
    return effects;
  }
}

export function splitTp(key) {
  const i = key.lastIndexOf("/");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

function setGroupState(m, e) {
  const g = m.group(e.group);
  const before = g.state;
  if (e.to) g.state = e.to;
  if (e.generation != null) g.generation = e.generation;
  return [{kind: "group", group: e.group, from: before, to: g.state}];
}

function trailEvent(m, e, entry) {
  const t = m.trail(recordId(e.topic, e.partition, e.offset));
  if (t) t.steps.push({t_ms: e.t_ms, ...entry});
  return t;
}

const HANDLERS = {
  "broker.started"(m, e) {
    m.brokers.set(e.broker, brokerState(e.broker, true));
    return [{kind: "broker", broker: e.broker, up: true}];
  },
  "broker.stopped"(m, e) {
    m.brokers.set(e.broker, brokerState(e.broker, false, e.mode, e.session_expires_ms, e.leaves_isr_ms));
    return [{kind: "broker", broker: e.broker, up: false}];
  },
  "broker.session_expired"(m, e) {
    const b = m.brokers.get(e.broker);
    if (b) b.sessionExpiresMs = b.leavesIsrMs = null;
    return [{kind: "broker", broker: e.broker, up: false}];
  },
  "controller.elected"(m, e) {
    m.controller = e.broker;
    m.controllerEpoch = e.epoch;
    return [{kind: "controller", broker: e.broker}];
  },
  "zk.node_created"(m, e) {
    m.zk.set(e.path, e.value);
    return [{kind: "zk"}];
  },
  "zk.node_changed"(m, e) {
    m.zk.set(e.path, e.value);
    return [{kind: "zk"}];
  },
  "zk.node_deleted"(m, e) {
    m.zk.delete(e.path);
    return [{kind: "zk"}];
  },
  "topic.created"(m, e) {
    const topic = {name: e.topic, config: e.config || {}, rf: e.replication_factor, partitions: []};
    (e.assignment || []).forEach((replicas, p) => {
      topic.partitions.push(newPartition(e.topic, {partition: p, leader: null, replicas, isr: replicas}));
    });
    m.topics.set(e.topic, topic);
    return [{kind: "topology"}];
  },
  "topic.deleted"(m, e) {
    m.topics.delete(e.topic);
    m.delivery.delete(e.topic);
    // Its offsets leave every group's table (Kafka deletes them with the topic).
    for (const g of m.groups.values()) {
      for (const key of [...g.committed.keys()]) if (splitTp(key)[0] === e.topic) g.committed.delete(key);
    }
    return [{kind: "topology"}, {kind: "groups"}];
  },
  "topic.config_changed"(m, e) {
    const t = m.topics.get(e.topic);
    if (t && e.config) Object.assign(t.config, e.config);
    return [{kind: "topic", topic: e.topic}];
  },
  "topic.partitions_added"(m, e) {
    const t = m.topics.get(e.topic);
    if (!t) return [];
    const assignment = e.assignment || [];
    // `assignment` lists only the new partitions, numbered from `previous` on.
    const from = e.previous ?? e.from ?? t.partitions.length;
    assignment.forEach((replicas, i) => {
      const p = from + i;
      if (p >= t.partitions.length) t.partitions[p] = newPartition(e.topic, {partition: p, replicas, isr: replicas});
    });
    return [{kind: "topology"}];
  },
  "partition.leader_elected"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (!part) return [];
    const from = part.leader;
    part.leader = e.leader ?? null;
    if (e.epoch != null) part.epoch = e.epoch;
    if (e.isr) part.isr = e.isr;
    if (part.leader != null && !part.leo.has(part.leader)) part.leo.set(part.leader, part.hw);
    return [{kind: "leader", topic: e.topic, partition: e.partition, from, to: part.leader, unclean: !!e.unclean}];
  },
  "partition.offline"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (!part) return [];
    const from = part.leader;
    part.leader = null;
    if (e.epoch != null) part.epoch = e.epoch;
    if (e.isr) part.isr = e.isr;
    return [{kind: "leader", topic: e.topic, partition: e.partition, from, to: null, unclean: false},
      {kind: "alert", level: "red", text: `${e.topic}/${e.partition} is offline`}];
  },
  "replica.truncated"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (!part) return [];
    part.leo.set(e.broker, e.offset);
    return [{kind: "partition", topic: e.topic, partition: e.partition}];
  },
  "consumer.hung"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.mark = "hung";
    c.hung = true;
    c.timesOutMs = e.in_flight?.times_out_ms ?? c.timesOutMs ?? null;
    return [{kind: "mark", group: e.group, consumer: e.consumer, mark: "hung"}];
  },
  "consumer.recovered"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    if (c.mark === "hung") c.mark = null;
    c.hung = false;
    // Its code works again, but the call it was stuck in never returns: the record in hand
    // still waits for its processing timeout (the event says when).
    c.timesOutMs = e.in_flight?.times_out_ms ?? null;
    return [{kind: "mark", group: e.group, consumer: e.consumer, mark: null}];
  },
  "partition.isr_changed"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (part && e.isr) part.isr = e.isr;
    return [{kind: "partition", topic: e.topic, partition: e.partition}];
  },
  "partition.high_watermark"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (part) part.hw = e.high_watermark;
    return [{kind: "partition", topic: e.topic, partition: e.partition}];
  },
  "record.produced"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (!part) return [];
    const leader = e.leader ?? part.leader;
    part.leo.set(leader, Math.max(part.leo.get(leader) ?? 0, e.offset + 1));
    if (e.high_watermark != null) part.hw = Math.max(part.hw, e.high_watermark);
    part.cells.set(e.offset, {key: e.key ?? null, value: e.value, headers: e.headers});
    const oldest = e.offset - CELL_WINDOW * 2;
    if (part.cells.size > CELL_WINDOW * 2) for (const off of part.cells.keys()) if (off <= oldest) part.cells.delete(off);
    const id = recordId(e.topic, e.partition, e.offset);
    m.touchTrail(id, () => ({id, topic: e.topic, partition: e.partition, offset: e.offset, key: e.key ?? null,
      value: e.value, valueChars: e.value_truncated ? e.value_chars : null, headers: e.headers || null,
      why: e.why || null, leader, producer: e.producer || null,
      acks: e.acks ?? null, t_ms: e.t_ms, steps: [], groups: new Map(), replicas: new Set([leader])}));
    if (e.key != null) m.noteKey(e.key, e.topic, e.partition);
    const prod = e.producer && m.producers.get(e.producer);
    if (prod) prod.sent = (prod.sent || 0) + 1;
    // A record a consumer emitted while processing another comes from that consumer.
    let from = null;
    let newOutput = false;
    if (e.cause?.group && m.groups.has(e.cause.group)) {
      const outs = m.groups.get(e.cause.group).outputs;
      if (!outs.has(e.topic) && !m.isDelivery(e.topic)) {
        outs.add(e.topic);
        newOutput = true;
      }
    }
    if (e.cause) {
      const c = m.trail(recordId(e.cause.topic, e.cause.partition, e.cause.offset));
      const d = c && c.groups.get(e.cause.group);
      if (d) from = [e.cause.group, d.consumer];
    }
    const effects = [{kind: "produced", id, topic: e.topic, partition: e.partition, offset: e.offset, key: e.key ?? null,
      leader, producer: e.producer || null, from, t: e.t_ms}];
    if (newOutput) effects.push({kind: "topology"});
    return effects;
  },
  "record.acked"(m, e) {
    trailEvent(m, e, {what: "acked", text: `acknowledged to the producer (acks=${e.acks ?? "?"})`});
    return [];
  },
  "produce.failed"(m, e) {
    return [{kind: "alert", level: "red", text: `produce to ${e.topic} failed: ${e.error}`}];
  },
  "record.replicated"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (!part) return [];
    const count = e.count ?? 1;
    part.leo.set(e.broker, e.log_end_offset ?? e.offset + count);
    for (let off = e.offset; off < e.offset + count; off++) {
      const t = m.trail(recordId(e.topic, e.partition, off));
      if (t) t.replicas.add(e.broker);
    }
    return [{kind: "replicated", topic: e.topic, partition: e.partition, broker: e.broker, offset: e.offset, count,
      from: part.leader, t: e.t_ms}];
  },
  "record.lost"(m, e) {
    trailEvent(m, e, {what: "lost", text: `lost: ${e.reason || "truncated"}`, level: "red"});
    return [{kind: "alert", level: "red", text: `record ${recordId(e.topic, e.partition, e.offset)} lost`}];
  },
  "record.truncated"(m, e) {
    trailEvent(m, e, {what: "truncated", level: "amber",
      text: e.will_retry ? "cut by a leader change before it was acknowledged; the producer sends it again"
        : "cut by a leader change; it was never acknowledged"});
    return [{kind: "partition", topic: e.topic, partition: e.partition}];
  },
  "record.deduplicated"(m, e) {
    trailEvent(m, e, {what: "deduplicated",
      text: `${e.producer}: retry recognised by the idempotent producer's sequence number; no second copy`});
    return [];
  },
  "record.abandoned"(m, e) {
    trailEvent(m, e, {what: "abandoned", group: e.group, level: "amber",
      text: `${e.group}: ${e.consumer} let it go (${e.reason})`});
    return [];
  },
  "record.expired"(m, e) {
    const part = m.partition(e.topic, e.partition);
    if (part) part.logStart = Math.max(part.logStart, (e.offset ?? e.first_offset ?? 0) + (e.count ?? 1));
    return [{kind: "partition", topic: e.topic, partition: e.partition}];
  },
  "producer.added"(m, e) {
    m.producers.set(e.producer, {id: e.producer, topic: e.topic, rate_per_s: e.rate_per_s, keys: e.keys, acks: e.acks,
      sent: 0});
    return [{kind: "producers"}];
  },
  "producer.removed"(m, e) {
    m.producers.delete(e.producer);
    return [{kind: "producers"}];
  },
  "group.created"(m, e) {
    const g = m.group(e.group);
    if (e.config) {
      g.config = {...e.config};
      g.assignor = e.config.assignor || g.assignor;
    }
    return [{kind: "groups"}];
  },
  "group.configured"(m, e) {
    const g = m.group(e.group);
    if (e.config) {
      Object.assign(g.config, e.config);
      g.assignor = g.config.assignor || g.assignor;
    }
    return [{kind: "group", group: e.group}];
  },
  "group.deleted"(m, e) {
    m.groups.delete(e.group);
    return [{kind: "groups"}];
  },
  "group.member_joined"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.status = "live";
    if (e.topics) c.topics = e.topics;
    if (e.kind === "client") {
      // A real Kafka client (wire protocol): the page says who it is and that it chose.
      m.group(e.group).kind = "clients";
      c.client = e.client || null;
    }
    return [{kind: "groups"}];
  },
  "group.join_completed"(m, e) {
    // Real clients' groups: the protocol (assignor) the members voted for.
    const g = m.group(e.group);
    g.kind = "clients";
    if (e.protocol_name) g.assignor = e.protocol_name;
    if (e.protocol) g.protocol = e.protocol;
    if (e.generation != null) g.generation = e.generation;
    return [{kind: "group", group: e.group}];
  },
  "group.member_left"(m, e) {
    m.group(e.group).consumers.delete(e.consumer);
    return [{kind: "groups"}];
  },
  "group.member_expired"(m, e) {
    m.group(e.group).consumers.delete(e.consumer);
    return [{kind: "groups"}];
  },
  "consumer.crashed"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.status = "crashed";
    c.sessionExpiresMs = e.session_expires_ms ?? null;
    c.timesOutMs = c.retryMs = null;
    return [{kind: "group", group: e.group}];
  },
  "group.state_changed": setGroupState,
  "group.rebalance_started"(m, e) {
    m.group(e.group).rebalancing = true;
    return [{kind: "group", group: e.group}];
  },
  "group.rebalance_completed"(m, e) {
    const g = m.group(e.group);
    g.rebalancing = false;
    if (e.generation != null) g.generation = e.generation;
    if (e.assignor) g.assignor = e.assignor;
    if (e.protocol) g.protocol = e.protocol;
    return [{kind: "group", group: e.group}];
  },
  "partition.assigned"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    const added = (e.partitions || []).map(([t, p]) => tpId(t, p));
    c.partitions = [...new Set([...c.partitions, ...added])].sort();
    return [{kind: "assigned", group: e.group, consumer: e.consumer, partitions: added}];
  },
  "partition.revoked"(m, e) {
    const c = m.group(e.group).consumers.get(e.consumer);
    if (!c) return [];
    const gone = new Set((e.partitions || []).map(([t, p]) => tpId(t, p)));
    c.partitions = c.partitions.filter((k) => !gone.has(k));
    return [{kind: "group", group: e.group}];
  },
  "record.delivered"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    const id = recordId(e.topic, e.partition, e.offset);
    c.inFlight = id;
    c.mark = e.attempt > 1 ? "retry" : null;
    c.timesOutMs = e.times_out_ms ?? null;
    c.retryMs = null;
    const t = m.trail(id);
    if (t) {
      const d = t.groups.get(e.group) || {consumer: e.consumer, attempts: 0, outcome: null, committed: false};
      d.consumer = e.consumer;
      d.attempts = Math.max(d.attempts, e.attempt ?? 1);
      t.groups.set(e.group, d);
    }
    trailEvent(m, e, {what: "delivered", group: e.group, text: `${e.group}: delivered to ${e.consumer} (attempt ${e.attempt ?? 1})`});
    return [{kind: "delivered", id, group: e.group, consumer: e.consumer, topic: e.topic, partition: e.partition,
      offset: e.offset, attempt: e.attempt ?? 1, t: e.t_ms}];
  },
  "record.processed"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    const id = recordId(e.topic, e.partition, e.offset);
    if (c.inFlight === id) c.inFlight = null;
    c.last = id;
    c.mark = null;
    c.timesOutMs = null;
    const t = m.trail(id);
    if (t?.groups.get(e.group)) t.groups.get(e.group).outcome = "processed";
    trailEvent(m, e, {what: "processed", group: e.group, text: `${e.group}: processed by ${e.consumer}`});
    return [{kind: "consumer", group: e.group, consumer: e.consumer}];
  },
  "record.failed"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.mark = "failed";
    c.timesOutMs = null;
    trailEvent(m, e, {what: "failed", group: e.group, level: "amber",
      text: `${e.group}: attempt ${e.attempt ?? "?"} failed on ${e.consumer}${e.error ? " (" + e.error + ")" : ""}`});
    return [{kind: "mark", group: e.group, consumer: e.consumer, mark: "failed"}];
  },
  "record.retry_scheduled"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.mark = "retry";
    c.retryMs = e.retry_topic ? null : e.due_ms ?? null;
    const added = e.retry_topic ? m.noteDelivery(e.retry_topic, "retry", e.original?.topic ?? e.topic, e.group) : false;
    trailEvent(m, e, {what: "retry", group: e.group, level: "amber", text: `${e.group}: retry scheduled`});
    return [{kind: "mark", group: e.group, consumer: e.consumer, mark: "retry", id: recordId(e.topic, e.partition, e.offset)},
      ...(added ? [{kind: "topology"}] : [])];
  },
  "record.timed_out"(m, e) {
    const c = m.consumer(e.group, e.consumer);
    c.mark = "timeout";
    c.timesOutMs = null;
    trailEvent(m, e, {what: "timeout", group: e.group, level: "amber", text: `${e.group}: ${e.kind || "processing"} timeout`});
    return [{kind: "mark", group: e.group, consumer: e.consumer, mark: "timeout"}];
  },
  "record.dead_lettered"(m, e) {
    const added = m.noteDelivery(e.dead_letter_topic, "dead_letter", e.original?.topic ?? e.topic, e.group);
    const t = trailEvent(m, e, {what: "dead", group: e.group, level: "red",
      text: `${e.group}: dead-lettered to ${e.dead_letter_topic}/${e.dead_letter_partition}@${e.dead_letter_offset} after ${e.attempts} attempts (${e.reason})`});
    if (t) {
      t.dead = recordId(e.dead_letter_topic, e.dead_letter_partition, e.dead_letter_offset);
      if (t.groups.get(e.group)) t.groups.get(e.group).outcome = "dead-lettered";
    }
    const c = e.consumer ? m.consumer(e.group, e.consumer) : null;
    if (c) c.mark = "dead";
    return [{kind: "dead", group: e.group, consumer: e.consumer, topic: e.dead_letter_topic,
      partition: e.dead_letter_partition, offset: e.dead_letter_offset, key: t?.key ?? null, t: e.t_ms},
    ...(added ? [{kind: "topology"}] : [])];
  },
  "offset.committed"(m, e) {
    const g = m.group(e.group);
    const key = tpId(e.topic, e.partition);
    g.committed.set(key, e.offset);
    const t = m.trail(recordId(e.topic, e.partition, e.offset - 1));
    if (t?.groups.get(e.group)) t.groups.get(e.group).committed = true;
    return [{kind: "lag", group: e.group}];
  },
  "offset.deleted"(m, e) {
    m.group(e.group).committed.delete(tpId(e.topic, e.partition));
    return [{kind: "lag", group: e.group}];
  },
  "offset.reset"(m, e) {
    if (e.offset != null) m.group(e.group).committed.set(tpId(e.topic, e.partition), e.offset);
    return [{kind: "lag", group: e.group}];
  },
};
