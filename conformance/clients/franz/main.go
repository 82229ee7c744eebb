// The conformance program for franz-go (kgo) with its admin client kadm.
//
// The conformance harness's contract (conformance/run.py runs every client program against real
// Kafka and the playground and compares their lines):
//
//	franz --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX[,CHECK_PREFIX...]]
//
// runs a fixed list of checks in order and prints one JSON line per check on stdout:
// {"check": NAME, "observed": ...}, {"check": NAME, "error": KAFKA_ERROR_NAME, "detail": ...} or
// {"check": NAME, "skip": WHY}. Observations are normalised so real Kafka and the playground
// print the same bytes when they behave the same: no ids, no hosts or ports, no clock values
// (timestamps become "during_produce"/"before_produce"/"after_produce"), sorted lists, and
// Kafka's error names. Everything else (franz-go's own log) goes to stderr. The exit code is 0
// whenever the program could run: judging the observations is the comparator's job.
//
// Checks build on one another (a group consumes what produce.keys wrote), but each one makes
// its own prerequisites on demand (ensureProduced, ensureGroupMember, ...), so `--only group.`
// still works on an empty cluster. Every topic and group name starts with PREFIX.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	keyedRecords = 20
	// How long one check may wait for the cluster. Real Kafka answers every check in well under
	// this; a listener that hangs shows up as "timeout" rather than stalling the whole run.
	checkTimeout = 20 * time.Second
	// errors.transactional and errors.unknown_topic time how long the error takes to surface.
	slowTimeout = 15 * time.Second
)

// The default partitioner of franz-go v1.22 (kgo's defaultCfg): records with a key are hashed
// with Kafka's murmur2 exactly as Java's client does; records without one stick to a partition
// for about 64 KiB (KIP-794's uniform sticky partitioner).
const defaultPartitioner = "kgo.UniformBytesPartitioner(64KiB, adaptive, keys) with KafkaHasher(murmur2)"

type skipError struct{ why string }

func (s skipError) Error() string { return s.why }

type runner struct {
	bootstrap string
	prefix    string
	only      []string
	out       *json.Encoder

	cl  *kgo.Client
	adm *kadm.Client

	topicCreated bool
	produced     []*kgo.Record
	produceStart time.Time
	produceEnd   time.Time

	member        *kgo.Client // the group consumer of group.consume_commit, until the reset
	groupConsumed bool
	memberRead    int
	memberCommit  error
}

func main() {
	bootstrap := flag.String("bootstrap", "", "HOST:PORT of one broker")
	prefix := flag.String("prefix", "", "every topic and group this run creates starts with it")
	only := flag.String("only", "", "run only the checks whose name starts with this "+
		"(or with one of these, comma-separated)")
	flag.Parse()
	if *bootstrap == "" || *prefix == "" {
		fmt.Fprintln(os.Stderr, "usage: franz --bootstrap HOST:PORT --prefix PREFIX [--only CHECK_PREFIX]")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(baseOpts(*bootstrap)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "franz: cannot create the client:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false) // "<2s" stays readable
	r := &runner{bootstrap: *bootstrap, prefix: *prefix, only: strings.Split(*only, ","),
		out: out, cl: cl, adm: kadm.NewClient(cl)}
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
}

func baseOpts(bootstrap string, more ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID("conformance-franz"),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, nil)),
	}
	return append(opts, more...)
}

func (r *runner) close() {
	if r.member != nil {
		closeSoon(r.member, 5*time.Second)
	}
	closeSoon(r.cl, 5*time.Second)
}

func (r *runner) topic() string { return r.prefix + "-t" }
func (r *runner) group() string { return r.prefix + "-g" }

// run prints the one line of check `name`, whatever happens inside it (a panic included).
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
		observed, err := fn(ctx)
		var skip skipError
		switch {
		case errors.As(err, &skip):
			line["skip"] = skip.why
		case err != nil:
			line["error"] = errName(err)
			line["detail"] = err.Error()
		default:
			line["observed"] = observed
		}
	}()
	if err := r.out.Encode(line); err != nil {
		fmt.Fprintln(os.Stderr, "franz: cannot write stdout:", err)
		os.Exit(1)
	}
}

