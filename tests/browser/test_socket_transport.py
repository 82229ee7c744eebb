"""The page's RoomSocket (static/playground/socket.js) in Chromium, on a stand-in WebSocket:
a snapshot sent in parts reaches the page as one snapshot, a broken run of parts is never shown
(the socket asks for a whole snapshot instead), and a 4429 close (this address is over a
limit) is retried slowly and said why, like 4503."""

EXERCISE_JS = r"""async () => {
  class FakeSocket extends EventTarget {
    static OPEN = 1;
    constructor(url) { super(); this.readyState = 1; this.sent = []; FakeSocket.last = this; }
    send(text) { this.sent.push(JSON.parse(text)); }
  }
  window.WebSocket = FakeSocket;
  const {RoomSocket} = await import("/static/playground/socket.js");
  const seen = [];
  const waits = [];
  const realSetTimeout = window.setTimeout;
  window.setTimeout = (fn, ms) => { waits.push(ms); return 0; };
  try {
    new RoomSocket("/ws/rooms/0123456789/", {
      onSnapshot: (m) => seen.push(["snapshot", m.seq, m.state.pad]),
      onFrame: (f) => seen.push(["frame", f.from_seq]),
      onNotice: (n) => seen.push(["notice", n.message]),
      onStatus: (s) => seen.push(["status", s]),
    });
    const ws = FakeSocket.last;
    const message = (o) => ws.dispatchEvent(new MessageEvent("message", {data: JSON.stringify(o)}));
    const pad = "é\"\\x€".repeat(500);
    const text = JSON.stringify({type: "snapshot", seq: 5, state: {pad}, room: {}});
    const cuts = [0, 700, 1500, text.length];
    for (let i = 0; i < 3; i++) {
      const data = text.slice(cuts[i], cuts[i + 1]);
      message({type: "snapshot.part", id: 1, index: i, count: 3, data});
    }
    message({type: "frame", from_seq: 6, to_seq: 6, clock: {}, events: [], aggregates: []});
    // Parts of two different snapshots: neither is shown, a whole one is asked for.
    message({type: "snapshot.part", id: 2, index: 0, count: 2, data: "{\"type\":"});
    message({type: "snapshot.part", id: 3, index: 1, count: 2, data: "\"snapshot\"}"});
    message({type: "error", field: "connections", message: "at most 200 sockets per address"});
    ws.dispatchEvent(new CloseEvent("close", {code: 4429}));
    return {seen, sent: ws.sent, waits, pad};
  } finally {
    window.setTimeout = realSetTimeout;
  }
}"""


async def test_socket_joins_snapshot_parts_and_retries_4429_slowly(browser, site):
    page = await browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{site}/healthz")
    result = await page.evaluate(EXERCISE_JS)
    seen = result["seen"]
    assert ["snapshot", 5, result["pad"]] in seen
    assert seen.index(["snapshot", 5, result["pad"]]) < seen.index(["frame", 6])
    assert [s for s in seen if s[0] == "snapshot"] == [["snapshot", 5, result["pad"]]]
    assert result["sent"] == [{"type": "resync"}]
    assert ["notice", "connections: at most 200 sockets per address"] in seen
    assert seen[-1] == ["status", "too-many"]
    assert result["waits"] and min(result["waits"]) >= 15_000
    assert errors == []
    await page.close()
