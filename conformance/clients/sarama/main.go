// The conformance program for IBM/sarama (its producers, consumers, consumer groups and
// ClusterAdmin).
//
//	sarama --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX[,CHECK_PREFIX...]]
//
// Same contract as conformance/clients/franz (see its header): one JSON line per check on
// stdout, observations normalised (no ids, hosts, ports or clock values; Kafka's error names),
// sarama's log on stderr (with CONFORMANCE_DEBUG=1), exit 0 whenever the program could run.
//
// Settings are sarama's defaults (NewConfig) except where an application must set one to do
// the check at all (Producer.Return.Successes for a SyncProducer, Consumer.Offsets.Initial =
// oldest to read what was written before the group existed, Metadata.AllowAutoTopicCreation
// off for errors.unknown_topic, ...); each such line says why. sarama's default protocol
// version is 2.8 (sarama.DefaultVersion), which gives ClusterAdmin every API used here.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	keyedRecords = 20
	// How long one check may wait for the cluster (real Kafka answers each in well under it).
	checkTimeout = 20 * time.Second
	// errors.transactional, errors.unknown_topic and group.static_member time their outcome.
	slowTimeout = 15 * time.Second
)

// sarama's default partitioner (Config.Producer.Partitioner = NewHashPartitioner): FNV-1a
// 32-bit of the key, as a signed int32 modulo the partition count, negated when negative; a
// record without a key goes to a random partition. It is NOT Java's murmur2.
const defaultPartitioner = "sarama.NewHashPartitioner (FNV-1a 32-bit, int32 %, abs)"

type skipError struct{ why string }

func (s skipError) Error() string { return s.why }

type runner struct {
	addrs  []string
	prefix string
	only   []string
	out    *json.Encoder

	client sarama.Client
	admin  sarama.ClusterAdmin

	topicCreated bool
	produced     []*sarama.ProducerMessage
	produceStart time.Time
	produceEnd   time.Time

	member        *groupMember // the group consumer of group.consume_commit, until the reset
	groupConsumed bool
}

func main() {
	bootstrap := flag.String("bootstrap", "", "HOST:PORT of one broker")
	prefix := flag.String("prefix", "", "every topic and group this run creates starts with it")
	only := flag.String("only", "", "run only the checks whose name starts with this "+
		"(or with one of these, comma-separated)")
	flag.Parse()
	if *bootstrap == "" || *prefix == "" {
		fmt.Fprintln(os.Stderr, "usage: sarama --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX]")
		os.Exit(2)
	}
	if os.Getenv("CONFORMANCE_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
	r := &runner{addrs: []string{*bootstrap}, prefix: *prefix, only: strings.Split(*only, ",")}
	r.out = json.NewEncoder(os.Stdout)
	r.out.SetEscapeHTML(false)
	var err error
	if r.client, err = sarama.NewClient(r.addrs, r.config()); err != nil {
		fmt.Fprintln(os.Stderr, "sarama: cannot reach the cluster:", err)
		os.Exit(1)
	}
	if r.admin, err = sarama.NewClusterAdminFromClient(r.client); err != nil {
		fmt.Fprintln(os.Stderr, "sarama: cannot create the admin client:", err)
		os.Exit(1)
	}
	defer r.close()

	r.clientVersion()
	r.run("metadata.topics", r.metadataTopics)
	r.run("metadata.cluster", r.metadataCluster)
	r.run("admin.describe_configs", r.describeConfigs)
	r.run("produce.keys", r.produceKeys)
	r.run("fetch.all", r.fetchAll)
	r.run("produce.headers_duplicate", r.headersDuplicate)
	r.run("list_offsets.earliest_latest", r.listOffsetsEarliestLatest)
	r.run("list_offsets.by_time", r.listOffsetsByTime)
	r.run("group.consume_commit", r.groupConsumeCommit)
	r.run("group.describe", r.groupDescribe)
	r.run("group.list", r.groupList)
	r.run("group.lag", r.groupLag)
	r.run("group.reset_earliest", r.groupResetEarliest)
	r.run("group.offset_delete", r.groupOffsetDelete)
	r.run("group.delete", r.groupDelete)
	r.run("admin.create_partitions", r.createPartitions)
	r.run("admin.alter_configs", r.alterConfigs)
	r.run("admin.alter_configs_legacy", r.alterConfigsLegacy)
	r.run("admin.delete_records", r.deleteRecords)
	r.run("errors.bad_topic_name", r.badTopicName)
	r.run("errors.unknown_topic", r.unknownTopic)
	r.run("errors.too_large", r.tooLarge)
	r.run("errors.near_limit", r.nearLimit)
	r.run("errors.transactional", r.transactional)
	r.run("group.static_member", r.staticMember)
	r.run("idempotence.basic", r.idempotence)
	// Older protocol versions, as applications pinned to an old Config.Version send them.
	r.run("versions.sarama_1_0", func(ctx context.Context) (any, error) { return r.oldVersion(ctx, sarama.V1_0_0_0, "v1_0") })
	r.run("versions.sarama_0_10_2", func(ctx context.Context) (any, error) { return r.oldVersion(ctx, sarama.V0_10_2_0, "v0_10_2") })
}

// config: sarama's defaults, a client id, and a SyncProducer's one requirement.
func (r *runner) config() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "conformance-sarama"
	c.Producer.Return.Successes = true // a SyncProducer needs it
	return c
}