// errName is what the contract calls an error: Kafka's name for it, "timeout" for a deadline,
// or the Go type of anything else.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	if errors.Is(err, kgo.ErrRecordTimeout) {
		return "record_timeout"
	}
	if errors.Is(err, kgo.ErrRecordRetries) {
		return "record_retries"
	}
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 {
		return errName(se.Errs[0].Err)
	}
	// franz-go's own errors are plain errors.New values: name them by what they say.
	msg := err.Error()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(msg, "broker closed the connection"):
		return "connection_closed"
	case strings.Contains(msg, "broker is too old"):
		return "unsupported_by_broker"
	}
	return fmt.Sprintf("%T", err)
}

// bucket turns a duration into the contract's coarse time classes.
func bucket(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "<2s"
	case d < 10*time.Second:
		return "<10s"
	}
	return "timeout"
}

// relative places a record timestamp against the produce that wrote it.
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

// closeSoon closes a client but waits for that at most `within`: a member of a group stuck in a
// rebalance can block Close for a session timeout, and one check must not stall the run.
func closeSoon(c *kgo.Client, within time.Duration) {
	done := make(chan struct{})
	go func() {
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(within):
		fmt.Fprintf(os.Stderr, "franz: a client did not close within %s; left behind\n", within)
	}
}

func pkey(p int32) string { return strconv.Itoa(int(p)) }

// -- prerequisites ------------------------------------------------------------------------------

func (r *runner) createTopic(ctx context.Context, name string, partitions int32) error {
	resp, err := r.adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	_, err = r.waitPartitions(ctx, name, int(partitions))
	return err
}

// waitPartitions polls Metadata until `topic` shows `want` partitions (at most 10 s) and returns
// the last count seen. Kafka answers CreateTopics and CreatePartitions once its controller
// decided; the brokers' metadata follows a moment later, and an application that acts at once
// may meet UNKNOWN_TOPIC_OR_PARTITION: so the checks wait as careful applications do.
func (r *runner) waitPartitions(ctx context.Context, topic string, want int) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		count, err := r.partitionCount(ctx, topic)
		if (err == nil && count == want) || time.Now().After(deadline) || ctx.Err() != nil {
			return count, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *runner) ensureTopic(ctx context.Context) error {
	if r.topicCreated {
		return nil
	}
	if err := r.createTopic(ctx, r.topic(), 3); err != nil {
		return err
	}
	r.topicCreated = true
	return nil
}

func (r *runner) ensureProduced(ctx context.Context) error {
	if r.produced != nil {
		return nil
	}
	if err := r.ensureTopic(ctx); err != nil {
		return err
	}
	records := make([]*kgo.Record, keyedRecords)
	for i := range records {
		records[i] = &kgo.Record{Topic: r.topic(), Key: []byte(fmt.Sprintf("k%d", i)),
			Value: []byte(fmt.Sprintf("v%d", i))}
	}
	r.produceStart = time.Now()
	// One ProduceSync call: the records go out in key order and franz-go keeps that order
	// within each partition, so offsets are the same on every run.
	err := r.cl.ProduceSync(ctx, records...).FirstErr()
	r.produceEnd = time.Now()
	if err != nil {
		return err
	}
	r.produced = records
	return nil
}

// pollUntil polls `c` until `want` records came, ctx ends, or a fetch reports an error.
func pollUntil(ctx context.Context, c *kgo.Client, want int) ([]*kgo.Record, error) {
	var got []*kgo.Record
	for len(got) < want {
		fetches := c.PollFetches(ctx)
		if ctx.Err() != nil {
			return got, ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return got, ferr
		}
		got = append(got, fetches.Records()...)
	}
	return got, nil
}

