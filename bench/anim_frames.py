"""Animation frame times of the room page with 300+ tokens in flight, in Debian's Chromium.

The page is the real one (templates/playground/room.html and static/playground/*.js); only the
WebSocket is a stand-in (tests/browser/offline.py) that sends the recorded Amazon room's
snapshot and then, every 50 ms like the server's frames, a frame of new records produced and
delivered, enough to keep the token cap (400) full. Frame times are the gaps between
consecutive requestAnimationFrame timestamps, sampled for `--seconds` once the page holds at
least 300 tokens in flight.

    .venv/bin/python bench/anim_frames.py [--seconds 6] [--per-frame 40]

Target: p95 frame time at most 20 ms.
"""

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.offline import CHROMIUM_FLAGS, open_offline  # noqa: E402
from tests.browser.recording import build  # noqa: E402

# Frames made in the page: `perFrame` records produced round-robin over order-placed's
# partitions, each delivered to one consumer of every group (so 1 + groups tokens a record).
GENERATE_JS = """
window.__benchSetup = (perFrame) => {
  const snap = window.__recording.snapshot;
  let seq = snap.seq;
  let now = snap.state.now_ms;
  const parts = snap.state.topics["order-placed"].partitions.map((p) => ({
    p: p.partition, leader: p.leader,
    next: p.log_end_offset}));
  const groups = Object.entries(snap.state.groups).map(([g, v]) => [g, v.members]);
  const owner = (members, p) =>
    Object.entries(members).find(([, tps]) => tps.some(([, q]) => q === p))?.[0];
  let n = 0;
  window.__generate = () => {
    const from = seq + 1;
    const events = [];
    now += 50;
    for (let i = 0; i < perFrame; i++) {
      const part = parts[n % parts.length];
      const offset = part.next++;
      const key = `order-${n++}`;
      events.push({seq: ++seq, t_ms: now, type: "record.produced", topic: "order-placed",
        partition: part.p, offset, key, value: key, leader: part.leader,
        why: {method: "murmur2", hash: 0, partitions: 3}});
      for (const [g, members] of groups) {
        const c = owner(members, part.p);
        if (c) events.push({seq: ++seq, t_ms: now, type: "record.delivered", group: g, consumer: c,
          topic: "order-placed", partition: part.p, offset, attempt: 1});
      }
    }
    return {type: "frame", from_seq: from, to_seq: seq,
      clock: {now_ms: now, speed: 1, playing: true},
      events, aggregates: []};
  };
};
"""

MEASURE_JS = """async (seconds) => {
  const r = window.playground.renderer;
  // Wait until the cap is reached, then sample.
  const t0 = performance.now();
  while (r.flights.size < 350) {
    if (performance.now() - t0 > 15000) throw new Error(`only ${r.flights.size} tokens in flight`);
    await new Promise((ok) => requestAnimationFrame(ok));
  }
  const stamps = [];
  const inFlight = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = await new Promise((ok) => requestAnimationFrame(ok));
    stamps.push(t);
    inFlight.push(r.flights.size);
  }
  return {stamps, inFlight, sampled: r.sampled};
}"""


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def main(seconds: float, per_frame: int) -> int:
    from playwright.async_api import async_playwright

    recording = build(until_ms=1000)
    recording["frames"] = []  # the generator makes every frame
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = await open_offline(browser, recording, generate_js=GENERATE_JS)
        await page.evaluate(f"window.__benchSetup({per_frame})")
        result = await page.evaluate(MEASURE_JS, seconds)
        await browser.close()
    stamps = result["stamps"]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    figures = {
        "frames": len(gaps),
        "tokens_in_flight_min": min(result["inFlight"]),
        "tokens_in_flight_mean": round(statistics.mean(result["inFlight"]), 1),
        "records_sampled_not_drawn": result["sampled"],
        "frame_ms_p50": round(percentile(gaps, 0.50), 2),
        "frame_ms_p95": round(percentile(gaps, 0.95), 2),
        "frame_ms_p99": round(percentile(gaps, 0.99), 2),
        "frame_ms_max": round(max(gaps), 2),
    }
    print(json.dumps(figures, indent=2))
    print(
        "command: .venv/bin/python bench/anim_frames.py"
        f" --seconds {seconds:g} --per-frame {per_frame}"
    )
    ok = figures["frame_ms_p95"] <= 20 and figures["tokens_in_flight_min"] >= 300
    print("target p95 <= 20 ms with >= 300 tokens in flight:", "met" if ok else "NOT met")
    # A figure, not a test: `make bench` runs every benchmark, so a missed target is printed,
    # not turned into a failure (the machine may be busy).
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--per-frame", type=int, default=40)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.per_frame)))