// idempotentConfig: config() with what sarama requires of an idempotent producer (it refuses
// the config otherwise).
func (r *runner) idempotentConfig() *sarama.Config {
	cfg := r.config()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	return cfg
}

func (r *runner) close() {
	if r.member != nil {
		r.member.close()
	}
	_ = r.admin.Close() // closes r.client too
}

func (r *runner) topic() string { return r.prefix + "-t" }
func (r *runner) group() string { return r.prefix + "-g" }

func (r *runner) run(name string, fn func(context.Context) (any, error)) {
	wanted := false
	for _, prefix := range r.only {
		wanted = wanted || strings.HasPrefix(name, prefix)
	}
	if !wanted {
		return
	}
	started := time.Now()
	fmt.Fprintln(os.Stderr, "== check", name)
	defer func() { fmt.Fprintf(os.Stderr, "== %s took %.1f s\n", name, time.Since(started).Seconds()) }()
	line := map[string]any{"check": name}
	func() {
		defer func() {
			if p := recover(); p != nil {
				line["error"] = "panic"
				line["detail"] = fmt.Sprint(p)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		// Most sarama calls take no context: the check runs aside and is abandoned (reported
		// as a timeout) when it outlives its deadline.
		type result struct {
			observed any
			err      error
		}
		done := make(chan result, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- result{nil, fmt.Errorf("panic: %v", p)}
				}
			}()
			observed, err := fn(ctx)
			done <- result{observed, err}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(checkTimeout + 5*time.Second):
			res = result{nil, context.DeadlineExceeded}
		}
		var skip skipError
		switch {
		case errors.As(res.err, &skip):
			line["skip"] = skip.why
		case res.err != nil:
			line["error"] = errName(res.err)
			line["detail"] = res.err.Error()
		default:
			line["observed"] = res.observed
		}
	}()
	if err := r.out.Encode(line); err != nil {
		fmt.Fprintln(os.Stderr, "sarama: cannot write stdout:", err)
		os.Exit(1)
	}
}

// errName: Kafka's name of a sarama KError (sarama uses some KErrors for its own client-side
// refusals too, e.g. MESSAGE_TOO_LARGE before sending), "timeout", or the Go type.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var pes sarama.ProducerErrors
	if errors.As(err, &pes) && len(pes) > 0 {
		return errName(pes[0].Err)
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		if ke == sarama.ErrNoError {
			return "ok"
		}
		// Kafka's own name for the code (sarama's KError has only a sentence): franz-go's
		// kerr lists every one of org.apache.kafka.common.protocol.Errors.
		if e := kerr.TypedErrorForCode(int16(ke)); e != nil && (e.Code == int16(ke)) {
			return e.Message
		}
		return fmt.Sprintf("KError(%d)", int16(ke))
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_closed"
	case errors.Is(err, sarama.ErrOutOfBrokers):
		return "out_of_brokers"
	case errors.Is(err, sarama.ErrNotConnected), errors.Is(err, sarama.ErrClosedClient):
		return "not_connected"
	}
	var ce sarama.ConfigurationError
	if errors.As(err, &ce) {
		return "configuration_error"
	}
	return fmt.Sprintf("%T", err)
}

func bucket(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "<2s"
	case d < 10*time.Second:
		return "<10s"
	}
	return "timeout"
}

func (r *runner) relative(ts time.Time) string {
	start := r.produceStart.Truncate(time.Millisecond)
	end := r.produceEnd.Add(time.Millisecond)
	switch {
	case ts.Before(start):
		return "before_produce"
	case ts.After(end):
		return "after_produce"
	}
	return "during_produce"
}

func pkey(p int32) string { return strconv.Itoa(int(p)) }

// withTimeout runs fn aside and gives up after d (sarama's calls take no context).
func withTimeout(d time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return context.DeadlineExceeded
	}
}

// -- prerequisites ------------------------------------------------------------------------------

func (r *runner) createTopic(name string, partitions int32) error {
	err := r.admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return err
	}
	_, err = r.waitPartitions(name, int(partitions))
	return err
}

// waitPartitions polls Metadata until `topic` shows `want` partitions (at most 10 s) and returns
// the last count seen. Kafka answers CreateTopics and CreatePartitions once its controller
// decided; the brokers' metadata follows a moment later, and an application that acts at once
// may meet UNKNOWN_TOPIC_OR_PARTITION: so the checks wait as careful applications do.
func (r *runner) waitPartitions(topic string, want int) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		count, err := r.partitionCount(topic)
		if (err == nil && count == want) || time.Now().After(deadline) {
			if err == nil {
				err = r.client.RefreshMetadata(topic) // the shared client's cache too
			}
			return count, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *runner) ensureTopic() error {
	if r.topicCreated {
		return nil
	}
	if err := r.createTopic(r.topic(), 3); err != nil {
		return err
	}
	r.topicCreated = true
	return nil
}

