"""A produce from Java's kafka-clients, watched in /r/live by a teacher (1440x900) and a
student (390x844) in Debian's Chromium: the teacher follows key order-17 before it exists; the
record Java sends lands on the partition the page's inspector predicts (murmur2, as Java's
default partitioner), is followed there, and animates on the student's page like any other.
Screenshots go to artifacts/browser/java/."""

import subprocess

import pytest

from broker_core.partitioner import partition_for_key
from tests.browser.conftest import ARTIFACTS
from tests.browser.pages import PHONE, WIDE, close, connected, new_page
from tests.clients.conftest import kafka_jars  # noqa: F401  (the fixture)
from tests.kafka.conftest import web_with_listener  # noqa: F401  (the fixture)

pytestmark = pytest.mark.asyncio(loop_scope="module")
SHOTS = ARTIFACTS / "java"
TOPIC, KEY = "java-orders", "order-17"
WAIT_MS = 30_000

PRODUCER = """
import java.util.Properties;
import org.apache.kafka.clients.producer.*;

public class JavaProduce {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 2; i < args.length; i++) {
                RecordMetadata m = producer.send(
                    new ProducerRecord<>(args[1], args[i], "sent by Java")).get();
                System.out.println(args[i] + " " + m.partition() + " " + m.offset());
            }
        }
    }
}
"""


def java_produce(jars: str, bootstrap: str, keys: list[str], tmp_path) -> dict:
    from conformance import kafka

    source = tmp_path / "JavaProduce.java"
    source.write_text(PRODUCER)
    done = subprocess.run([kafka.check_java(), *kafka.quiet_logging("warn"), "-cp", jars,
                           str(source), bootstrap, TOPIC, *keys],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return {k: int(p) for k, p, _ in (line.split() for line in done.stdout.splitlines())}


async def test_a_java_produce_lands_where_the_inspector_predicts_and_animates(
        chromium, web_with_listener, kafka_jars, tmp_path):  # noqa: F811
    from kafka.admin import KafkaAdminClient, NewTopic

    http_port, kafka_port = web_with_listener
    bootstrap = f"127.0.0.1:{kafka_port}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])
    admin.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    row = f'.lane.row[data-topic="{TOPIC}"]'
    teacher = await new_page(chromium, WIDE)
    await teacher.goto(f"http://127.0.0.1:{http_port}/r/live")
    await connected(teacher, WAIT_MS, drawn=row)
    student = await new_page(chromium, PHONE, has_touch=True, is_mobile=True)
    await student.goto(f"http://127.0.0.1:{http_port}/r/live")
    await connected(student, WAIT_MS, drawn=row)

    # The teacher follows a key nothing has produced yet: the page waits for it.
    await teacher.fill("#follow-key", KEY)
    await teacher.click("#follow button[type=submit]")
    await teacher.click("#follow-next")
    await teacher.wait_for_function("() => /Waiting for the next record with key order-17/"
                                    ".test(document.querySelector('#follow-text').textContent)")

    predicted = partition_for_key(KEY, 3)
    sent = java_produce(kafka_jars, bootstrap, [KEY, "order-1", "order-2", "order-3"],
                        tmp_path)
    assert sent[KEY] == predicted  # Java's default partitioner is the inspector's murmur2
    assert {k: p for k, p in sent.items()} == {k: partition_for_key(k, 3) for k in sent}

    await teacher.wait_for_function("() => window.playground.renderer.follow?.id != null",
                                    timeout=WAIT_MS)
    follow_id = await teacher.evaluate("window.playground.renderer.follow.id")
    assert follow_id.startswith(f"{TOPIC}/{predicted}/"), follow_id
    text = await teacher.text_content("#follow-text")
    assert f'murmur2("{KEY}")' in text and f"mod 3 = {predicted}" in text, text
    lit = await teacher.evaluate("""() => [...document.querySelectorAll('.lane.row.lit')]
        .map((r) => `${r.dataset.topic}/${r.dataset.partition}`)""")
    assert lit == [f"{TOPIC}/{predicted}"]
    await teacher.screenshot(path=str(SHOTS / "teacher-follows-java-record-1440.png"))

    # The student sees each of Java's records as a cell of the partition it went to (a cell's
    # title names its offset and key).
    for key, partition in sent.items():
        cell = f'{row}[data-partition="{partition}"] .cell[title$="key {key}"]'
        await student.wait_for_selector(cell, state="attached", timeout=WAIT_MS)
    assert await student.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    await student.screenshot(path=str(SHOTS / "student-sees-java-records-390.png"))
    await close(teacher, student)