// fetchFrom reads partitions of `topic` from their start until `want` records came (or ctx).
func (r *runner) fetchFrom(ctx context.Context, topic string, want int) ([]*kgo.Record, error) {
	c, err := kgo.NewClient(baseOpts(r.bootstrap, kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return pollUntil(ctx, c, want)
}

func recordView(rec *kgo.Record) map[string]any {
	headers := [][]string{}
	for _, h := range rec.Headers {
		headers = append(headers, []string{h.Key, string(h.Value)})
	}
	return map[string]any{"partition": rec.Partition, "offset": rec.Offset,
		"key": string(rec.Key), "value": string(rec.Value), "headers": headers}
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
	resp, err := r.adm.CreateTopic(ctx, 3, 1, nil, r.topic())
	var ke *kerr.Error
	if err != nil && !errors.As(err, &ke) {
		return nil, err
	}
	r.topicCreated = resp.Err == nil
	topics, err := r.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	listed := map[string]any{}
	for name, td := range topics {
		if strings.HasPrefix(name, r.prefix) {
			listed[name] = map[string]any{"partitions": len(td.Partitions), "error": errName(td.Err),
				"replication_factor": td.Partitions.NumReplicas()}
		}
	}
	return map[string]any{"create": errName(resp.Err), "create_partitions": resp.NumPartitions,
		"topics": listed}, nil
}

// metadataCluster asks DescribeCluster (Kafka 2.8+) what an admin tool shows: the cluster's
// brokers and its controller. Counts differ on purpose (one real broker, three in the
// playground), so only their shape is observed.
func (r *runner) metadataCluster(ctx context.Context) (any, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(ctx, r.cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	controllerIsBroker := false
	for _, b := range resp.Brokers {
		if b.NodeID == resp.ControllerID {
			controllerIsBroker = true
		}
	}
	return map[string]any{"brokers_listed": len(resp.Brokers) > 0,
		"controller_is_a_broker": controllerIsBroker, "cluster_id_present": resp.ClusterID != ""}, nil
}

// describeConfigs: what DescribeConfigs says of a few configs on a fresh topic.
func (r *runner) describeConfigs(ctx context.Context) (any, error) {
	if err := r.ensureTopic(ctx); err != nil {
		return nil, err
	}
	rcs, err := r.adm.DescribeTopicConfigs(ctx, r.topic())
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(r.topic(), nil)
	if err != nil {
		return nil, err
	}
	if rc.Err != nil {
		return nil, rc.Err
	}
	wanted := map[string]bool{"cleanup.policy": true, "max.message.bytes": true,
		"retention.ms": true, "min.insync.replicas": true, "message.timestamp.type": true,
		"segment.bytes": true, "compression.type": true}
	seen := map[string]any{}
	for _, c := range rc.Configs {
		if wanted[c.Key] {
			seen[c.Key] = map[string]any{"value": c.MaybeValue(), "source": c.Source.String()}
		}
	}
	return seen, nil
}

// -- produce and fetch --------------------------------------------------------------------------

func (r *runner) produceKeys(ctx context.Context) (any, error) {
	if err := r.ensureProduced(ctx); err != nil {
		return nil, err
	}
	placed := map[string]any{}
	for _, rec := range r.produced {
		placed[string(rec.Key)] = map[string]any{"partition": rec.Partition, "offset": rec.Offset}
	}
	return map[string]any{"partitioner": defaultPartitioner, "partitions": 3, "records": placed}, nil
}

func (r *runner) fetchAll(ctx context.Context) (any, error) {
	if err := r.ensureProduced(ctx); err != nil {
		return nil, err
	}
	got, err := r.fetchFrom(ctx, r.topic(), keyedRecords)
	if err != nil {
		return nil, err
	}
	views := []map[string]any{}
	stamps := map[string]int{}
	for _, rec := range got {
		views = append(views, recordView(rec))
		stamps[r.relative(rec.Timestamp)]++
	}
	sortRecords(views)
	return map[string]any{"records": views, "timestamps": stamps}, nil
}

func (r *runner) headersDuplicate(ctx context.Context) (any, error) {
	topic := r.prefix + "-h"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	rec := &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}}}
	if err := r.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
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

func listedView(lo kadm.ListedOffsets, topic string, withTime func(int64) string) map[string]any {
	view := map[string]any{}
	for p, o := range lo[topic] {
		entry := map[string]any{"offset": o.Offset, "error": errName(o.Err)}
		if withTime != nil {
			entry["timestamp"] = withTime(o.Timestamp)
		}
		view[pkey(p)] = entry
	}
	return view
}

func (r *runner) listOffsetsEarliestLatest(ctx context.Context) (any, error) {
	if err := r.ensureProduced(ctx); err != nil {
		return nil, err
	}
	start, err := r.adm.ListStartOffsets(ctx, r.topic())
	if err != nil {
		return nil, err
	}
	end, err := r.adm.ListEndOffsets(ctx, r.topic())
	if err != nil {
		return nil, err
	}
	return map[string]any{"earliest": listedView(start, r.topic(), nil),
		"latest": listedView(end, r.topic(), nil)}, nil
}

// listOffsetsByTime: kadm.ListOffsetsAfterMilli for a time one minute before the produce and
// one hour after it. kadm answers "no record at or after that time" with the end offset (it
// asks again for the latest), which is what an application using it sees.
func (r *runner) listOffsetsByTime(ctx context.Context) (any, error) {
	if err := r.ensureProduced(ctx); err != nil {
		return nil, err
	}
	stamp := func(ms int64) string {
		if ms < 0 {
			return "absent"
		}
		return r.relative(time.UnixMilli(ms))
	}
	before, err := r.adm.ListOffsetsAfterMilli(ctx, r.produceStart.Add(-time.Minute).UnixMilli(), r.topic())
	if err != nil {
		return nil, err
	}
	after, err := r.adm.ListOffsetsAfterMilli(ctx, r.produceEnd.Add(time.Hour).UnixMilli(), r.topic())
	if err != nil {
		return nil, err
	}
	return map[string]any{"before_first": listedView(before, r.topic(), stamp),
		"after_last": listedView(after, r.topic(), stamp)}, nil
}

// -- groups -------------------------------------------------------------------------------------

func committedView(resps kadm.OffsetResponses, topic string) map[string]any {
	view := map[string]any{}
	for p, o := range resps[topic] {
		if o.Err != nil {
			view[pkey(p)] = errName(o.Err)
		} else {
			view[pkey(p)] = o.At
		}
	}
	return view
}

// ensureGroupMember: a group consumer (franz-go's default cooperative-sticky balancer, offsets
// committed by hand) that read every keyed record and committed, and stays in the group.
func (r *runner) ensureGroupMember(ctx context.Context) error {
	if r.groupConsumed {
		return nil // once: after the member left, later checks work on what it committed
	}
	if err := r.ensureProduced(ctx); err != nil {
		return err
	}
	c, err := kgo.NewClient(baseOpts(r.bootstrap, kgo.ConsumerGroup(r.group()),
		kgo.ConsumeTopics(r.topic()), kgo.DisableAutoCommit())...)
	if err != nil {
		return err
	}
	r.member = c
	for r.memberRead < keyedRecords {
		fetches := c.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		r.memberRead += fetches.NumRecords()
	}
	r.memberCommit = c.CommitUncommittedOffsets(ctx)
	r.groupConsumed = true
	return nil
}

func (r *runner) leaveGroup() {
	if r.member != nil {
		closeSoon(r.member, 10*time.Second) // a dynamic member sends LeaveGroup on close
		r.member = nil
	}
}

func (r *runner) groupConsumeCommit(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	fetched, err := r.adm.FetchOffsets(ctx, r.group())
	if err != nil {
		return nil, err
	}
	return map[string]any{"read": r.memberRead, "commit": errName(r.memberCommit),
		"committed": committedView(fetched, r.topic())}, nil
}

func describedView(g kadm.DescribedGroup) map[string]any {
	assigned := []int{}
	for _, m := range g.Members {
		n := 0
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				n += len(t.Partitions)
			}
		}
		assigned = append(assigned, n)
	}
	sort.Ints(assigned)
	return map[string]any{"state": g.State, "protocol_type": g.ProtocolType,
		"assignor": g.Protocol, "members": len(g.Members), "assigned_partitions": assigned,
		"error": errName(g.Err)}
}

