// The conformance checks through Java's kafka-clients (KafkaProducer, KafkaConsumer with
// group.protocol=classic, Admin): what an application sees, one JSON line per check on stdout
// (the contract: /work/helpers/CONFORMANCE.md, conformance/run.py compares the lines).
//
//   java -cp <Kafka's jars> Conformance.java --bootstrap HOST:PORT --prefix PREFIX [--only P]
//
// (or compiled once: `python -m conformance.clients.java` does that and runs it). Every topic and
// group it makes starts with PREFIX; observations write PREFIX for it, so two runs with
// different prefixes give equal JSON. Normalised: no ids (member ids become counts or sorted
// lists), no hosts or ports, timestamps as where they fall relative to the produce, durations as
// buckets ("<2s", "<10s", "timeout"), Kafka error names (Errors.forException) for exceptions.
// Logs and stack traces go to stderr. Exit 0 whatever the checks found; 2 on a bad command line.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Conformance {
    // Bounds: every wait ends, so a listener that never answers costs time, not a hang.
    static final long API_TIMEOUT_MS = 15_000;
    static final long READ_TIMEOUT_MS = 20_000;
    static final long GROUP_TIMEOUT_MS = 30_000;
    // How long a restarted static member may take to get its partitions back: well under the
    // 45 s session timeout an unsupported group.instance.id would make it wait for.
    static final long STATIC_REJOIN_MS = 12_000;
    static final int KEYS = 20;

    final String bootstrap;
    final String prefix;
    final List<String> only;
    final String topic;
    final String group;
    Admin admin;

    // Built on first use, so any single check can run alone (--only) with what it needs.
    boolean topicMade;
    List<Map<String, Object>> produced;     // produce.keys' results, in send order
    long sendStart, sendEnd;                 // wall clock around produce.keys
    List<ConsumerRecord<String, String>> fetched;
    KafkaConsumer<String, String> groupConsumer;
    int groupRecords = -1;

    Conformance(String bootstrap, String prefix, List<String> only) {
        this.bootstrap = bootstrap;
        this.prefix = prefix;
        this.only = only;
        this.topic = prefix + "-t";
        this.group = prefix + "-g";
    }

    public static void main(String[] argv) throws Exception {
        String bootstrap = null, prefix = null;
        List<String> only = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (i + 1 >= argv.length) usage("missing value after " + a);
            switch (a) {
                case "--bootstrap" -> bootstrap = argv[++i];
                case "--prefix" -> prefix = argv[++i];
                case "--only" -> only.addAll(Arrays.asList(argv[++i].split(",")));
                default -> usage("unknown argument " + a);
            }
        }
        if (bootstrap == null) usage("--bootstrap is required");
        if (prefix == null || !prefix.matches("[A-Za-z0-9._-]{1,100}")) {
            usage("--prefix must be 1-100 of [A-Za-z0-9._-], got " + prefix);
        }
        Conformance c = new Conformance(bootstrap, prefix, only);
        try {
            c.run();
        } finally {
            c.close();
        }
        System.exit(0);  // the clients' own threads are daemon or closed; this ends any straggler
    }

    static void usage(String why) {
        System.err.println("Conformance: " + why);
        System.err.println("usage: Conformance --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX]");
        System.exit(2);
    }

    interface Check { Object run() throws Exception; }

    void run() {
        admin = Admin.create(adminProps());
        check("metadata.topics", this::metadataTopics);
        check("metadata.cluster", this::metadataCluster);
        check("produce.keys", this::produceKeys);
        check("fetch.all", this::fetchAll);
        check("fetch.out_of_range", this::fetchOutOfRange);
        check("produce.headers_duplicate", this::headersDuplicate);
        check("list_offsets.earliest_latest", this::earliestLatest);
        check("list_offsets.by_time", this::byTime);
        check("list_offsets.max_timestamp", this::maxTimestamp);
        check("group.consume_commit", this::consumeCommit);
        check("group.describe", this::groupDescribe);
        check("group.list", this::groupList);
        check("group.lag", this::groupLag);
        check("group.reset_earliest", this::resetEarliest);
        check("group.offset_delete", this::offsetDelete);
        check("group.delete", this::groupDelete);
        check("group.assignors", this::assignors);
        check("group.static_member", this::staticMember);
        check("group.consumer_protocol", this::consumerProtocol);
        check("idempotence.basic", this::idempotence);
        check("admin.describe_configs", this::describeConfigs);
        check("admin.alter_configs", this::alterConfigs);
        check("admin.create_partitions", this::createPartitions);
        check("admin.delete_records", this::deleteRecords);
        check("metadata.auto_create", this::autoCreate);
        // Prefixed like every name here, still invalid: a space and "!" are not in [a-zA-Z0-9._-].
        check("errors.bad_topic_name", () -> createError(prefix + "-bad name!", 1, Map.of()));
        check("errors.topic_exists", () -> { ensureTopic(); return createError(topic, 3, Map.of()); });
        check("errors.invalid_partitions", () -> createError(prefix + "-zero", 0, Map.of()));
        check("errors.invalid_config", () -> createError(prefix + "-badcfg", 1, Map.of("retention.ms", "abc")));
        check("errors.unknown_topic", this::unknownTopic);
        check("errors.too_large", this::tooLarge);
        check("errors.too_large_edge", this::tooLargeEdge);
        check("errors.transactional", this::transactional);
    }

    void close() {
        if (groupConsumer != null) quietly(() -> close(groupConsumer, 5));
        if (admin != null) quietly(() -> admin.close(Duration.ofSeconds(5)));
    }

    // -- output ---------------------------------------------------------------------------

    void check(String name, Check body) {
        if (!only.isEmpty() && only.stream().noneMatch(name::startsWith)) return;
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("check", name);
        long t0 = System.nanoTime();
        try {
            line.put("observed", body.run());
        } catch (Throwable e) {
            Throwable root = unwrap(e);
            line.put("error", errorName(root));
            line.put("detail", norm(String.valueOf(root.getMessage())));
            root.printStackTrace();
        }
        System.err.printf("Conformance: %s took %d ms%n", name, (System.nanoTime() - t0) / 1_000_000);
        System.out.println(Json.write(line));
        System.out.flush();
    }

    static Throwable unwrap(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof CompletionException
                || (e instanceof KafkaException && !(e instanceof ApiException)))
               && e.getCause() != null && e.getCause() != e) {
            e = e.getCause();
        }
        return e;
    }

    /** Kafka's error name for a server error (MESSAGE_TOO_LARGE, ...); the class name for what
     * the client raises on its own (a TimeoutException is the client giving up, not the
     * server's REQUEST_TIMED_OUT). */
    static String errorName(Throwable e) {
        if (e instanceof TimeoutException) return "TimeoutException";
        Errors err = Errors.forException(e);
        return err == Errors.UNKNOWN_SERVER_ERROR && !(e instanceof ApiException)
            ? e.getClass().getSimpleName() : err.name();
    }

    String norm(String s) {
        return s == null ? null : s.replace(prefix, "PREFIX");
    }

    static String bucket(long ms) {
        return ms < 2_000 ? "<2s" : ms < 10_000 ? "<10s" : ">=10s";
    }

    Object outcome(Check body) {
        try {
            Object r = body.run();
            return r == null ? "ok" : r;
        } catch (Throwable e) {
            Throwable root = unwrap(e);
            System.err.println("Conformance: (expected?) " + root);
            return errorName(root);
        }
    }

    // -- clients ----------------------------------------------------------------------------

    Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) API_TIMEOUT_MS);
        return p;
    }

    KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) API_TIMEOUT_MS);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) API_TIMEOUT_MS);
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    KafkaConsumer<String, String> consumer(String groupId, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) API_TIMEOUT_MS);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        if (groupId != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    /** Closes a consumer within `seconds` (a dynamic member leaves its group; a static one
     * stays, as Kafka's default close does). */
    static void close(KafkaConsumer<String, String> c, int seconds) {
        c.close(CloseOptions.timeout(Duration.ofSeconds(seconds)));
    }

    static void quietly(Runnable r) {
        try {
            r.run();
        } catch (Throwable e) {
            System.err.println("Conformance: while closing: " + e);
        }
    }

    /** Polls `cond` until it holds or `ms` pass; whether it held. */
    static boolean waitFor(long ms, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        while (true) {
            if (cond.getAsBoolean()) return true;
            if (System.currentTimeMillis() > deadline) return false;
            Thread.sleep(100);
        }
    }

    // -- shared state, built on first use ----------------------------------------------------

    void ensureTopic() throws Exception {
        if (topicMade) return;
        get(admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all());
        topicMade = true;
    }

    void createTopic(String name, int partitions) throws Exception {
        get(admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all());
    }

    List<Map<String, Object>> ensureProduced() throws Exception {
        if (produced != null) return produced;
        ensureTopic();
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            // The first send waits for metadata: the window starts at the first send's call.
            sendStart = System.currentTimeMillis();
            for (int i = 0; i < KEYS; i++) {
                futures.add(p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
            }
            p.flush();
            sendEnd = System.currentTimeMillis();
            List<Map<String, Object>> out = new ArrayList<>();
            for (int i = 0; i < KEYS; i++) {
                RecordMetadata md = futures.get(i).get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("key", "k" + i);
                r.put("partition", md.partition());
                r.put("offset", md.offset());
                r.put("timestamp", when(md.timestamp()));
                out.add(r);
            }
            produced = out;
        }
        return produced;
    }

    /** Where a record's timestamp falls relative to the produce of produce.keys. */
    String when(long ts) {
        if (ts < 0) return "absent";
        if (ts < sendStart) return "before_send";
        if (ts > sendEnd) return "after_ack";
        return "during_send";
    }

    List<TopicPartition> partitions(String t, int n) {
        List<TopicPartition> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new TopicPartition(t, i));
        return out;
    }

    /** Reads `expected` records from the given partitions from their beginning, no group. */
    List<ConsumerRecord<String, String>> readAll(List<TopicPartition> tps, int expected) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + READ_TIMEOUT_MS;
            while (out.size() < expected && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r);
            }
        }
        out.sort((a, b) -> a.partition() != b.partition()
            ? Integer.compare(a.partition(), b.partition()) : Long.compare(a.offset(), b.offset()));
        return out;
    }

    List<ConsumerRecord<String, String>> ensureFetched() throws Exception {
        if (fetched != null) return fetched;
        ensureProduced();
        fetched = readAll(partitions(topic, 3), KEYS);
        return fetched;
    }

    static List<List<String>> headers(ConsumerRecord<String, String> r) {
        List<List<String>> out = new ArrayList<>();
        for (Header h : r.headers()) {
            out.add(Arrays.asList(h.key(), h.value() == null ? null : new String(h.value())));
        }
        return out;
    }

    Map<String, Object> offsets(Map<TopicPartition, ListOffsetsResultInfo> m) {
        Map<String, Object> out = new TreeMap<>();
        m.forEach((tp, info) -> out.put(String.valueOf(tp.partition()), info.offset()));
        return out;
    }

    Map<TopicPartition, ListOffsetsResultInfo> listOffsets(List<TopicPartition> tps, OffsetSpec spec)
            throws Exception {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        for (TopicPartition tp : tps) req.put(tp, spec);
        return get(admin.listOffsets(req).all());
    }

    // -- metadata ---------------------------------------------------------------------------

    Object metadataTopics() throws Exception {
        ensureTopic();
        Map<String, Object> out = new LinkedHashMap<>();
        List<String> listed = new ArrayList<>();
        for (String n : get(admin.listTopics().names())) if (n.startsWith(prefix)) listed.add(norm(n));
        Collections.sort(listed);
        out.put("listed", listed);
        out.put("described", describeTopic(topic));
        return out;
    }

    Map<String, Object> describeTopic(String name) throws Exception {
        TopicDescription d = get(admin.describeTopics(List.of(name)).allTopicNames()).get(name);
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("name", norm(d.name()));
        t.put("internal", d.isInternal());
        t.put("partitions", d.partitions().size());
        Set<Integer> rf = new HashSet<>();
        d.partitions().forEach(p -> rf.add(p.replicas().size()));
        t.put("replication_factors", new ArrayList<>(rf));
        boolean leaders = d.partitions().stream().allMatch(p -> p.leader() != null && p.isr().contains(p.leader()));
        t.put("leaders_in_isr", leaders);
        return t;
    }

    Object metadataCluster() throws Exception {
        DescribeClusterResult r = admin.describeCluster();
        Collection<org.apache.kafka.common.Node> nodes = get(r.nodes());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("nodes", nodes.isEmpty() ? "none" : "present");
        out.put("controller", get(r.controller()) == null ? "absent" : "present");
        String id = get(r.clusterId());
        out.put("cluster_id", id == null || id.isEmpty() ? "absent" : "present");
        return out;
    }

    Object autoCreate() throws Exception {
        // The Java producer always asks for auto-creation in its Metadata requests.
        String t = prefix + "-auto";
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            RecordMetadata md = p.send(new ProducerRecord<>(t, "k", "v")).get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("offset", md.offset());
            out.put("described", describeTopic(t));
            return out;
        }
    }

    // -- produce and fetch ------------------------------------------------------------------

    Object produceKeys() throws Exception {
        return ensureProduced();
    }

    Object fetchAll() throws Exception {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ConsumerRecord<String, String> r : ensureFetched()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("partition", r.partition());
            m.put("offset", r.offset());
            m.put("key", r.key());
            m.put("value", r.value());
            m.put("headers", headers(r));
            m.put("timestamp_type", r.timestampType().name());
            m.put("timestamp", when(r.timestamp()));
            out.add(m);
        }
        return out;
    }

    Object fetchOutOfRange() throws Exception {
        ensureProduced();
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1_000);
            long deadline = System.currentTimeMillis() + READ_TIMEOUT_MS;
            try {
                while (System.currentTimeMillis() < deadline) {
                    if (!c.poll(Duration.ofMillis(200)).isEmpty()) return "records";
                }
            } catch (Exception e) {
                return Map.of("poll", errorName(unwrap(e)));
            }
            return Map.of("poll", "nothing");
        }
    }

    Object headersDuplicate() throws Exception {
        String t = prefix + "-h";
        createTopic(t, 1);
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            ProducerRecord<String, String> rec = new ProducerRecord<>(t, "hd", "v");
            rec.headers().add("h", "1".getBytes()).add("h", "2".getBytes()).add("other", null);
            p.send(rec).get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        List<ConsumerRecord<String, String>> got = readAll(partitions(t, 1), 1);
        if (got.isEmpty()) return Map.of("records", 0);
        return Map.of("records", got.size(), "headers", headers(got.get(0)));
    }

    // -- list offsets -----------------------------------------------------------------------

    Object earliestLatest() throws Exception {
        ensureProduced();
        List<TopicPartition> tps = partitions(topic, 3);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("earliest", offsets(listOffsets(tps, OffsetSpec.earliest())));
        out.put("latest", offsets(listOffsets(tps, OffsetSpec.latest())));
        return out;
    }

    Object byTime() throws Exception {
        List<ConsumerRecord<String, String>> recs = ensureFetched();
        List<TopicPartition> tps = partitions(topic, 3);
        Map<String, Object> out = new LinkedHashMap<>();
        // A minute before the first send: every partition's first offset.
        out.put("before_first", offsets(listOffsets(tps, OffsetSpec.forTimestamp(sendStart - 60_000))));
        // A minute after the last ack: no record is that late, so offset -1 (none).
        out.put("after_last", offsets(listOffsets(tps, OffsetSpec.forTimestamp(sendEnd + 60_000))));
        // Exactly each partition's first record's own timestamp: that record, offset 0.
        Map<TopicPartition, OffsetSpec> at = new HashMap<>();
        for (ConsumerRecord<String, String> r : recs) {
            at.putIfAbsent(new TopicPartition(r.topic(), r.partition()), OffsetSpec.forTimestamp(r.timestamp()));
        }
        out.put("at_first_record", offsets(get(admin.listOffsets(at).all())));
        return out;
    }

    Object maxTimestamp() throws Exception {
        List<ConsumerRecord<String, String>> recs = ensureFetched();
        Map<Integer, Long> max = new HashMap<>();
        Map<String, Long> tsAt = new HashMap<>();
        for (ConsumerRecord<String, String> r : recs) {
            max.merge(r.partition(), r.timestamp(), Math::max);
            tsAt.put(r.partition() + "@" + r.offset(), r.timestamp());
        }
        Map<String, Object> out = new TreeMap<>();
        listOffsets(partitions(topic, 3), OffsetSpec.maxTimestamp()).forEach((tp, info) -> {
            // Ties (records in the same ms) make the offset itself vary from run to run.
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("timestamp_is_max", Long.valueOf(info.timestamp()).equals(max.get(tp.partition())));
            m.put("offset_has_it", Long.valueOf(info.timestamp()).equals(tsAt.get(tp.partition() + "@" + info.offset())));
            out.put(String.valueOf(tp.partition()), m);
        });
        return out;
    }

    // -- groups -------------------------------------------------------------------------------

    /** Polls the consumers (one thread: each poll is short, joins stay in flight between polls)
     * until `done` holds or `ms` pass. */
    static boolean pollUntil(List<KafkaConsumer<String, String>> cs, long ms, BooleanSupplier done) {
        long deadline = System.currentTimeMillis() + ms;
        while (System.currentTimeMillis() < deadline) {
            for (KafkaConsumer<String, String> c : cs) c.poll(Duration.ofMillis(50));
            if (done.getAsBoolean()) return true;
        }
        return false;
    }

    int ensureGroupConsumed() throws Exception {
        if (groupRecords >= 0) return groupRecords;
        ensureProduced();
        groupConsumer = consumer(group, Map.of(ConsumerConfig.CLIENT_ID_CONFIG, prefix + "-member"));
        groupConsumer.subscribe(List.of(topic));
        int n = 0;
        long deadline = System.currentTimeMillis() + GROUP_TIMEOUT_MS;
        while (n < KEYS && System.currentTimeMillis() < deadline) {
            n += groupConsumer.poll(Duration.ofMillis(200)).count();
        }
        groupConsumer.commitSync(Duration.ofMillis(API_TIMEOUT_MS));
        groupRecords = n;
        return n;
    }

    Map<String, Object> committed(String g) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m =
            get(admin.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata());
        Map<String, Object> out = new TreeMap<>();
        m.forEach((tp, om) -> out.put(norm(tp.topic()) + "-" + tp.partition(), om == null ? null : om.offset()));
        return out;
    }

    Object consumeCommit() throws Exception {
        int n = ensureGroupConsumed();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("records", n);
        Map<String, Object> committed = new TreeMap<>();
        groupConsumer.committed(new HashSet<>(partitions(topic, 3)), Duration.ofMillis(API_TIMEOUT_MS))
            .forEach((tp, om) -> committed.put(String.valueOf(tp.partition()), om == null ? null : om.offset()));
        out.put("committed", committed);
        out.put("assigned", groupConsumer.assignment().size());
        return out;
    }

    Map<String, Object> describeGroup(String g) throws Exception {
        ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(g)).describedGroups().get(g));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("state", d.groupState().name());
        out.put("type", d.type().name());
        out.put("simple", d.isSimpleConsumerGroup());
        out.put("assignor", d.partitionAssignor());
        out.put("members", d.members().size());
        List<Integer> sizes = new ArrayList<>();
        List<String> clients = new ArrayList<>();
        for (MemberDescription m : d.members()) {
            sizes.add(m.assignment().topicPartitions().size());
            clients.add(norm(m.clientId()) + (m.groupInstanceId().isPresent() ? " static" : ""));
        }
        Collections.sort(sizes);
        Collections.sort(clients);
        out.put("assigned_counts", sizes);
        out.put("client_ids", clients);
        out.put("coordinator", d.coordinator() == null ? "absent" : "present");
        return out;
    }

    Object groupDescribe() throws Exception {
        ensureGroupConsumed();
        return describeGroup(group);
    }

    Object groupList() throws Exception {
        ensureGroupConsumed();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("all", listing(admin.listGroups().all()));
        out.put("consumer_groups", outcome(() -> listing(admin.listGroups(ListGroupsOptions.forConsumerGroups()).all())));
        return out;
    }

    Object listing(KafkaFuture<Collection<GroupListing>> f) throws Exception {
        for (GroupListing l : get(f)) {
            if (!l.groupId().equals(group)) continue;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("listed", true);
            m.put("type", l.type().map(Enum::name).orElse(null));
            m.put("protocol", l.protocol());
            m.put("state", l.groupState().map(Enum::name).orElse(null));
            return m;
        }
        return Map.of("listed", false);
    }

    Object groupLag() throws Exception {
        ensureGroupConsumed();
        Map<TopicPartition, OffsetAndMetadata> c = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
        Map<TopicPartition, ListOffsetsResultInfo> end = listOffsets(partitions(topic, 3), OffsetSpec.latest());
        Map<String, Object> out = new TreeMap<>();
        for (TopicPartition tp : partitions(topic, 3)) {
            OffsetAndMetadata om = c.get(tp);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("committed", om == null ? null : om.offset());
            m.put("end", end.get(tp).offset());
            m.put("lag", om == null ? null : end.get(tp).offset() - om.offset());
            out.put(String.valueOf(tp.partition()), m);
        }
        return out;
    }

    Object resetEarliest() throws Exception {
        ensureGroupConsumed();
        // The member leaves first (a dynamic member sends LeaveGroup on close): Kafka refuses
        // to alter the offsets of a group with active members.
        close(groupConsumer, 10);
        groupConsumer = null;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("after_leave", describeGroupOrError(group));
        Map<TopicPartition, OffsetAndMetadata> to = new HashMap<>();
        listOffsets(partitions(topic, 3), OffsetSpec.earliest())
            .forEach((tp, info) -> to.put(tp, new OffsetAndMetadata(info.offset())));
        get(admin.alterConsumerGroupOffsets(group, to).all());
        out.put("committed", committed(group));
        // What the reset is for: the group's next member reads everything again.
        try (KafkaConsumer<String, String> c = consumer(group, Map.of())) {
            c.subscribe(List.of(topic));
            int n = 0;
            long deadline = System.currentTimeMillis() + GROUP_TIMEOUT_MS;
            while (n < KEYS && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
            out.put("reread", n);
        }
        return out;
    }

    Object describeGroupOrError(String g) {
        return outcome(() -> {
            Map<String, Object> d = describeGroup(g);
            return Map.of("state", d.get("state"), "members", d.get("members"));
        });
    }

    Object offsetDelete() throws Exception {
        ensureGroupConsumed();
        if (groupConsumer != null) {  // run alone (--only): the member leaves first, as above
            close(groupConsumer, 10);
            groupConsumer = null;
        }
        get(admin.deleteConsumerGroupOffsets(group, Set.of(new TopicPartition(topic, 0))).all());
        return Map.of("committed_after", committed(group));
    }

    Object groupDelete() throws Exception {
        ensureGroupConsumed();
        if (groupConsumer != null) {
            close(groupConsumer, 10);
            groupConsumer = null;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("delete", outcome(() -> { get(admin.deleteConsumerGroups(List.of(group)).all()); return null; }));
        out.put("listed_after", ((Map<?, ?>) listing(admin.listGroups().all())).get("listed"));
        out.put("describe_after", describeGroupOrError(group));
        out.put("delete_again", outcome(() -> { get(admin.deleteConsumerGroups(List.of(group)).all()); return null; }));
        return out;
    }

    static final Map<String, String> ASSIGNORS = new LinkedHashMap<>();
    static {
        ASSIGNORS.put("range", "org.apache.kafka.clients.consumer.RangeAssignor");
        ASSIGNORS.put("roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor");
        ASSIGNORS.put("sticky", "org.apache.kafka.clients.consumer.StickyAssignor");
        ASSIGNORS.put("cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
    }

    Object assignors() throws Exception {
        ensureTopic();
        // Two members per assignor, all groups at once (each first rebalance waits
        // group.initial.rebalance.delay.ms; in parallel that is paid once).
        Map<String, List<KafkaConsumer<String, String>>> groups = new LinkedHashMap<>();
        List<KafkaConsumer<String, String>> all = new ArrayList<>();
        try {
            for (Map.Entry<String, String> a : ASSIGNORS.entrySet()) {
                List<KafkaConsumer<String, String>> members = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    KafkaConsumer<String, String> c = consumer(prefix + "-ga-" + a.getKey(),
                        Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, a.getValue()));
                    c.subscribe(List.of(topic));
                    members.add(c);
                    all.add(c);
                }
                groups.put(a.getKey(), members);
            }
            boolean settled = pollUntil(all, GROUP_TIMEOUT_MS, () -> groups.values().stream().allMatch(ms ->
                ms.stream().allMatch(c -> !c.assignment().isEmpty())
                && ms.stream().mapToInt(c -> c.assignment().size()).sum() == 3));
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, List<KafkaConsumer<String, String>>> g : groups.entrySet()) {
                List<List<Integer>> parts = new ArrayList<>();
                for (KafkaConsumer<String, String> c : g.getValue()) {
                    List<Integer> ps = new ArrayList<>();
                    c.assignment().forEach(tp -> ps.add(tp.partition()));
                    Collections.sort(ps);
                    parts.add(ps);
                }
                parts.sort((x, y) -> x.toString().compareTo(y.toString()));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("settled", settled);
                m.put("partitions", parts);
                m.put("described_assignor", outcome(() -> describeGroup(prefix + "-ga-" + g.getKey()).get("assignor")));
                out.put(g.getKey(), m);
            }
            return out;
        } finally {
            for (KafkaConsumer<String, String> c : all) quietly(() -> close(c, 5));
        }
    }

    static class Counting implements ConsumerRebalanceListener {
        int revoked, assigned, lost;
        public void onPartitionsRevoked(Collection<TopicPartition> ps) { if (!ps.isEmpty()) revoked++; }
        public void onPartitionsAssigned(Collection<TopicPartition> ps) { assigned++; }
        public void onPartitionsLost(Collection<TopicPartition> ps) { lost++; }
    }

    Object staticMember() throws Exception {
        ensureTopic();
        String g = prefix + "-gs";
        KafkaConsumer<String, String> a = consumer(g, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, prefix + "-a"));
        KafkaConsumer<String, String> b = consumer(g, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, prefix + "-b"));
        KafkaConsumer<String, String> a2 = null;
        try {
            Counting bl = new Counting();
            a.subscribe(List.of(topic));
            b.subscribe(List.of(topic), bl);
            Map<String, Object> out = new LinkedHashMap<>();
            boolean joined = pollUntil(List.of(a, b), GROUP_TIMEOUT_MS, () ->
                !a.assignment().isEmpty() && !b.assignment().isEmpty()
                && a.assignment().size() + b.assignment().size() == 3);
            out.put("both_assigned", joined);
            if (!joined) return out;
            Set<TopicPartition> aHad = new HashSet<>(a.assignment());
            Set<TopicPartition> bHad = new HashSet<>(b.assignment());
            int bGeneration = b.groupMetadata().generationId();
            int bCallbacks = bl.assigned + bl.revoked + bl.lost;
            // A static member's close does not leave the group: its partitions wait for it.
            close(a, 5);
            out.put("after_close", describeGroupOrError(g));
            long t0 = System.currentTimeMillis();
            KafkaConsumer<String, String> restarted = consumer(g, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, prefix + "-a"));
            a2 = restarted;
            restarted.subscribe(List.of(topic));
            boolean back = pollUntil(List.of(restarted, b), STATIC_REJOIN_MS, () -> !restarted.assignment().isEmpty());
            long took = System.currentTimeMillis() - t0;
            // Let b see a rebalance, if one was started, before judging it.
            pollUntil(List.of(restarted, b), 1_000, () -> false);
            // In time or not: how long within the bound depends on the machine's load.
            System.err.printf("Conformance: the restarted static member got partitions: %s after %d ms%n", back, took);
            out.put("restarted_assigned", back ? "in_time" : "timeout");
            out.put("restarted_same_partitions", restarted.assignment().equals(aHad));
            out.put("others_kept_partitions", b.assignment().equals(bHad));
            out.put("others_rebalanced", bl.assigned + bl.revoked + bl.lost != bCallbacks);
            out.put("generation_same", b.groupMetadata().generationId() == bGeneration);
            out.put("described", describeGroupOrError(g));
            return out;
        } finally {
            quietly(() -> close(a, 2));
            quietly(() -> close(b, 2));
            KafkaConsumer<String, String> last = a2;
            if (last != null) quietly(() -> close(last, 2));
        }
    }

    Object consumerProtocol() throws Exception {
        // KIP-848's protocol (ConsumerGroupHeartbeat): Kafka 4 serves it; the playground is to
        // refuse it at once with a clear error until it models it.
        ensureProduced();
        long t0 = System.currentTimeMillis();
        try (KafkaConsumer<String, String> c = consumer(prefix + "-g848", Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer"))) {
            c.subscribe(List.of(topic));
            int n = 0;
            long deadline = t0 + GROUP_TIMEOUT_MS;
            try {
                while (n < KEYS && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
            } catch (Exception e) {
                return Map.of("error", errorName(unwrap(e)), "within", bucket(System.currentTimeMillis() - t0));
            }
            return n < KEYS ? Map.of("records", n, "within", "timeout") : Map.of("records", n);
        }
    }

    // -- idempotence --------------------------------------------------------------------------

    Object idempotence() throws Exception {
        String t = prefix + "-i";
        createTopic(t, 1);
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.ACKS_CONFIG, "all"))) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 10; i++) fs.add(p.send(new ProducerRecord<>(t, "k", "v" + i)));
            p.flush();
            for (Future<RecordMetadata> f : fs) f.get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        List<ConsumerRecord<String, String>> got = readAll(partitions(t, 1), 10);
        List<Long> offsets = new ArrayList<>();
        Set<String> values = new HashSet<>();
        got.forEach(r -> { offsets.add(r.offset()); values.add(r.value()); });
        return Map.of("records", got.size(), "offsets", offsets, "distinct_values", values.size());
    }

    // -- admin ----------------------------------------------------------------------------------

    static final List<String> TOPIC_CONFIGS = List.of("cleanup.policy", "max.message.bytes",
        "message.timestamp.type", "min.insync.replicas", "retention.bytes", "retention.ms");

    Map<String, Object> topicConfigs(String t, List<String> names) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
        Config cfg = get(admin.describeConfigs(List.of(res)).all()).get(res);
        Map<String, Object> out = new TreeMap<>();
        for (String n : names) {
            ConfigEntry e = cfg.get(n);
            // Where a value comes from, as an application can act on it: set on this topic, or
            // not (Kafka's defaults and the broker's own settings alike; a fresh Kafka 4 node
            // has min.insync.replicas as a dynamic cluster default, the playground a default).
            String from = e == null ? null
                : e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG ? "topic" : "default";
            out.put(n, e == null ? null : Arrays.asList(e.value(), from));
        }
        return out;
    }

    Object describeConfigs() throws Exception {
        ensureTopic();
        return topicConfigs(topic, TOPIC_CONFIGS);
    }

    Object alterConfigs() throws Exception {
        ensureTopic();
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Map<String, Object> out = new LinkedHashMap<>();
        get(admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
            new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET)))).all());
        // Kafka applies config changes through its metadata log: read until it shows.
        waitFor(5_000, () -> "3600000".equals(quietConfig(res, "retention.ms")));
        out.put("after_set", topicConfigs(topic, List.of("retention.ms")));
        get(admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
            new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all());
        waitFor(5_000, () -> !"3600000".equals(quietConfig(res, "retention.ms")));
        out.put("after_delete", topicConfigs(topic, List.of("retention.ms")));
        out.put("set_invalid", outcome(() -> { get(admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
            new ConfigEntry("retention.ms", "abc"), AlterConfigOp.OpType.SET)))).all()); return null; }));
        out.put("set_unknown", outcome(() -> { get(admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
            new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all()); return null; }));
        ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, prefix + "-missing");
        out.put("missing_topic", outcome(() -> { get(admin.incrementalAlterConfigs(Map.of(missing, List.of(new AlterConfigOp(
            new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET)))).all()); return null; }));
        return out;
    }

    String quietConfig(ConfigResource res, String name) {
        try {
            ConfigEntry e = get(admin.describeConfigs(List.of(res)).all()).get(res).get(name);
            return e == null ? null : e.value();
        } catch (Exception e) {
            return null;
        }
    }

    Object createPartitions() throws Exception {
        ensureTopic();
        Map<String, Object> out = new LinkedHashMap<>();
        get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all());
        waitFor(5_000, () -> { try { return (int) describeTopic(topic).get("partitions") == 5; } catch (Exception e) { return false; } });
        out.put("described", describeTopic(topic));
        out.put("decrease", outcome(() -> { get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all()); return null; }));
        out.put("same", outcome(() -> { get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all()); return null; }));
        out.put("missing_topic", outcome(() -> { get(admin.createPartitions(Map.of(prefix + "-missing", NewPartitions.increaseTo(5))).all()); return null; }));
        return out;
    }

    Object deleteRecords() throws Exception {
        ensureProduced();
        TopicPartition p0 = new TopicPartition(topic, 0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("low_watermark", get(admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(2))).lowWatermarks().get(p0)).lowWatermark());
        out.put("earliest_after", listOffsets(List.of(p0), OffsetSpec.earliest()).get(p0).offset());
        List<ConsumerRecord<String, String>> rest = readAll(List.of(p0), 1);
        out.put("first_readable", rest.isEmpty() ? null : rest.get(0).offset());
        out.put("beyond_end", outcome(() -> get(admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(1_000))).lowWatermarks().get(p0)).lowWatermark()));
        return out;
    }

    // -- errors ---------------------------------------------------------------------------------

    Object createError(String name, int partitions, Map<String, String> configs) {
        return outcome(() -> {
            NewTopic t = new NewTopic(name, partitions, (short) 1).configs(configs);
            get(admin.createTopics(List.of(t)).all());
            return "created";
        });
    }

    Object unknownTopic() throws Exception {
        String t = prefix + "-missing";
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("describe", outcome(() -> describeTopic(t)));
        out.put("list_offsets", outcome(() -> listOffsets(List.of(new TopicPartition(t, 0)), OffsetSpec.latest())));
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false))) {
            out.put("consumer_partitions_for", outcome(() -> c.partitionsFor(t, Duration.ofSeconds(5)).size()));
        }
        out.put("created_after", get(admin.listTopics().names()).contains(t));
        return out;
    }

    String sendValue(String t, int size, Map<String, Object> extra) {
        char[] v = new char[size];
        Arrays.fill(v, 'x');
        try (KafkaProducer<String, String> p = producer(extra)) {
            long t0 = System.currentTimeMillis();
            try {
                p.send(new ProducerRecord<>(t, null, new String(v))).get(API_TIMEOUT_MS + 5_000, TimeUnit.MILLISECONDS);
                return "ok";
            } catch (Exception e) {
                String name = errorName(unwrap(e));
                System.err.printf("Conformance: %d-byte value: %s after %d ms%n", size, name, System.currentTimeMillis() - t0);
                return name;
            }
        }
    }

    Object tooLarge() throws Exception {
        String t = prefix + "-big";
        createTopic(t, 1);
        Map<String, Object> out = new LinkedHashMap<>();
        // The producer's own max.request.size (1 MiB) refuses it before sending ...
        out.put("client_default", sendValue(t, 2 << 20, Map.of()));
        // ... raised, the broker judges it against max.message.bytes (1048588 by default).
        out.put("broker", sendValue(t, 2 << 20, Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 << 20)));
        return out;
    }

    Object tooLargeEdge() throws Exception {
        // Kafka counts the whole batch against max.message.bytes (1048588): one record with a
        // null key and no headers is a batch of value + 72 bytes (61 of batch header, 11 of
        // record framing for a value of this size), so 1048516 fits and 1048517 does not.
        String t = prefix + "-edge";
        createTopic(t, 1);
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> extra = Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 << 20,
            ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        out.put("1048516", sendValue(t, 1048516, extra));
        out.put("1048517", sendValue(t, 1048517, extra));
        return out;
    }

    Object transactional() throws Exception {
        ensureTopic();
        Map<String, Object> out = new LinkedHashMap<>();
        long t0 = System.currentTimeMillis();
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, prefix + "-tx"))) {
            try {
                p.initTransactions();
                out.put("init", "ok");
            } catch (Exception e) {
                out.put("init", errorName(unwrap(e)));
            }
            long took = System.currentTimeMillis() - t0;
            // How soon a refusal surfaces (at once, or after the client's retries); a success's
            // time says only how loaded the machine is, so it is left out.
            if (!"ok".equals(out.get("init"))) {
                out.put("init_within", "TimeoutException".equals(out.get("init")) ? "timeout" : bucket(took));
            } else {
                out.put("commit", outcome(() -> {
                    p.beginTransaction();
                    p.send(new ProducerRecord<>(prefix + "-tx-t", "k", "v"));
                    p.commitTransaction();
                    return null;
                }));
            }
        }
        return out;
    }

    // -- JSON -------------------------------------------------------------------------------

    static final class Json {
        static String write(Object o) {
            StringBuilder sb = new StringBuilder();
            write(sb, o);
            return sb.toString();
        }

        static void write(StringBuilder sb, Object o) {
            if (o == null) {
                sb.append("null");
            } else if (o instanceof String s) {
                string(sb, s);
            } else if (o instanceof Number || o instanceof Boolean) {
                sb.append(o);
            } else if (o instanceof Optional<?> opt) {
                write(sb, opt.orElse(null));
            } else if (o instanceof Map<?, ?> m) {
                sb.append('{');
                boolean first = true;
                // Map.of has no order: sort those; LinkedHashMap/TreeMap keep theirs.
                Collection<? extends Map.Entry<?, ?>> entries = m instanceof LinkedHashMap || m instanceof TreeMap
                    ? m.entrySet() : new TreeMap<>(m).entrySet();
                for (Map.Entry<?, ?> e : entries) {
                    if (!first) sb.append(", ");
                    first = false;
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(": ");
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (o instanceof Collection<?> c) {
                sb.append('[');
                boolean first = true;
                for (Object x : c) {
                    if (!first) sb.append(", ");
                    first = false;
                    write(sb, x);
                }
                sb.append(']');
            } else {
                string(sb, o.toString());
            }
        }

        static void string(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                switch (ch) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
                        else sb.append(ch);
                    }
                }
            }
            sb.append('"');
        }
    }
}