func (r *runner) syncProducer(cfg *sarama.Config) (sarama.SyncProducer, error) {
	if cfg == nil {
		cfg = r.config()
	}
	return sarama.NewSyncProducer(r.addrs, cfg)
}

func (r *runner) ensureProduced() error {
	if r.produced != nil {
		return nil
	}
	if err := r.ensureTopic(); err != nil {
		return err
	}
	p, err := r.syncProducer(nil)
	if err != nil {
		return err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, keyedRecords)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: r.topic(), Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))}
	}
	r.produceStart = time.Now()
	// One key at a time: each offset is then fixed by the key order alone.
	for _, m := range msgs {
		if _, _, err := p.SendMessage(m); err != nil {
			return err
		}
	}
	r.produceEnd = time.Now()
	r.produced = msgs
	return nil
}

// fetchFrom reads every partition of `topic` from the oldest offset until `want` messages came.
func (r *runner) fetchFrom(ctx context.Context, topic string, want int) ([]*sarama.ConsumerMessage, error) {
	consumer, err := sarama.NewConsumer(r.addrs, r.config())
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	partitions, err := consumer.Partitions(topic)
	if err != nil {
		return nil, err
	}
	merged := make(chan *sarama.ConsumerMessage, want)
	failed := make(chan error, len(partitions))
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		defer pc.AsyncClose()
		go func() {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					merged <- m
				case e, ok := <-pc.Errors():
					if ok {
						failed <- e.Err
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var got []*sarama.ConsumerMessage
	for len(got) < want {
		select {
		case m := <-merged:
			got = append(got, m)
		case err := <-failed:
			return got, err
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
	return got, nil
}

func recordView(m *sarama.ConsumerMessage) map[string]any {
	headers := [][]string{}
	for _, h := range m.Headers {
		headers = append(headers, []string{string(h.Key), string(h.Value)})
	}
	return map[string]any{"partition": m.Partition, "offset": m.Offset, "key": string(m.Key),
		"value": string(m.Value), "headers": headers}
}

func sortRecords(rs []map[string]any) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a["partition"].(int32) != b["partition"].(int32) {
			return a["partition"].(int32) < b["partition"].(int32)
		}
		return a["offset"].(int64) < b["offset"].(int64)
	})
}

// -- metadata -----------------------------------------------------------------------------------

func (r *runner) metadataTopics(ctx context.Context) (any, error) {
	err := r.admin.CreateTopic(r.topic(), &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	r.topicCreated = err == nil
	topics, lerr := r.admin.ListTopics()
	if lerr != nil {
		return nil, lerr
	}
	listed := map[string]any{}
	for name, td := range topics {
		if strings.HasPrefix(name, r.prefix) {
			listed[name] = map[string]any{"partitions": td.NumPartitions,
				"replication_factor": td.ReplicationFactor}
		}
	}
	return map[string]any{"create": errName(err), "topics": listed}, nil
}

// metadataCluster: ClusterAdmin.DescribeCluster (the DescribeCluster API from version 2.8,
// Metadata before). Counts differ on purpose (one real broker, three in the playground).
func (r *runner) metadataCluster(ctx context.Context) (any, error) {
	brokers, controller, err := r.admin.DescribeCluster()
	if err != nil {
		return nil, err
	}
	controllerIsBroker := false
	for _, b := range brokers {
		if b.ID() == controller {
			controllerIsBroker = true
		}
	}
	return map[string]any{"brokers_listed": len(brokers) > 0, "controller_is_a_broker": controllerIsBroker}, nil
}

// Kafka's names for sarama's ConfigSource values.
var sourceNames = map[sarama.ConfigSource]string{
	sarama.SourceUnknown: "UNKNOWN", sarama.SourceTopic: "DYNAMIC_TOPIC_CONFIG",
	sarama.SourceDynamicBroker: "DYNAMIC_BROKER_CONFIG", sarama.SourceDynamicDefaultBroker: "DYNAMIC_DEFAULT_BROKER_CONFIG",
	sarama.SourceStaticBroker: "STATIC_BROKER_CONFIG", sarama.SourceDefault: "DEFAULT_CONFIG",
}

func (r *runner) topicConfigs(topic string, names ...string) (map[string]any, error) {
	entries, err := r.admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	seen := map[string]any{}
	for _, e := range entries {
		if wanted[e.Name] {
			seen[e.Name] = map[string]any{"value": e.Value, "source": sourceNames[e.Source]}
		}
	}
	return seen, nil
}

// settledConfig: topicConfigs once `name` shows `want`, or after 10 s as it is. Kafka applies a
// change through its controller's metadata log, so a describe right after the alter may still
// show the old value on a loaded machine (seen once in CI).
func (r *runner) settledConfig(topic, name, want string) (map[string]any, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen, err := r.topicConfigs(topic, name)
		if err != nil || time.Now().After(deadline) {
			return seen, err
		}
		if entry, ok := seen[name].(map[string]any); ok && entry["value"] == want {
			return seen, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *runner) describeConfigs(ctx context.Context) (any, error) {
	if err := r.ensureTopic(); err != nil {
		return nil, err
	}
	return r.topicConfigs(r.topic(), "cleanup.policy", "max.message.bytes", "retention.ms",
		"min.insync.replicas", "message.timestamp.type", "segment.bytes", "compression.type")
}

// -- produce and fetch --------------------------------------------------------------------------

// saramaPartition is sarama's default hash partitioner, for the record: the tests recompute it
// in Python (tests/clients/test_sarama.py).
func saramaPartition(key string, partitions int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	p := int32(h.Sum32()) % partitions
	if p < 0 {
		p = -p
	}
	return p
}

func (r *runner) produceKeys(ctx context.Context) (any, error) {
	if err := r.ensureProduced(); err != nil {
		return nil, err
	}
	placed := map[string]any{}
	for _, m := range r.produced {
		key, _ := m.Key.Encode()
		placed[string(key)] = map[string]any{"partition": m.Partition, "offset": m.Offset,
			"as_hash_partitioner": m.Partition == saramaPartition(string(key), 3)}
	}
	return map[string]any{"partitioner": defaultPartitioner, "partitions": 3, "records": placed}, nil
}

func (r *runner) fetchAll(ctx context.Context) (any, error) {
	if err := r.ensureProduced(); err != nil {
		return nil, err
	}
	got, err := r.fetchFrom(ctx, r.topic(), keyedRecords)
	if err != nil {
		return nil, err
	}
	views := []map[string]any{}
	stamps := map[string]int{}
	for _, m := range got {
		views = append(views, recordView(m))
		stamps[r.relative(m.Timestamp)]++
	}
	sortRecords(views)
	return map[string]any{"records": views, "timestamps": stamps}, nil
}

func (r *runner) headersDuplicate(ctx context.Context) (any, error) {
	topic := r.prefix + "-h"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	p, err := r.syncProducer(nil)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("k"),
		Value: sarama.StringEncoder("v"), Headers: []sarama.RecordHeader{
			{Key: []byte("h"), Value: []byte("1")}, {Key: []byte("h"), Value: []byte("2")}}})
	if err != nil {
		return nil, err
	}
	got, err := r.fetchFrom(ctx, topic, 1)
	if err != nil {
		return nil, err
	}
	return map[string]any{"sent": [][]string{{"h", "1"}, {"h", "2"}},
		"received": recordView(got[0])["headers"]}, nil
}

// -- list offsets -------------------------------------------------------------------------------

func (r *runner) offsets(topic string, at int64) (map[string]any, error) {
	partitions, err := r.client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	view := map[string]any{}
	for _, p := range partitions {
		off, err := r.client.GetOffset(topic, p, at)
		if err != nil {
			view[pkey(p)] = errName(err)
		} else {
			view[pkey(p)] = off
		}
	}
	return view, nil
}

func (r *runner) listOffsetsEarliestLatest(ctx context.Context) (any, error) {
	if err := r.ensureProduced(); err != nil {
		return nil, err
	}
	earliest, err := r.offsets(r.topic(), sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	latest, err := r.offsets(r.topic(), sarama.OffsetNewest)
	if err != nil {
		return nil, err
	}
	return map[string]any{"earliest": earliest, "latest": latest}, nil
}

// listOffsetsByTime: Client.GetOffset with a time one minute before the produce and one hour
// after it; Kafka answers -1 where no record is that recent.
func (r *runner) listOffsetsByTime(ctx context.Context) (any, error) {
	if err := r.ensureProduced(); err != nil {
		return nil, err
	}
	before, err := r.offsets(r.topic(), r.produceStart.Add(-time.Minute).UnixMilli())
	if err != nil {
		return nil, err
	}
	after, err := r.offsets(r.topic(), r.produceEnd.Add(time.Hour).UnixMilli())
	if err != nil {
		return nil, err
	}
	return map[string]any{"before_first": before, "after_last": after}, nil
}

// -- groups -------------------------------------------------------------------------------------

// groupMember is a sarama ConsumerGroup (default range assignor, offsets committed by hand) that
// counts what it read, remembers its claims and commits once `want` messages came.
type groupMember struct {
	cg       sarama.ConsumerGroup
	cancel   context.CancelFunc
	want     int
	commits  bool // commit what was read once `want` came
	mu       sync.Mutex
	read     int
	claims   []int32
	revokes  int
	gen      int
	commit   error
	done     chan struct{}
	doneOnce sync.Once
	stopped  chan struct{}
}

func (m *groupMember) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.claims = nil
	for _, ps := range s.Claims() {
		m.claims = append(m.claims, ps...)
	}
	sort.Slice(m.claims, func(i, j int) bool { return m.claims[i] < m.claims[j] })
	return nil
}

func (m *groupMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	m.revokes++
	m.mu.Unlock()
	return nil
}

func (m *groupMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		s.MarkMessage(msg, "")
		m.mu.Lock()
		m.read++
		reached := m.want > 0 && m.read >= m.want
		m.mu.Unlock()
		if reached {
			if m.commits {
				s.Commit() // synchronous with AutoCommit off
			}
			m.doneOnce.Do(func() { close(m.done) })
		}
	}
	return nil
}