func (r *runner) groupDescribe(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	groups, err := r.adm.DescribeGroups(ctx, r.group())
	if err != nil {
		return nil, err
	}
	g, ok := groups[r.group()]
	if !ok {
		return map[string]any{"described": false}, nil
	}
	return describedView(g), nil
}

func (r *runner) listedGroup(ctx context.Context, group string) (map[string]any, error) {
	groups, err := r.adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := groups[group]
	if !ok {
		return map[string]any{"listed": false}, nil
	}
	return map[string]any{"listed": true, "state": g.State, "protocol_type": g.ProtocolType}, nil
}

func (r *runner) groupList(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	return r.listedGroup(ctx, r.group())
}

func (r *runner) groupLag(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	lags, err := r.adm.Lag(ctx, r.group())
	if err != nil {
		return nil, err
	}
	l, ok := lags[r.group()]
	if !ok {
		return map[string]any{"described": false}, nil
	}
	if err := l.Error(); err != nil {
		return nil, err
	}
	view := map[string]any{}
	for p, m := range l.Lag[r.topic()] {
		view[pkey(p)] = map[string]any{"committed": m.Commit.At, "end": m.End.Offset, "lag": m.Lag}
	}
	return map[string]any{"state": l.State, "partitions": view}, nil
}

// groupResetEarliest is `kafka-consumer-groups --reset-offsets --to-earliest` done through
// kadm: once the member left, commit every partition's start offset for the group.
func (r *runner) groupResetEarliest(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	state := "unknown"
	if groups, err := r.adm.DescribeGroups(ctx, r.group()); err != nil {
		state = errName(err)
	} else if g, ok := groups[r.group()]; ok {
		state = g.State
	}
	starts, err := r.adm.ListStartOffsets(ctx, r.topic())
	if err != nil {
		return nil, err
	}
	resps, err := r.adm.CommitOffsets(ctx, r.group(), starts.Offsets())
	if err != nil {
		return nil, err
	}
	commit := map[string]any{}
	for p, o := range resps[r.topic()] {
		commit[pkey(p)] = errName(o.Err)
	}
	fetched, err := r.adm.FetchOffsets(ctx, r.group())
	if err != nil {
		return nil, err
	}
	// What the reset is for: the group's next member reads everything again.
	again, err := r.readGroup(ctx, r.group(), r.topic(), keyedRecords)
	var readAfter any = len(again)
	if err != nil {
		readAfter = errName(err)
	}
	return map[string]any{"state_after_leave": state, "commit": commit,
		"committed": committedView(fetched, r.topic()), "read_after": readAfter}, nil
}

