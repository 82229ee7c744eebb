#!/usr/bin/env node
// The conformance program for kafkajs (its producer, consumer and admin client).
//
//   node main.js --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX[,CHECK_PREFIX...]]
//
// Same contract as conformance/clients/franz/main.go (see its header): one JSON line per check
// on stdout ({"check", "observed"} | {"check", "error", "detail"} | {"check", "skip"}),
// observations normalised (no ids, hosts, ports or clock values; Kafka's error names), kafkajs'
// own log on stderr, exit 0 whenever the program could run.
//
// kafkajs' defaults throughout, except where an application must set something to do the check
// at all (autoCommit off to commit by hand, allowAutoTopicCreation off for
// errors.unknown_topic, transactionalId for errors.transactional); each says why. Its producer's
// default partitioner (v2's DefaultPartitioner) is Java's for keys: murmur2 of the key,
// & 0x7fffffff, modulo the partition count (records without a key go round-robin from a random
// start, Java 0.10's rule). Every kafkajs consumer is a group consumer, so reading a topic back
// joins a throwaway group named PREFIX-read-N.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1' // the v2 default is the point, not a warning

const crypto = require('crypto')
const { Kafka, logLevel, ConfigResourceTypes, AssignerProtocol } = require('kafkajs')
// kafkajs' table of Kafka's error codes and names (not re-exported by its index).
const { errorCodes } = require('kafkajs/src/protocol/error')

const codeName = code => {
  if (!code) return 'ok'
  const known = errorCodes.find(e => e.code === code)
  return known ? known.type : `code ${code}`
}

const KEYED_RECORDS = 20
// A check still running after this is reported as "timeout" and the run moves on. kafkajs is
// the slowest client here: every consumer is a group member (each join waits Kafka's 3 s
// group.initial.rebalance.delay.ms), and group.reset_earliest joins twice: 13-16 s on Kafka.
const CHECK_TIMEOUT_MS = 40000
const SLOW_TIMEOUT_MS = 15000 // errors.unknown_topic and errors.transactional time their outcome
const DEFAULT_PARTITIONER = 'kafkajs Partitioners.DefaultPartitioner (Java-compatible murmur2)'
const CONFIG_SOURCES = ['UNKNOWN', 'DYNAMIC_TOPIC_CONFIG', 'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG', 'STATIC_BROKER_CONFIG', 'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG']

class Skip extends Error {}
class Timeout extends Error {}

function parseArgs (argv) {
  const args = { only: '' }
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '')
    if (!['bootstrap', 'prefix', 'only'].includes(name) || argv[i + 1] === undefined) {
      usage()
    }
    args[name] = argv[i + 1]
  }
  if (!args.bootstrap || !args.prefix) usage()
  return args
}

function usage () {
  process.stderr.write('usage: node main.js --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX]\n')
  process.exit(2)
}

