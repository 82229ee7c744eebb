"""Where the playground differs from Apache Kafka, and why. `make conformance` passes a
difference only when it is listed here: (client, check) -> the reason; client "*" for every
client, and a check ending in "*" for every check it begins. A reason that begins "Not yet:"
is work still to do (the card says "not yet"); any other is a difference on purpose. Each
says what the playground does instead and why; the card (docs/COMPATIBILITY.md,
/compatibility) shows them. A listed difference that no longer differs is reported, so the
list stays true."""

NOT_YET = "Not yet: "

TRANSACTIONS = ("Transactions are not modelled yet: a transactional producer fails at once "
                "with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (the room's page says why) where "
                "Kafka runs the transaction; idempotent producers work.")
CONSUMER_PROTOCOL = ("KIP-848's consumer group protocol (group.protocol=consumer) is not "
                     "modelled yet: ConsumerGroupHeartbeat answers UNSUPPORTED_VERSION, as a "
                     "Kafka 4 broker with that protocol turned off does, so the consumer stops "
                     "at once with a clear error where Kafka runs it; the classic protocol "
                     "works.")
CONFIGS = ("The playground models a subset of topic configs (cleanup.policy, retention.ms, "
           "retention.bytes, max.message.bytes, min.insync.replicas, "
           "unclean.leader.election.enable, ...) and describes only those; Kafka lists every "
           "topic config (compression.type, message.timestamp.type, segment.bytes, ...), and a "
           "fresh KRaft node reports min.insync.replicas as a cluster-wide dynamic default.")
SECURITY = ("No security or quotas in a classroom playground: every client is trusted and "
            "unauthenticated, so SASL, ACLs, delegation tokens, SCRAM credentials and client "
            "quotas are not served.")
OPERATIONS = ("Operating the cluster is the page's job (stop and start brokers, preferred "
              "leader election), and the model has no log directories, no partition "
              "reassignment and no KRaft quorum of its own (its controller is ZooKeeper "
              "mode's), so these operator APIs are not served.")
SHARE_GROUPS = (NOT_YET + "share groups (KIP-932) are not modelled, so their APIs are not "
                "served; consumer groups work.")
STREAMS_GROUPS = (NOT_YET + "streams groups (KIP-1071) are not modelled, so their APIs are "
                  "not served.")

DIFFERENCES: dict[tuple[str, str], str] = {
    ("*", "errors.transactional"): TRANSACTIONS,
    ("*", "group.consumer_protocol"): CONSUMER_PROTOCOL,
    ("*", "admin.describe_configs"): CONFIGS,
    ("kcat", "errors.unknown_topic"): (
        "A topic that Metadata auto-creates exists at once in the playground (one command); "
        "Kafka's controller takes a moment, so librdkafka's immediate second Metadata request "
        "is still told UNKNOWN_TOPIC_OR_PARTITION there. Both answer the creating request "
        "UNKNOWN_TOPIC_OR_PARTITION and have the topic afterwards."),
    # APIs Kafka 4.4 advertises that the listener does not (conformance/clients/versions.py)
    **{("versions", f"versions.advertised.{api}"): TRANSACTIONS for api in (
        "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit",
        "WriteTxnMarkers", "DescribeTransactions", "ListTransactions", "DescribeProducers")},
    ("versions", "versions.advertised.ConsumerGroupDescribe"): CONSUMER_PROTOCOL,
    **{("versions", f"versions.advertised.{api}"): SECURITY for api in (
        "SaslHandshake", "SaslAuthenticate", "CreateAcls", "DeleteAcls", "DescribeAcls",
        "CreateDelegationToken", "RenewDelegationToken", "ExpireDelegationToken",
        "DescribeDelegationToken", "AlterUserScramCredentials",
        "DescribeUserScramCredentials", "AlterClientQuotas", "DescribeClientQuotas")},
    **{("versions", f"versions.advertised.{api}"): OPERATIONS for api in (
        "AlterPartitionReassignments", "ListPartitionReassignments", "ElectLeaders",
        "AlterReplicaLogDirs", "DescribeLogDirs", "DescribeQuorum", "UpdateFeatures",
        "UnregisterBroker", "UnregisterController", "AddRaftVoter", "RemoveRaftVoter")},
    ("versions", "versions.advertised.*Share*"): SHARE_GROUPS,
    ("versions", "versions.advertised.StreamsGroup*"): STREAMS_GROUPS,
    ("versions", "versions.advertised.ListConfigResources"): (
        NOT_YET + "ListConfigResources (KIP-1142, kafka-configs --list in Kafka 4.1+) is "
        "not served; DescribeConfigs is."),
}


def matches(pattern: str, check: str) -> bool:
    if "*" not in pattern:
        return pattern == check
    head, _, rest = pattern.partition("*")
    if not check.startswith(head):
        return False
    if not rest:
        return True
    middle = rest.rstrip("*")
    return middle in check[len(head):]


def listed(client: str, check: str) -> str | None:
    """The reason a difference in `check` for `client` is listed, or None."""
    for (who, pattern), reason in DIFFERENCES.items():
        if who in ("*", client) and matches(pattern, check):
            return reason
    return None