// readGroup joins `group` for `topic` with a new member, reads until `want` records came (from
// the group's commits), and leaves without committing.
func (r *runner) readGroup(ctx context.Context, group, topic string, want int) ([]*kgo.Record, error) {
	c, err := kgo.NewClient(baseOpts(r.bootstrap, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit())...)
	if err != nil {
		return nil, err
	}
	defer closeSoon(c, 5*time.Second)
	return pollUntil(ctx, c, want)
}

// groupOffsetDelete (OffsetDelete, KIP-496): drop the group's commit for partition 0.
func (r *runner) groupOffsetDelete(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	resps, err := r.adm.DeleteOffsets(ctx, r.group(), kadm.TopicsSet{r.topic(): {0: {}}})
	if err != nil {
		return nil, err
	}
	deleted := map[string]any{}
	for p, e := range resps[r.topic()] {
		deleted[pkey(p)] = errName(e)
	}
	fetched, err := r.adm.FetchOffsets(ctx, r.group())
	if err != nil {
		return nil, err
	}
	return map[string]any{"delete": deleted, "committed": committedView(fetched, r.topic())}, nil
}

func (r *runner) groupDelete(ctx context.Context) (any, error) {
	if err := r.ensureGroupMember(ctx); err != nil {
		return nil, err
	}
	r.leaveGroup()
	resp, err := r.adm.DeleteGroup(ctx, r.group())
	if err != nil {
		return nil, err
	}
	listed, err := r.listedGroup(ctx, r.group())
	if err != nil {
		return nil, err
	}
	after := map[string]any{}
	if groups, err := r.adm.DescribeGroups(ctx, r.group()); err != nil {
		after["error"] = errName(err)
	} else if g, ok := groups[r.group()]; ok {
		after = map[string]any{"state": g.State, "error": errName(g.Err), "members": len(g.Members)}
	}
	fetched, err := r.adm.FetchOffsets(ctx, r.group())
	committed := map[string]any{}
	if err != nil {
		committed["error"] = errName(err)
	} else {
		committed = committedView(fetched, r.topic())
	}
	return map[string]any{"delete": errName(resp.Err), "list_after": listed,
		"describe_after": after, "committed_after": committed}, nil
}

// -- admin --------------------------------------------------------------------------------------

func (r *runner) partitionCount(ctx context.Context, topic string) (int, error) {
	topics, err := r.adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	td, ok := topics[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s not in metadata", topic)
	}
	if td.Err != nil {
		return 0, td.Err
	}
	return len(td.Partitions), nil
}