// kafkajs logs through console (stdout) by default; stdout carries only the check lines.
const toStderr = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`[kafkajs ${label} ${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

// errName: Kafka's error name (kafkajs' KafkaJSProtocolError.type), looking through kafkajs'
// wrappers (retries exceeded, aggregates), "timeout" for our deadline, else the class name.
function errName (e) {
  if (!e) return 'ok'
  if (e instanceof Timeout) return 'timeout'
  if (e.type) return e.type
  if (Array.isArray(e.errors) && e.errors.length) return errName(e.errors[0])
  if (e.originalError) return errName(e.originalError)
  if (e.cause && e.cause !== e) return errName(e.cause)
  return e.name || 'Error'
}

function within (promise, ms) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Timeout(`no answer in ${ms} ms`)), ms) }),
  ])
}

function bucket (ms) {
  if (ms < 2000) return '<2s'
  if (ms < 10000) return '<10s'
  return 'timeout'
}

function sortedObject (entries) {
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

// Incompressible bytes of a given length, the same on every run.
function randomValue (n) {
  const out = Buffer.alloc(n)
  let block = crypto.createHash('sha256').update(String(n)).digest()
  for (let i = 0; i < n; i += block.length) {
    block.copy(out, i)
    block = crypto.createHash('sha256').update(block).digest()
  }
  return out
}

class Runner {
  constructor ({ bootstrap, prefix, only }) {
    this.prefix = prefix
    this.only = only.split(',')
    this.kafka = new Kafka({ clientId: 'conformance-kafkajs', brokers: [bootstrap],
      logLevel: logLevel.WARN, logCreator: toStderr })
    this.admin = this.kafka.admin()
    this.closers = []
    this.topicCreated = false
    this.produced = null
    this.member = null
    this.groupConsumed = false
    this.reads = 0
  }

  get topic () { return `${this.prefix}-t` }
  get group () { return `${this.prefix}-g` }

  async run (name, fn) {
    if (!this.only.some(p => name.startsWith(p))) return
    process.stderr.write(`== check ${name}\n`)
    const started = Date.now()
    const line = { check: name }
    try {
      line.observed = await within(fn.call(this), CHECK_TIMEOUT_MS)
    } catch (e) {
      if (e instanceof Skip) {
        line.skip = e.message
      } else {
        line.error = errName(e)
        line.detail = String(e && e.message ? e.message : e)
        process.stderr.write(`${e && e.stack}\n`)
      }
    }
    process.stdout.write(JSON.stringify(line) + '\n')
    process.stderr.write(`== ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  }

  relative (ms) {
    const t = Number(ms)
    if (t < this.produceStart) return 'before_produce'
    if (t > this.produceEnd + 1) return 'after_produce'
    return 'during_produce'
  }

  // -- prerequisites ----------------------------------------------------------------------------

  async createTopic (topic, numPartitions) {
    // false when it already existed; a bad name throws
    return this.admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }] })
  }

  async ensureTopic () {
    if (this.topicCreated) return
    await this.createTopic(this.topic, 3)
    this.topicCreated = true
  }

  async producer (options = {}) {
    const p = this.kafka.producer(options)
    this.closers.push(() => p.disconnect())
    await p.connect()
    return p
  }

  async ensureProduced () {
    if (this.produced) return
    await this.ensureTopic()
    const p = await this.producer()
    const placed = []
    this.produceStart = Date.now()
    // One key per send: kafkajs answers a send with each partition's base offset, so one record
    // a send gives each key its own offset.
    for (let i = 0; i < KEYED_RECORDS; i++) {
      const [meta] = await p.send({ topic: this.topic, messages: [{ key: `k${i}`, value: `v${i}` }] })
      placed.push([`k${i}`, { partition: meta.partition, offset: Number(meta.baseOffset) }])
    }
    this.produceEnd = Date.now()
    this.produced = placed
  }

  // readBack: a group consumer (a throwaway group unless one is given) from the beginning
  // (where the group has no commit) until `want` messages came.
  async readBack (topic, want, groupId = `${this.prefix}-read-${++this.reads}`) {
    const consumer = this.kafka.consumer({ groupId })
    this.closers.push(() => consumer.disconnect())
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const got = []
    await new Promise((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, message })
          if (got.length >= want) resolve()
        },
      }).catch(reject)
    })
    await consumer.disconnect()
    return got
  }

  static headerPairs (headers) {
    const pairs = []
    for (const [k, v] of Object.entries(headers || {})) {
      for (const one of Array.isArray(v) ? v : [v]) pairs.push([k, one === null ? null : one.toString()])
    }
    return pairs
  }

  // -- metadata ---------------------------------------------------------------------------------

  async metadataTopics () {
    let create = 'ok'
    try {
      const made = await this.createTopic(this.topic, 3)
      if (!made) create = 'TOPIC_ALREADY_EXISTS'
      this.topicCreated = true
    } catch (e) {
      create = errName(e)
    }
    const names = (await this.admin.listTopics()).filter(n => n.startsWith(this.prefix))
    const { topics } = await this.admin.fetchTopicMetadata({ topics: names })
    const listed = sortedObject(topics.map(t => [t.name, {
      partitions: t.partitions.length,
      replication_factor: t.partitions.length ? t.partitions[0].replicas.length : null,
    }]))
    return { create, topics: listed }
  }

  // kafkajs' describeCluster reads Metadata (it has no DescribeCluster request); counts differ
  // on purpose (one real broker, three in the playground), so only their shape is observed.
  async metadataCluster () {
    const { brokers, controller, clusterId } = await this.admin.describeCluster()
    return { brokers_listed: brokers.length > 0,
      controller_is_a_broker: brokers.some(b => b.nodeId === controller),
      cluster_id_present: Boolean(clusterId) }
  }

  async topicConfigs (topic, names) {
    const { resources } = await this.admin.describeConfigs({ includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }] })
    const [res] = resources
    if (res.errorCode) return { error: codeName(res.errorCode) }
    return sortedObject(res.configEntries.map(c => [c.configName,
      { value: c.configValue, source: CONFIG_SOURCES[c.configSource] || String(c.configSource) }]))
  }

  // The config once it shows `want`, or as it is after 10 s: Kafka applies a change through its
  // controller's metadata log, so a describe right after the alter may still show the old value
  // on a loaded machine.
  async settledConfig (topic, name, want) {
    const deadline = Date.now() + 10000
    for (;;) {
      const seen = await this.topicConfigs(topic, [name])
      if ((seen[name] || {}).value === want || Date.now() > deadline) return seen
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }

  async describeConfigs () {
    await this.ensureTopic()
    return this.topicConfigs(this.topic, ['cleanup.policy', 'max.message.bytes', 'retention.ms',
      'min.insync.replicas', 'message.timestamp.type', 'segment.bytes', 'compression.type'])
  }

  // -- produce and fetch ------------------------------------------------------------------------

  async produceKeys () {
    await this.ensureProduced()
    return { partitioner: DEFAULT_PARTITIONER, partitions: 3, records: sortedObject([...this.produced]) }
  }

  async fetchAll () {
    await this.ensureProduced()
    const got = await this.readBack(this.topic, KEYED_RECORDS)
    const stamps = {}
    const records = got.map(({ partition, message }) => {
      const rel = this.relative(message.timestamp)
      stamps[rel] = (stamps[rel] || 0) + 1
      return { partition, offset: Number(message.offset), key: message.key && message.key.toString(),
        value: message.value && message.value.toString(), headers: Runner.headerPairs(message.headers) }
    }).sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    return { records, timestamps: stamps }
  }

  // kafkajs sends one header per value of an array.
  async headersDuplicate () {
    const topic = `${this.prefix}-h`
    await this.createTopic(topic, 1)
    const p = await this.producer()
    await p.send({ topic, messages: [{ key: 'k', value: 'v', headers: { h: ['1', '2'] } }] })
    const [{ message }] = await this.readBack(topic, 1)
    return { sent: [['h', '1'], ['h', '2']], received: Runner.headerPairs(message.headers) }
  }

  // -- list offsets -----------------------------------------------------------------------------

  async listOffsetsEarliestLatest () {
    await this.ensureProduced()
    const offsets = await this.admin.fetchTopicOffsets(this.topic)
    return {
      earliest: sortedObject(offsets.map(o => [String(o.partition), Number(o.low)])),
      latest: sortedObject(offsets.map(o => [String(o.partition), Number(o.high)])),
    }
  }

  // fetchTopicOffsetsByTimestamp answers "no record that recent" with the high watermark.
  async listOffsetsByTime () {
    await this.ensureProduced()
    const at = async ts => sortedObject((await this.admin.fetchTopicOffsetsByTimestamp(this.topic, ts))
      .map(o => [String(o.partition), Number(o.offset)]))
    return { before_first: await at(this.produceStart - 60000), after_last: await at(this.produceEnd + 3600000) }
  }

  // -- groups -----------------------------------------------------------------------------------

  async committed (groupId, topic) {
    // As kafkajs returns them: -1 where nothing is committed.
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] })
    return sortedObject(entry.partitions.map(p => [String(p.partition), Number(p.offset)]))
  }

  // A group consumer (kafkajs' default RoundRobin assigner), committing by hand once it read
  // every keyed record; it stays in the group until group.reset_earliest.
  async ensureGroupMember () {
    if (this.groupConsumed) return
    await this.ensureProduced()
    const consumer = this.kafka.consumer({ groupId: this.group })
    this.member = consumer
    this.closers.push(() => consumer.disconnect())
    await consumer.connect()
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true })
    const last = {}
    this.memberRead = 0
    await new Promise((resolve, reject) => {
      consumer.run({
        autoCommit: false, // the check commits, then reads the commit back
        eachMessage: async ({ partition, message }) => {
          last[partition] = Number(message.offset)
          if (++this.memberRead === KEYED_RECORDS) resolve()
        },
      }).catch(reject)
    })
    try {
      await consumer.commitOffsets(Object.entries(last).map(([partition, offset]) =>
        ({ topic: this.topic, partition: Number(partition), offset: String(offset + 1) })))
      this.memberCommit = 'ok'
    } catch (e) {
      this.memberCommit = errName(e)
    }
    this.groupConsumed = true
  }

  async leaveGroup () {
    if (this.member) {
      await this.member.disconnect() // stops the consumer and sends LeaveGroup
      this.member = null
    }
  }

  async groupConsumeCommit () {
    await this.ensureGroupMember()
    return { read: this.memberRead, commit: this.memberCommit,
      committed: await this.committed(this.group, this.topic) }
  }

  async describe (groupId) {
    const { groups } = await this.admin.describeGroups([groupId])
    const [g] = groups
    const assigned = g.members.map(m => {
      if (!m.memberAssignment || !m.memberAssignment.length) return 0
      const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      return decoded ? Object.values(decoded.assignment).reduce((n, ps) => n + ps.length, 0) : 0
    }).sort((a, b) => a - b)
    return { state: g.state, protocol_type: g.protocolType, assignor: g.protocol,
      members: g.members.length, assigned_partitions: assigned, error: codeName(g.errorCode) }
  }

  async groupDescribe () {
    await this.ensureGroupMember()
    return this.describe(this.group)
  }

  async listed (groupId) {
    const { groups } = await this.admin.listGroups()
    const g = groups.find(x => x.groupId === groupId)
    return g ? { listed: true, protocol_type: g.protocolType } : { listed: false }
  }

  async groupList () {
    await this.ensureGroupMember()
    return this.listed(this.group)
  }

  // Lag as kafkajs-based tools compute it: committed (fetchOffsets) against high watermarks.
  async groupLag () {
    await this.ensureGroupMember()
    const committed = await this.committed(this.group, this.topic)
    const offsets = await this.admin.fetchTopicOffsets(this.topic)
    const partitions = sortedObject(offsets.map(o => {
      const c = committed[String(o.partition)]
      const known = c !== undefined && c >= 0
      return [String(o.partition), { committed: known ? c : null, end: Number(o.high),
        lag: known ? Number(o.high) - c : null }]
    }))
    return { partitions }
  }

  // admin.resetOffsets({earliest: true}): kafkajs checks that the group is empty
  // (DescribeGroups), then joins it with a consumer that seeks to the earliest offsets and
  // commits them.
  async groupResetEarliest () {
    await this.ensureGroupMember()
    await this.leaveGroup()
    let state
    try {
      state = (await this.describe(this.group)).state
    } catch (e) {
      state = errName(e)
    }
    let reset = 'ok'
    try {
      await this.admin.resetOffsets({ groupId: this.group, topic: this.topic, earliest: true })
    } catch (e) {
      reset = errName(e)
    }
    const committed = await this.committed(this.group, this.topic)
    // What the reset is for: the group's next member reads everything again.
    const again = await this.readBack(this.topic, KEYED_RECORDS, this.group).catch(e => errName(e))
    return { state_after_leave: state, reset, committed,
      read_after: Array.isArray(again) ? again.length : again }
  }

  async groupOffsetDelete () {
    throw new Skip('kafkajs 2.2.4 has no OffsetDelete (its admin can only set offsets)')
  }

  async groupDelete () {
    await this.ensureGroupMember()
    await this.leaveGroup()
    let del = 'ok'
    try {
      await this.admin.deleteGroups([this.group])
    } catch (e) {
      del = errName(e)
    }
    let after
    try {
      const d = await this.describe(this.group)
      after = { state: d.state, error: d.error, members: d.members }
    } catch (e) {
      after = { error: errName(e) }
    }
    let committed
    try {
      committed = await this.committed(this.group, this.topic)
    } catch (e) {
      committed = { error: errName(e) }
    }
    return { delete: del, list_after: await this.listed(this.group), describe_after: after,
      committed_after: committed }
  }

  // -- admin ------------------------------------------------------------------------------------

  async createPartitions () {
    const topic = `${this.prefix}-p`
    await this.createTopic(topic, 3)
    const attempt = async count => {
      try {
        await this.admin.createPartitions({ topicPartitions: [{ topic, count }] })
        return 'ok'
      } catch (e) {
        return errName(e)
      }
    }
    const grow = await attempt(5)
    // Kafka answers once its controller decided; brokers' metadata follows a moment later.
    let topics
    for (let tries = 0; tries < 100; tries++) {
      ({ topics } = await this.admin.fetchTopicMetadata({ topics: [topic] }))
      if (topics[0].partitions.length === 5) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const shrink = await attempt(2)
    return { grow_to_5: grow, partitions_after: topics[0].partitions.length, shrink_to_2: shrink }
  }

  async alterConfigs () {
    throw new Skip('kafkajs 2.2.4 has no IncrementalAlterConfigs (see admin.alter_configs_legacy)')
  }

  async alterConfigsLegacy () {
    const topic = `${this.prefix}-c`
    await this.createTopic(topic, 1)
    let alter = 'ok'
    try {
      await this.admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC,
        name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] })
    } catch (e) {
      alter = errName(e)
    }
    const seen = await this.settledConfig(topic, 'retention.ms', '7200000')
    return { alter, 'retention.ms': seen['retention.ms'] }
  }

  async deleteRecords () {
    await this.ensureProduced()
    let del = 'ok'
    try {
      await this.admin.deleteTopicRecords({ topic: this.topic, partitions: [{ partition: 0, offset: '2' }] })
    } catch (e) {
      del = errName(e)
    }
    const offsets = await this.admin.fetchTopicOffsets(this.topic)
    return { delete: del, earliest_after: Number(offsets.find(o => o.partition === 0).low) }
  }

  // -- errors -----------------------------------------------------------------------------------

  async badTopicName () {
    try {
      await this.createTopic('bad name!', 1)
      return { create: 'ok' }
    } catch (e) {
      return { create: errName(e) }
    }
  }

  // allowAutoTopicCreation defaults to true in kafkajs' producer; off here.
  async unknownTopic () {
    const topic = `${this.prefix}-missing`
    const p = await this.producer({ allowAutoTopicCreation: false })
    let produce = 'ok'
    try {
      await within(p.send({ topic, messages: [{ value: 'v' }] }), SLOW_TIMEOUT_MS)
    } catch (e) {
      produce = errName(e)
    }
    let describe = 'ok'
    try {
      await this.admin.fetchTopicMetadata({ topics: [topic] })
    } catch (e) {
      describe = errName(e)
    }
    // No time class here: kafkajs' retry schedule (5 retries from 300 ms, doubling, +-20 %)
    // ends between 7 and 11 s, across the 10 s boundary, on Kafka itself.
    return { produce, describe }
  }

  async produceOne (topic, value) {
    const p = await this.producer({ retry: { retries: 1 } })
    try {
      await within(p.send({ topic, messages: [{ value }] }), SLOW_TIMEOUT_MS)
      return 'ok'
    } catch (e) {
      return errName(e)
    } finally {
      await p.disconnect()
    }
  }

  // kafkajs has no client-side size limit: the broker judges with default settings.
  async tooLarge () {
    const topic = `${this.prefix}-big`
    await this.createTopic(topic, 1)
    const start = Date.now()
    const broker = await this.produceOne(topic, randomValue(2 << 20))
    return { default_client: broker, broker, broker_within: bucket(Date.now() - start) }
  }

  async nearLimit () {
    const topic = `${this.prefix}-big`
    await this.createTopic(topic, 1)
    const observed = {}
    for (const n of [1048588 - 200, 1048576, 1048588]) {
      observed[String(n)] = await this.produceOne(topic, randomValue(n))
    }
    return sortedObject(Object.entries(observed))
  }

  async transactional () {
    const topic = `${this.prefix}-tx`
    await this.createTopic(topic, 1)
    const observed = {}
    const start = Date.now()
    const attempt = async () => {
      const p = this.kafka.producer({ transactionalId: `${this.prefix}-txid`, idempotent: true,
        maxInFlightRequests: 1 })
      this.closers.push(() => p.disconnect())
      try {
        await p.connect()
        observed.init = 'ok'
      } catch (e) {
        observed.init = errName(e)
        return
      }
      let txn
      try {
        txn = await p.transaction()
        observed.begin = 'ok'
      } catch (e) {
        observed.begin = errName(e)
        return
      }
      try {
        await txn.send({ topic, messages: [{ value: 'v' }] })
        observed.produce = 'ok'
      } catch (e) {
        observed.produce = errName(e)
      }
      try {
        await (observed.produce === 'ok' ? txn.commit() : txn.abort())
        observed.end = 'ok'
      } catch (e) {
        observed.end = errName(e)
      }
    }
    try {
      await within(attempt(), SLOW_TIMEOUT_MS)
      observed.within = bucket(Date.now() - start)
    } catch (e) {
      observed.within = errName(e)
    }
    return sortedObject(Object.entries(observed))
  }

  async staticMember () {
    throw new Skip('kafkajs 2.2.4 has no static membership (group.instance.id)')
  }

  // idempotent: true (off by default in kafkajs): InitProducerId, then sequence numbers.
  async idempotence () {
    const topic = `${this.prefix}-i`
    await this.createTopic(topic, 1)
    const p = await this.producer({ idempotent: true, maxInFlightRequests: 1 })
    await p.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) })
    const got = await this.readBack(topic, 10)
    const offsets = got.map(g => Number(g.message.offset)).sort((a, b) => a - b)
    return { read: got.length, distinct: new Set(got.map(g => g.message.value.toString())).size,
      offsets_contiguous: offsets.every((o, i) => o === i) }
  }

  async close () {
    for (const close of this.closers.reverse()) {
      await within(Promise.resolve().then(close), 5000).catch(() => {})
    }
    await within(this.admin.disconnect(), 5000).catch(() => {})
  }
}