func (m *groupMember) snapshot() ([]int32, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.claims...), m.revokes
}

func (m *groupMember) close() {
	m.cancel()
	_ = withTimeout(5*time.Second, m.cg.Close)
}

func (r *runner) startMember(group, topic, instance string, want int, commits bool) (*groupMember, error) {
	cfg := r.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest // read what was produced before the group
	cfg.Consumer.Offsets.AutoCommit.Enable = false     // the check commits, then reads the commit
	cfg.Consumer.Return.Errors = true                  // commit errors come back, not only to the log
	if instance != "" {
		cfg.Consumer.Group.InstanceId = instance
	}
	cg, err := sarama.NewConsumerGroup(r.addrs, group, cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{cg: cg, cancel: cancel, want: want, commits: commits, done: make(chan struct{}),
		stopped: make(chan struct{})}
	go func() {
		for e := range cg.Errors() {
			fmt.Fprintln(os.Stderr, "sarama: group error:", e)
			m.mu.Lock()
			m.commit = e
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.stopped)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				fmt.Fprintln(os.Stderr, "sarama: Consume:", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	return m, nil
}

func (r *runner) ensureGroupMember(ctx context.Context) error {
	if r.groupConsumed {
		return nil // once: after the member left, later checks work on what it committed
	}
	if err := r.ensureProduced(); err != nil {
		return err
	}
	m, err := r.startMember(r.group(), r.topic(), "", keyedRecords, true)
	if err != nil {
		return err
	}
	r.member = m
	select {
	case <-m.done:
		r.groupConsumed = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *runner) leaveGroup() {
	if r.member != nil {
		r.member.close() // a dynamic member sends LeaveGroup on Close
		r.member = nil
	}
}

func (r *runner) committed(group, topic string) (map[string]any, error) {
	partitions, err := r.client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	resp, err := r.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
	if err != nil {
		return nil, err
	}
	if resp.Err != sarama.ErrNoError {
		return nil, resp.Err
	}
	view := map[string]any{}
	for p, b := range resp.Blocks[topic] {
		switch {
		case b.Err != sarama.ErrNoError:
			view[pkey(p)] = errName(b.Err)
		case b.Offset >= 0: // -1: nothing committed
			view[pkey(p)] = b.Offset
		}
	}
	return view, nil
}

func (r *runner) groupConsumeCommit(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	committed, err := r.committed(r.group(), r.topic())
	if err != nil {
		return nil, err
	}
	r.member.mu.Lock()
	read, commit := r.member.read, r.member.commit
	r.member.mu.Unlock()
	return map[string]any{"read": read, "commit": errName(commit), "committed": committed}, nil
}

func (r *runner) describe(group string) (map[string]any, error) {
	groups, err := r.admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return map[string]any{"described": false}, nil
	}
	g := groups[0]
	assigned := []int{}
	for _, m := range g.Members {
		n := 0
		if a, err := m.GetMemberAssignment(); err == nil && a != nil {
			for _, ps := range a.Topics {
				n += len(ps)
			}
		}
		assigned = append(assigned, n)
	}
	sort.Ints(assigned)
	return map[string]any{"state": g.State, "protocol_type": g.ProtocolType, "assignor": g.Protocol,
		"members": len(g.Members), "assigned_partitions": assigned, "error": errName(g.Err)}, nil
}

func (r *runner) groupDescribe(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	return r.describe(r.group())
}

// listed: sarama's ListConsumerGroups gives each group's protocol type only (no state).
func (r *runner) listed(group string) (map[string]any, error) {
	groups, err := r.admin.ListConsumerGroups()
	if err != nil {
		return nil, err
	}
	kind, ok := groups[group]
	if !ok {
		return map[string]any{"listed": false}, nil
	}
	return map[string]any{"listed": true, "protocol_type": kind}, nil
}

func (r *runner) groupList(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	return r.listed(r.group())
}

// groupLag: what sarama-based lag exporters do: the committed offsets (OffsetFetch) against the
// partitions' end offsets (ListOffsets).
func (r *runner) groupLag(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	committed, err := r.committed(r.group(), r.topic())
	if err != nil {
		return nil, err
	}
	ends, err := r.offsets(r.topic(), sarama.OffsetNewest)
	if err != nil {
		return nil, err
	}
	view := map[string]any{}
	for p, end := range ends {
		entry := map[string]any{"committed": committed[p], "end": end}
		if c, ok := committed[p].(int64); ok {
			if e, ok := end.(int64); ok {
				entry["lag"] = e - c
			}
		}
		view[p] = entry
	}
	return map[string]any{"partitions": view}, nil
}

// groupResetEarliest: once the member left, AlterConsumerGroupOffsets with every partition's
// oldest offset (what `kafka-consumer-groups --reset-offsets --to-earliest` does).
func (r *runner) groupResetEarliest(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	state := "unknown"
	if d, err := r.describe(r.group()); err != nil {
		state = errName(err)
	} else if s, ok := d["state"].(string); ok {
		state = s
	}
	partitions, err := r.client.Partitions(r.topic())
	if err != nil {
		return nil, err
	}
	offsets := map[int32]sarama.OffsetAndMetadata{}
	for _, p := range partitions {
		oldest, err := r.client.GetOffset(r.topic(), p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		offsets[p] = sarama.OffsetAndMetadata{Offset: oldest, LeaderEpoch: -1}
	}
	resp, err := r.admin.AlterConsumerGroupOffsets(r.group(),
		map[string]map[int32]sarama.OffsetAndMetadata{r.topic(): offsets}, nil)
	if err != nil {
		return nil, err
	}
	commit := map[string]any{}
	for p, e := range resp.Errors[r.topic()] {
		commit[pkey(p)] = errName(e)
	}
	committed, err := r.committed(r.group(), r.topic())
	if err != nil {
		return nil, err
	}
	// What the reset is for: the group's next member reads everything again.
	var readAfter any
	again, err := r.startMember(r.group(), r.topic(), "", keyedRecords, false)
	if err != nil {
		readAfter = errName(err)
	} else {
		select {
		case <-again.done:
		case <-ctx.Done():
		}
		again.mu.Lock()
		readAfter = again.read
		again.mu.Unlock()
		again.close()
	}
	return map[string]any{"state_after_leave": state, "commit": commit, "committed": committed,
		"read_after": readAfter}, nil
}

func (r *runner) groupOffsetDelete(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	derr := r.admin.DeleteConsumerGroupOffset(r.group(), r.topic(), 0)
	committed, err := r.committed(r.group(), r.topic())
	if err != nil {
		return nil, err
	}
	return map[string]any{"delete": map[string]any{"0": errName(derr)}, "committed": committed}, nil
}

func (r *runner) groupDelete(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	derr := r.admin.DeleteConsumerGroup(r.group())
	listed, err := r.listed(r.group())
	if err != nil {
		return nil, err
	}
	after, err := r.describe(r.group())
	if err != nil {
		after = map[string]any{"error": errName(err)}
	} else {
		after = map[string]any{"state": after["state"], "error": after["error"], "members": after["members"]}
	}
	committed, err := r.committed(r.group(), r.topic())
	if err != nil {
		committed = map[string]any{"error": errName(err)}
	}
	return map[string]any{"delete": errName(derr), "list_after": listed, "describe_after": after,
		"committed_after": committed}, nil
}

// -- admin --------------------------------------------------------------------------------------

func (r *runner) partitionCount(topic string) (int, error) {
	metas, err := r.admin.DescribeTopics([]string{topic})
	if err != nil {
		return 0, err
	}
	if len(metas) != 1 {
		return 0, fmt.Errorf("%d topics described", len(metas))
	}
	if metas[0].Err != sarama.ErrNoError {
		return 0, metas[0].Err
	}
	return len(metas[0].Partitions), nil
}

func (r *runner) createPartitions(ctx context.Context) (any, error) {
	topic := r.prefix + "-p"
	if err := r.createTopic(topic, 3); err != nil {
		return nil, err
	}
	grow := r.admin.CreatePartitions(topic, 5, nil, false)
	count, err := r.waitPartitions(topic, 5)
	if err != nil {
		return nil, err
	}
	shrink := r.admin.CreatePartitions(topic, 2, nil, false)
	return map[string]any{"grow_to_5": errName(grow), "partitions_after": count,
		"shrink_to_2": errName(shrink)}, nil
}

func (r *runner) alterConfigs(ctx context.Context) (any, error) {
	topic := r.prefix + "-c"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	value := "3600000"
	aerr := r.admin.IncrementalAlterConfig(sarama.TopicResource, topic,
		map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &value}}, false)
	seen, err := r.settledConfig(topic, "retention.ms", value)
	if err != nil {
		return nil, err
	}
	bad := "-5"
	berr := r.admin.IncrementalAlterConfig(sarama.TopicResource, topic,
		map[string]sarama.IncrementalAlterConfigsEntry{
			"no.such.config": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &bad}}, false)
	return map[string]any{"alter": errName(aerr), "retention.ms": seen["retention.ms"],
		"unknown_config": errName(berr)}, nil
}

func (r *runner) alterConfigsLegacy(ctx context.Context) (any, error) {
	topic := r.prefix + "-c"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	value := "7200000"
	aerr := r.admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &value}, false)
	seen, err := r.settledConfig(topic, "retention.ms", value)
	if err != nil {
		return nil, err
	}
	return map[string]any{"alter": errName(aerr), "retention.ms": seen["retention.ms"]}, nil
}