func (r *runner) createPartitions(ctx context.Context) (any, error) {
	topic := r.prefix + "-p"
	if err := r.createTopic(ctx, topic, 3); err != nil {
		return nil, err
	}
	resps, err := r.adm.UpdatePartitions(ctx, 5, topic)
	if err != nil {
		return nil, err
	}
	count, err := r.waitPartitions(ctx, topic, 5)
	if err != nil {
		return nil, err
	}
	// Fewer than there are is INVALID_PARTITIONS in Kafka.
	shrink, err := r.adm.UpdatePartitions(ctx, 2, topic)
	if err != nil {
		return nil, err
	}
	return map[string]any{"grow_to_5": errName(resps[topic].Err), "partitions_after": count,
		"shrink_to_2": errName(shrink[topic].Err)}, nil
}

func (r *runner) configValue(ctx context.Context, topic, name string) (map[string]any, error) {
	rcs, err := r.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return nil, err
	}
	if rc.Err != nil {
		return nil, rc.Err
	}
	for _, c := range rc.Configs {
		if c.Key == name {
			return map[string]any{"value": c.MaybeValue(), "source": c.Source.String()}, nil
		}
	}
	return map[string]any{"value": nil}, nil
}

// settledConfig: a topic config as described once it shows `want`, or after 10 s as it is.
// Kafka applies a change through its controller's metadata log, so a describe right after the
// alter may still show the old value on a loaded machine.
func (r *runner) settledConfig(ctx context.Context, topic, name, want string) (map[string]any, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen, err := r.configValue(ctx, topic, name)
		if err != nil || seen["value"] == want || time.Now().After(deadline) {
			return seen, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *runner) alterConfigs(ctx context.Context) (any, error) {
	topic := r.prefix + "-c"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	value := "3600000"
	resps, err := r.adm.AlterTopicConfigs(ctx,
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &value}}, topic)
	if err != nil {
		return nil, err
	}
	// Kafka applies a config change through its controller's metadata log: a describe right
	// after the alter may still show the old value on a loaded machine. Wait for it a while.
	seen, err := r.settledConfig(ctx, topic, "retention.ms", value)
	if err != nil {
		return nil, err
	}
	bad := "-5"
	badResps, err := r.adm.AlterTopicConfigs(ctx,
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "no.such.config", Value: &bad}}, topic)
	if err != nil {
		return nil, err
	}
	return map[string]any{"alter": errName(resps[0].Err), "retention.ms": seen,
		"unknown_config": errName(badResps[0].Err)}, nil
}

// alterConfigsLegacy: the older AlterConfigs (a whole new set of a topic's overrides).
func (r *runner) alterConfigsLegacy(ctx context.Context) (any, error) {
	topic := r.prefix + "-c"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	value := "7200000"
	resps, err := r.adm.AlterTopicConfigsState(ctx,
		[]kadm.AlterConfig{{Name: "retention.ms", Value: &value}}, topic)
	if err != nil {
		return nil, err
	}
	seen, err := r.settledConfig(ctx, topic, "retention.ms", value)
	if err != nil {
		return nil, err
	}
	return map[string]any{"alter": errName(resps[0].Err), "retention.ms": seen}, nil
}

func (r *runner) deleteRecords(ctx context.Context) (any, error) {
	if err := r.ensureProduced(ctx); err != nil {
		return nil, err
	}
	resps, err := r.adm.DeleteRecords(ctx, kadm.Offsets{r.topic(): {0: {Topic: r.topic(), Partition: 0, At: 2}}})
	if err != nil {
		return nil, err
	}
	resp := resps[r.topic()][0]
	starts, err := r.adm.ListStartOffsets(ctx, r.topic())
	if err != nil {
		return nil, err
	}
	return map[string]any{"delete": errName(resp.Err), "low_watermark": resp.LowWatermark,
		"earliest_after": starts[r.topic()][0].Offset}, nil
}

// -- errors -------------------------------------------------------------------------------------

func (r *runner) badTopicName(ctx context.Context) (any, error) {
	// kadm returns the topic's error as the call's error too: either way it is the answer.
	resp, err := r.adm.CreateTopic(ctx, 1, 1, nil, "bad name!")
	if resp.Err != nil {
		err = resp.Err
	}
	var ke *kerr.Error
	if err != nil && !errors.As(err, &ke) {
		return nil, err
	}
	return map[string]any{"create": errName(err)}, nil
}

