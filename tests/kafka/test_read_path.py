"""The wire listener (playground/kafka/) reads the model only through broker_core.reads and the
answers of Cluster.request: never a cluster's topics, brokers, groups or config directly, nor a
partition's or log's attributes, nor the group coordinator's insides (issue 14). Checked on the
source, so a new handler that reaches into the model fails here rather than breaking when the
model's insides change."""

import ast
from pathlib import Path

KAFKA = Path(__file__).resolve().parents[2] / "playground" / "kafka"
# The facade's own clock readings: not the model's insides.
FACADE = {"now_ms", "next_due_ms"}
# The model's insides a handler once read (Partition, Log, Topic, Group objects).
INSIDES = {"leader_log", "high_watermark", "leader_epoch", "partitions", "replicas", "isr",
           "topics", "brokers", "groups", "members", "config", "controller", "topic_id",
           "replication_factor"}


def _ends_with_cluster(node) -> bool:
    return (isinstance(node, ast.Name) and node.id == "cluster") or (
        isinstance(node, ast.Attribute) and node.attr == "cluster")


def test_the_wire_listener_reads_the_model_only_through_its_read_path():
    found = []
    for path in sorted(KAFKA.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            if _ends_with_cluster(node.value) and node.attr not in FACADE:
                found.append(f"{path.name}:{node.lineno} cluster.{node.attr}")
            elif node.attr in {"leader_log", "high_watermark"}:
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
            elif (isinstance(node.value, ast.Name) and node.value.id == "classic"
                  and node.attr != "GroupError"):
                # The group coordinator's own readers: reads.join_result etc. instead.
                found.append(f"{path.name}:{node.lineno} classic.{node.attr}")
    assert found == [], "reads the model's insides; use broker_core.reads:\n" + "\n".join(found)


def test_the_check_finds_a_handler_that_reaches_into_the_model(tmp_path):
    source = "def h(conn):\n    return conn.room.cluster.topics['t'].partitions[0].leader_log\n"
    tree = ast.parse(source)
    hits = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and (_ends_with_cluster(n.value) or n.attr in INSIDES)]
    assert "topics" in hits and "leader_log" in hits