func (r *runner) deleteRecords(ctx context.Context) (any, error) {
	if err := r.ensureProduced(); err != nil {
		return nil, err
	}
	derr := r.admin.DeleteRecords(r.topic(), map[int32]int64{0: 2})
	oldest, err := r.client.GetOffset(r.topic(), 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	return map[string]any{"delete": errName(derr), "earliest_after": oldest}, nil
}

// -- errors -------------------------------------------------------------------------------------

func (r *runner) badTopicName(ctx context.Context) (any, error) {
	err := r.admin.CreateTopic("bad name!", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	return map[string]any{"create": errName(err)}, nil
}

// unknownTopic: sarama asks brokers to auto-create topics unless told not to
// (Metadata.AllowAutoTopicCreation, true by default); the check turns that off.
func (r *runner) unknownTopic(ctx context.Context) (any, error) {
	topic := r.prefix + "-missing"
	cfg := r.config()
	cfg.Metadata.AllowAutoTopicCreation = false
	start := time.Now()
	var perr error
	err := withTimeout(slowTimeout, func() error {
		p, err := r.syncProducer(cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		_, _, perr = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
		return nil
	})
	if err != nil {
		perr = err
	}
	took := time.Since(start)
	described := "ok"
	metas, err := r.admin.DescribeTopics([]string{topic})
	switch {
	case err != nil:
		described = errName(err)
	case len(metas) == 1:
		described = errName(metas[0].Err)
	default:
		described = "absent"
	}
	return map[string]any{"produce": errName(perr), "produce_within": bucket(took), "describe": described}, nil
}

func randomValue(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// produceOne sends one record with the client's own size limit lifted (sarama refuses a
// message over Producer.MaxMessageBytes, 1,000,000, before sending), so the broker judges.
func (r *runner) produceOne(topic string, value []byte) string {
	cfg := r.config()
	cfg.Producer.MaxMessageBytes = 16 << 20
	cfg.Producer.Retry.Max = 1
	var perr error
	err := withTimeout(slowTimeout, func() error {
		p, err := r.syncProducer(cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		_, _, perr = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value)})
		return nil
	})
	if err != nil {
		return errName(err)
	}
	return errName(perr)
}

func (r *runner) tooLarge(ctx context.Context) (any, error) {
	topic := r.prefix + "-big"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	p, err := r.syncProducer(nil)
	if err != nil {
		return nil, err
	}
	_, _, local := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(randomValue(2 << 20))})
	p.Close()
	start := time.Now()
	broker := r.produceOne(topic, randomValue(2<<20))
	return map[string]any{"default_client": errName(local), "broker": broker,
		"broker_within": bucket(time.Since(start))}, nil
}