// unknownTopic: franz-go never asks for auto-creation unless told (AllowAutoTopicCreation), so
// a produce to a missing topic fails once its unknown-topic retries (4) are spent.
func (r *runner) unknownTopic(ctx context.Context) (any, error) {
	topic := r.prefix + "-missing"
	pctx, cancel := context.WithTimeout(ctx, slowTimeout)
	defer cancel()
	c, err := kgo.NewClient(baseOpts(r.bootstrap)...)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	perr := c.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
	took := time.Since(start)
	c.Close()
	described := "ok"
	topics, err := r.adm.ListTopics(ctx, topic)
	if err != nil {
		described = errName(err)
	} else if td, ok := topics[topic]; ok {
		described = errName(td.Err)
	} else {
		described = "absent"
	}
	return map[string]any{"produce": errName(perr), "produce_within": bucket(took),
		"describe": described}, nil
}

// randomValue: bytes that do not compress (franz-go compresses with snappy by default, and
// zeros would shrink under any limit).
func randomValue(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// produceOne sends one record with a client whose own batch limit is lifted, so the broker,
// not franz-go, judges the size.
func (r *runner) produceOne(ctx context.Context, topic string, value []byte) (string, time.Duration) {
	c, err := kgo.NewClient(baseOpts(r.bootstrap, kgo.ProducerBatchMaxBytes(16<<20),
		kgo.RecordRetries(3))...)
	if err != nil {
		return errName(err), 0
	}
	defer c.Close()
	start := time.Now()
	err = c.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr()
	return errName(err), time.Since(start)
}

func (r *runner) tooLarge(ctx context.Context) (any, error) {
	topic := r.prefix + "-big"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	// franz-go's default limit (1,000,012 bytes, Kafka's max.message.bytes) refuses it before
	// any request: that is what an application with default settings sees.
	c, err := kgo.NewClient(baseOpts(r.bootstrap)...)
	if err != nil {
		return nil, err
	}
	local := c.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: randomValue(2 << 20)}).FirstErr()
	c.Close()
	broker, took := r.produceOne(ctx, topic, randomValue(2<<20))
	return map[string]any{"default_client": errName(local), "broker": broker,
		"broker_within": bucket(took)}, nil
}

// nearLimit: Kafka counts max.message.bytes (default 1,048,588) over the whole record batch,
// about 70 bytes more than the value for one small record.
func (r *runner) nearLimit(ctx context.Context) (any, error) {
	topic := r.prefix + "-big"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	observed := map[string]any{}
	for _, n := range []int{1048588 - 200, 1048576, 1048588} {
		errStr, _ := r.produceOne(ctx, topic, randomValue(n))
		observed[strconv.Itoa(n)] = errStr
	}
	return observed, nil
}

// transactional: a transactional producer's first transaction; how it ends and how soon.
func (r *runner) transactional(ctx context.Context) (any, error) {
	topic := r.prefix + "-tx"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, slowTimeout)
	defer cancel()
	c, err := kgo.NewClient(baseOpts(r.bootstrap, kgo.TransactionalID(r.prefix+"-txid"))...)
	if err != nil {
		return nil, err
	}
	defer closeSoon(c, time.Second)
	start := time.Now()
	// The transaction runs aside: EndTransaction does not always honour its context when the
	// producer id never came, and the check must end by slowTimeout.
	result := make(chan map[string]any, 1)
	go func() {
		observed := map[string]any{}
		defer func() { result <- observed }()
		if err := c.BeginTransaction(); err != nil {
			observed["begin"] = errName(err)
			return
		}
		perr := c.ProduceSync(tctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
		observed["produce"] = errName(perr)
		commit := kgo.TryCommit
		if perr != nil {
			commit = kgo.TryAbort
		}
		observed["end"] = errName(c.EndTransaction(tctx, commit))
	}()
	var observed map[string]any
	select {
	case observed = <-result:
	case <-time.After(slowTimeout + time.Second):
		return map[string]any{"produce": "timeout", "end": "timeout", "within": "timeout"}, nil
	}
	observed["within"] = bucket(time.Since(start))
	if observed["produce"] == "ok" {
		got, err := r.fetchFrom(ctx, topic, 1)
		observed["read_committed"] = len(got)
		if err != nil {
			observed["read"] = errName(err)
		}
	}
	return observed, nil
}

