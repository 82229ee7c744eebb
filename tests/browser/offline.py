"""The room page without a server: Django renders the template, Playwright serves the static
files from disk, and a stand-in WebSocket plays a recording (recording.py) in the protocol's
shapes. For building the page, its screenshots and bench/anim_frames.py; the browser tests in
test_room.py use the real Daphne server instead.
"""

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://playground.test"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Replaces window.WebSocket: replies to requests with an ack, sends the recorded snapshot, then
# its frames every `interval` ms, or, when `generate` is set, frames made on the fly.
FAKE_SOCKET = r"""
(() => {
  const rec = window.__recording;
  class FakeSocket extends EventTarget {
    static OPEN = 1;
    constructor(url) {
      super();
      this.url = String(url);
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
        this.deliver(rec.snapshot);
        this.play();
      }, 20);
    }
    deliver(msg) {
      this.dispatchEvent(new MessageEvent("message", {data: JSON.stringify(msg)}));
    }
    play() {
      let i = 0;
      const tick = () => {
        // Keeps ticking after the recording ends: a generator may be installed later.
        if (window.__generate) this.deliver(window.__generate());
        else if (i < rec.frames.length) this.deliver(rec.frames[i++]);
        setTimeout(tick, rec.interval || 50);
      };
      tick();
    }
    send(text) {
      const msg = JSON.parse(text);
      window.__sent = (window.__sent || []).concat([msg]);
      if (msg.type === "resync") this.deliver(rec.snapshot);
      else this.deliver({type: "ack", request_id: msg.request_id, seq: 0});
    }
    close() {}
  }
  window.WebSocket = FakeSocket;
})();
"""


def render_room(scenario: dict) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.template.loader import render_to_string

    bootstrap = {"room_id": "recorded", "ws_path": "/ws/rooms/recorded/", "scenario": scenario}
    return render_to_string(
        "playground/room.html",
        {
            "room_id": "recorded",
            "ws_path": bootstrap["ws_path"],
            "scenario": scenario,
            "bootstrap": bootstrap,
        },
    )


async def open_offline(
    browser,
    recording: dict,
    *,
    viewport=(1280, 720),
    color_scheme="light",
    reduced_motion="no-preference",
    generate_js: str | None = None,
    interval_ms=50,
):
    html = render_room(recording["snapshot"]["room"]["scenario"])
    context = await browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]},
        color_scheme=color_scheme,
        reduced_motion=reduced_motion,
    )
    page = await context.new_page()

    async def serve(route):
        url = route.request.url
        if url.startswith(f"{BASE}/static/"):
            path = ROOT / "static" / url[len(f"{BASE}/static/") :].split("?")[0]
            kind = {"js": "text/javascript", "css": "text/css"}.get(
                path.suffix[1:], "application/octet-stream"
            )
            if path.is_file():
                await route.fulfill(body=path.read_bytes(), content_type=kind)
                return
            await route.fulfill(status=404, body="")
            return
        await route.fulfill(body=html, content_type="text/html")

    await page.route(f"{BASE}/**", serve)
    await page.add_init_script(
        f"window.__recording = {json.dumps({**recording, 'interval': interval_ms})};"
    )
    if generate_js:
        await page.add_init_script(generate_js)
    await page.add_init_script(FAKE_SOCKET)
    await page.goto(f"{BASE}/r/recorded")
    return page
