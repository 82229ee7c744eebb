"""How a serving process (Daphne's, or `manage.py kafka_listener`) sets up the interpreter.

Called once, after Django and the app's modules are loaded, before serving."""

import gc
import sys

# PLAYGROUND_GC_YOUNG's default; collections of the middle and the oldest generation, as
# multiples of the young one's: Python's own. Only the young threshold was the cost; full
# collections are what free a room put to sleep (its cluster holds reference cycles), so they
# stay as frequent, relative to the young ones, as Python makes them.
GC_YOUNG = 50_000
GC_MIDDLE = 10
GC_OLD = 10


def tune(young: int) -> None:
    """Every Django middleware, and every database call, hops to a worker thread and back.
    While the loop thread is busy advancing rooms, such a thread waits for the interpreter
    lock until the switch interval (5 ms by default) forces it free: with a dozen hops a
    request, a page or /healthz took 70 ms and more (bench/classroom.py). 1 ms costs nothing
    while no other thread is waiting, which is most of the time.

    The garbage collector: a room fed by real clients allocates two event dicts and a record
    per record (about 100,000 a second), and Python's default young generation of 700
    objects collected so often that a tenth of the listener's time went to it
    (bench/wire_throughput.py: confluent-kafka 64,000 -> 73,000 records/s, aiokafka 0.67 ->
    0.77 of its rate on librdkafka's mock cluster). `young` (PLAYGROUND_GC_YOUNG) container
    objects may be allocated between collections: at most a few MB of cyclic garbage wait a
    little longer. What was loaded at startup (Django, the app, the URL resolvers) is frozen
    out of collections altogether: it lives as long as the process."""
    sys.setswitchinterval(0.001)
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, GC_MIDDLE, GC_OLD)