// staticMember (KIP-345): a static member (group.instance.id) and a dynamic one share a group;
// the static one stops without leaving and comes back with the same instance id. Kafka hands it
// its old partitions at once, and the dynamic member keeps its own without a rebalance.
func (r *runner) staticMember(ctx context.Context) (any, error) {
	topic := r.prefix + "-s"
	group := r.prefix + "-gs"
	if err := r.createTopic(ctx, topic, 4); err != nil {
		return nil, err
	}
	type member struct {
		cl       *kgo.Client
		mu       sync.Mutex
		assigned map[int32]bool
		revokes  int
		changed  chan struct{}
	}
	start := func(instance string) (*member, error) {
		m := &member{assigned: map[int32]bool{}, changed: make(chan struct{}, 64)}
		opts := baseOpts(r.bootstrap, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				m.mu.Lock()
				for _, p := range a[topic] {
					m.assigned[p] = true
				}
				m.mu.Unlock()
				m.changed <- struct{}{}
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				m.mu.Lock()
				for _, p := range a[topic] {
					delete(m.assigned, p)
				}
				m.revokes++
				m.mu.Unlock()
				m.changed <- struct{}{}
			}))
		if instance != "" {
			opts = append(opts, kgo.InstanceID(instance))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		m.cl = cl
		// Polling drives the group (callbacks run inside PollFetches).
		go func() {
			for {
				f := cl.PollFetches(context.Background())
				if f.IsClientClosed() {
					return
				}
			}
		}()
		return m, nil
	}
	snapshot := func(m *member) []int {
		m.mu.Lock()
		defer m.mu.Unlock()
		ps := []int{}
		for p := range m.assigned {
			ps = append(ps, int(p))
		}
		sort.Ints(ps)
		return ps
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
	a, err := start(instance)
	if err != nil {
		return nil, err
	}
	b, err := start("")
	if err != nil {
		closeSoon(a.cl, time.Second)
		return nil, err
	}
	defer closeSoon(b.cl, time.Second)
	balanced := waitFor(func() bool {
		return len(snapshot(a))+len(snapshot(b)) == 4 && len(snapshot(a)) == 2
	}, slowTimeout)
	if !balanced {
		closeSoon(a.cl, time.Second)
		return map[string]any{"balanced": false, "a": len(snapshot(a)), "b": len(snapshot(b))}, nil
	}
	before := snapshot(a)
	bBefore := snapshot(b)
	b.mu.Lock()
	bRevokes := b.revokes
	b.mu.Unlock()
	closeSoon(a.cl, 5*time.Second) // a static member does not send LeaveGroup on close
	restarted := time.Now()
	a2, err := start(instance)
	if err != nil {
		return nil, err
	}
	defer closeSoon(a2.cl, time.Second)
	back := waitFor(func() bool { return len(snapshot(a2)) > 0 }, slowTimeout)
	took := time.Since(restarted)
	// Give a rebalance that the rejoin might have started the time to reach b.
	time.Sleep(500 * time.Millisecond)
	b.mu.Lock()
	bRevokedSince := b.revokes - bRevokes
	b.mu.Unlock()
	observed := map[string]any{"balanced": true, "assigned_again": back,
		"same_partitions": fmt.Sprint(snapshot(a2)) == fmt.Sprint(before),
		"other_kept":      fmt.Sprint(snapshot(b)) == fmt.Sprint(bBefore),
		"other_revoked":   bRevokedSince > 0}
	if back {
		observed["within"] = bucket(took)
	}
	return observed, nil
}

// idempotence: franz-go's producer is idempotent by default (InitProducerId, then sequence
// numbers per partition); ten records read back once each.
func (r *runner) idempotence(ctx context.Context) (any, error) {
	topic := r.prefix + "-i"
	if err := r.createTopic(ctx, topic, 1); err != nil {
		return nil, err
	}
	records := []*kgo.Record{}
	for i := 0; i < 10; i++ {
		records = append(records, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := r.cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return nil, err
	}
	got, err := r.fetchFrom(ctx, topic, 10)
	if err != nil {
		return nil, err
	}
	values := map[string]bool{}
	contiguous := true
	for i, rec := range got {
		values[string(rec.Value)] = true
		if rec.Offset != int64(i) {
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
		for _, want := range []string{"github.com/twmb/franz-go", "github.com/twmb/franz-go/pkg/kadm"} {
			for _, dep := range info.Deps {
				if dep.Path == want {
					versions = append(versions, dep.Path[strings.LastIndex(dep.Path, "/")+1:]+" "+dep.Version)
				}
			}
		}
	}
	_ = r.out.Encode(map[string]any{"check": "client.version", "observed": strings.Join(versions, ", ")})
}