async function main () {
  const r = new Runner(parseArgs(process.argv.slice(2)))
  try {
    await r.admin.connect()
  } catch (e) {
    process.stderr.write(`kafkajs: cannot reach the cluster: ${e && e.stack}\n`)
    process.exit(1)
  }
  const checks = [
    ['metadata.topics', r.metadataTopics], ['metadata.cluster', r.metadataCluster],
    ['admin.describe_configs', r.describeConfigs], ['produce.keys', r.produceKeys],
    ['fetch.all', r.fetchAll], ['produce.headers_duplicate', r.headersDuplicate],
    ['list_offsets.earliest_latest', r.listOffsetsEarliestLatest],
    ['list_offsets.by_time', r.listOffsetsByTime],
    ['group.consume_commit', r.groupConsumeCommit], ['group.describe', r.groupDescribe],
    ['group.list', r.groupList], ['group.lag', r.groupLag],
    ['group.reset_earliest', r.groupResetEarliest], ['group.offset_delete', r.groupOffsetDelete],
    ['group.delete', r.groupDelete], ['admin.create_partitions', r.createPartitions],
    ['admin.alter_configs', r.alterConfigs], ['admin.alter_configs_legacy', r.alterConfigsLegacy],
    ['admin.delete_records', r.deleteRecords], ['errors.bad_topic_name', r.badTopicName],
    ['errors.unknown_topic', r.unknownTopic], ['errors.too_large', r.tooLarge],
    ['errors.near_limit', r.nearLimit], ['errors.transactional', r.transactional],
    ['group.static_member', r.staticMember], ['idempotence.basic', r.idempotence],
  ]
  // Information for the compatibility card (not compared), printed whatever --only says.
  const { version } = require('kafkajs/package.json')
  process.stdout.write(JSON.stringify({ check: 'client.version', observed: `kafkajs ${version}` }) + '\n')
  for (const [name, fn] of checks) await r.run(name, fn)
  await r.close()
  // A client stuck in a retry loop against a listener that never answers keeps timers alive:
  // the run is over, so the process ends here.
  process.exit(0)
}

main().catch(e => {
  process.stderr.write(`kafkajs: ${e && e.stack}\n`)
  process.exit(1)
})