// nearLimit: Kafka counts max.message.bytes (default 1,048,588) over the whole record batch.
func (r *runner) nearLimit(ctx context.Context) (any, error) {
	topic := r.prefix + "-big"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	observed := map[string]any{}
	for _, n := range []int{1048588 - 200, 1048576, 1048588} {
		observed[strconv.Itoa(n)] = r.produceOne(topic, randomValue(n))
	}
	return observed, nil
}

// transactional: sarama's transactional producer (InitProducerId when it is created).
func (r *runner) transactional(ctx context.Context) (any, error) {
	topic := r.prefix + "-tx"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	cfg := r.idempotentConfig() // a transactional producer is an idempotent one first
	cfg.Producer.Transaction.ID = r.prefix + "-txid"
	start := time.Now()
	observed := map[string]any{}
	var mu sync.Mutex
	set := func(k string, err error) {
		mu.Lock()
		observed[k] = errName(err)
		mu.Unlock()
	}
	err := withTimeout(slowTimeout, func() error {
		p, err := r.syncProducer(cfg)
		set("init", err)
		if err != nil {
			return nil
		}
		defer p.Close()
		if err := p.BeginTxn(); err != nil {
			set("begin", err)
			return nil
		}
		_, _, perr := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
		set("produce", perr)
		if perr != nil {
			set("end", p.AbortTxn())
		} else {
			set("end", p.CommitTxn())
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		observed["within"] = "timeout"
		return observed, nil
	}
	observed["within"] = bucket(time.Since(start))
	return observed, nil
}

// staticMember (KIP-345): a static member (Consumer.Group.InstanceId) and a dynamic one share a
// group; the static one closes (sarama does not send LeaveGroup for a static member) and comes
// back with the same instance id.
func (r *runner) staticMember(ctx context.Context) (any, error) {
	topic := r.prefix + "-s"
	group := r.prefix + "-gs"
	if err := r.createTopic(topic, 4); err != nil {
		return nil, err
	}
	waitFor := func(ok func() bool, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if ok() {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return ok()
	}
	instance := r.prefix + "-static"
	a, err := r.startMember(group, topic, instance, 0, false)
	if err != nil {
		return nil, err
	}
	b, err := r.startMember(group, topic, "", 0, false)
	if err != nil {
		a.close()
		return nil, err
	}
	defer b.close()
	balanced := waitFor(func() bool {
		ac, _ := a.snapshot()
		bc, _ := b.snapshot()
		return len(ac) == 2 && len(bc) == 2
	}, slowTimeout)
	if !balanced {
		a.close()
		return map[string]any{"balanced": false}, nil
	}
	before, _ := a.snapshot()
	bBefore, bRevokes := b.snapshot()
	a.close()
	restarted := time.Now()
	a2, err := r.startMember(group, topic, instance, 0, false)
	if err != nil {
		return nil, err
	}
	defer a2.close()
	back := waitFor(func() bool { c, _ := a2.snapshot(); return len(c) > 0 }, slowTimeout)
	took := time.Since(restarted)
	time.Sleep(500 * time.Millisecond) // a rebalance the rejoin started reaches b by then
	after, _ := a2.snapshot()
	bAfter, bRevokesAfter := b.snapshot()
	observed := map[string]any{"balanced": true, "assigned_again": back,
		"same_partitions": fmt.Sprint(after) == fmt.Sprint(before),
		"other_kept":      fmt.Sprint(bAfter) == fmt.Sprint(bBefore),
		"other_revoked":   bRevokesAfter > bRevokes}
	if back {
		observed["within"] = bucket(took)
	}
	return observed, nil
}

// oldVersion: an application on sarama with Config.Version pinned to an old Kafka (1.0 was
// sarama's default from 1.27 to 1.40): one record produced, then read and committed by a
// consumer group of the same version, the commit read back with the current version. Kafka 4
// removed the oldest versions of each API (KIP-896): Produce below v3 (sent for 0.10.2) and
// OffsetCommit below v2 are refused.
func (r *runner) oldVersion(ctx context.Context, version sarama.KafkaVersion, tag string) (any, error) {
	topic := r.prefix + "-" + tag
	group := topic + "-g"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	cfg := r.config()
	cfg.Version = version
	observed := map[string]any{}
	var perr error
	err := withTimeout(slowTimeout/3, func() error {
		p, err := sarama.NewSyncProducer(r.addrs, cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		_, _, perr = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
		return nil
	})
	if err != nil {
		perr = err
	}
	observed["produce"] = errName(perr)
	if perr != nil {
		// Put the record there with the current version, so the group has something to read.
		if p, err := r.syncProducer(nil); err == nil {
			_, _, _ = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
			p.Close()
		}
	}
	gcfg := r.config()
	gcfg.Version = version
	gcfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	gcfg.Consumer.Offsets.AutoCommit.Enable = false
	gcfg.Consumer.Return.Errors = true
	read := 0
	var gerr error
	err = withTimeout(slowTimeout/2, func() error {
		cg, err := sarama.NewConsumerGroup(r.addrs, group, gcfg)
		if err != nil {
			gerr = err
			return nil
		}
		m := &groupMember{want: 1, commits: true, done: make(chan struct{})}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			for e := range cg.Errors() {
				m.mu.Lock()
				m.commit = e
				m.mu.Unlock()
			}
		}()
		go func() {
			for cctx.Err() == nil {
				if err := cg.Consume(cctx, []string{topic}, m); err != nil {
					m.mu.Lock()
					m.commit = err
					m.mu.Unlock()
					return
				}
			}
		}()
		select {
		case <-m.done:
		case <-time.After(slowTimeout/2 - time.Second):
		}
		cancel()
		_ = withTimeout(3*time.Second, cg.Close)
		m.mu.Lock()
		read, gerr = m.read, m.commit
		m.mu.Unlock()
		return nil
	})
	if err != nil {
		gerr = err
	}
	observed["group_read"] = read
	observed["group_error"] = errName(gerr)
	committed, err := r.committed(group, topic)
	if err != nil {
		observed["committed"] = errName(err)
	} else {
		observed["committed"] = committed
	}
	return observed, nil
}

// idempotence: sarama's idempotent producer (off by default; these are its required settings).
func (r *runner) idempotence(ctx context.Context) (any, error) {
	topic := r.prefix + "-i"
	if err := r.createTopic(topic, 1); err != nil {
		return nil, err
	}
	p, err := r.syncProducer(r.idempotentConfig())
	if err != nil {
		return nil, err
	}
	defer p.Close()
	msgs := []*sarama.ProducerMessage{}
	for i := 0; i < 10; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
	}
	if err := p.SendMessages(msgs); err != nil {
		return nil, err
	}
	got, err := r.fetchFrom(ctx, topic, 10)
	if err != nil {
		return nil, err
	}
	values := map[string]bool{}
	contiguous := true
	sort.Slice(got, func(i, j int) bool { return got[i].Offset < got[j].Offset })
	for i, m := range got {
		values[string(m.Value)] = true
		if m.Offset != int64(i) {
			contiguous = false
		}
	}
	return map[string]any{"read": len(got), "distinct": len(values), "offsets_contiguous": contiguous}, nil
}

// clientVersion prints the "client.version" line (information for the compatibility card, not
// compared): the library modules this binary was built with, as go.sum pinned them.
func (r *runner) clientVersion() {
	versions := []string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, want := range []string{"github.com/IBM/sarama"} {
			for _, dep := range info.Deps {
				if dep.Path == want {
					versions = append(versions, dep.Path[strings.LastIndex(dep.Path, "/")+1:]+" "+dep.Version)
				}
			}
		}
	}
	_ = r.out.Encode(map[string]any{"check": "client.version", "observed": strings.Join(versions, ", ")})
}
