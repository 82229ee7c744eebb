// The room's WebSocket (protocol.md): requests with ids and their replies, frames checked for
// gaps, a resync when one is missing, a big snapshot joined from its parts, and reconnection
// with back-off.

// Close codes after which reconnecting soon cannot help but later may: every room slot is busy
// (4503), or this address is over one of its limits (4429: too many sockets, rooms woken).
const SLOW_RETRY = {4503: "full", 4429: "too-many"};
const SLOW_RETRY_MS = 15000;

export class RoomSocket {
  constructor(path, {onSnapshot, onFrame, onNotice, onStatus, onYou, onRoom} = {}) {
    this.path = path;
    this.handlers = {onSnapshot, onFrame, onNotice, onStatus, onYou, onRoom};
    this.lastSeq = null; // null until the first snapshot
    this.waiting = new Map(); // request_id -> {resolve, reject}
    this.counter = 0;
    this.retryMs = 500;
    this.closed = false;
    this.resyncing = false;
    this.parts = null; // {id, count, chunks} while a snapshot arrives in parts
    this.open();
  }

  open() {
    const url = new URL(this.path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    this.status("connecting");
    ws.addEventListener("open", () => {
      this.retryMs = 500;
      this.status("open");
    });
    ws.addEventListener("message", (msg) => this.receive(msg.data));
    ws.addEventListener("close", (event) => {
      for (const {reject} of this.waiting.values()) reject({field: "connection", message: "the connection closed"});
      this.waiting.clear();
      this.parts = null;
      if (this.closed) return;
      this.lastSeq = null;
      // 4404: the room does not exist (any more); reconnecting cannot help.
      if (event.code === 4404) {
        this.closed = true;
        this.status("gone");
        return;
      }
      // 4503 / 4429: try again, but slowly (the error before the close said why).
      const slow = SLOW_RETRY[event.code];
      const wait = slow ? Math.max(this.retryMs, SLOW_RETRY_MS) : this.retryMs;
      this.status(slow || "reconnecting");
      setTimeout(() => this.open(), wait);
      this.retryMs = Math.min(this.retryMs * 2, 8000);
    });
  }

  status(s) {
    this.state = s;
    this.handlers.onStatus?.(s);
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case "snapshot.part":
        this.part(msg);
        break;
      case "snapshot":
        this.lastSeq = msg.seq;
        this.resyncing = false;
        this.handlers.onSnapshot?.(msg);
        break;
      case "frame":
        if (this.lastSeq == null || this.resyncing) return; // a snapshot is on its way
        if (msg.from_seq !== this.lastSeq + 1) {
          this.resync();
          return;
        }
        this.lastSeq = msg.to_seq;
        this.handlers.onFrame?.(msg);
        if (msg.room && typeof msg.room.open === "boolean") this.handlers.onRoom?.(msg.room);
        break;
      case "you":
        this.handlers.onYou?.(msg);
        break;
      case "room":
        // The room was opened to everyone or taken back (a broadcast, no request_id).
        if (msg.request_id == null) {
          this.handlers.onRoom?.(msg);
          break;
        }
      // falls through: a reply that happens to share the type
      case "ack":
      case "shared":
      case "forked":
      case "error": {
        const w = this.waiting.get(msg.request_id);
        if (w) {
          this.waiting.delete(msg.request_id);
          if (msg.type !== "error") w.resolve(msg);
          else w.reject(msg);
        } else if (msg.type === "error") {
          this.handlers.onNotice?.({level: "warning", message: `${msg.field}: ${msg.message}`});
        }
        break;
      }
      case "notice":
        this.handlers.onNotice?.(msg);
        break;
      default:
        break;
    }
  }

  // A snapshot too big for one message comes as parts, in order, with nothing between them;
  // the last one completes its text, which is then handled exactly as a snapshot.
  part(msg) {
    if (msg.index === 0) this.parts = {id: msg.id, count: msg.count, chunks: []};
    const p = this.parts;
    if (!p || p.id !== msg.id || p.count !== msg.count || p.chunks.length !== msg.index
        || typeof msg.data !== "string") {
      // Cannot happen on one socket; never show half a snapshot: ask for a whole one.
      this.parts = null;
      this.resync();
      return;
    }
    p.chunks.push(msg.data);
    if (p.chunks.length === p.count) {
      this.parts = null;
      this.receive(p.chunks.join(""));
    }
  }

  resync() {
    this.resyncing = true;
    this.raw({type: "resync"});
  }

  raw(obj) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  request(type, fields) {
    const prefix = {command: "c", control: "k", narrate: "n", share: "s", fork: "f", room: "o"}[type] || "r";
    const request_id = `${prefix}${++this.counter}`;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) {
        reject({field: "connection", message: "not connected to the room"});
        return;
      }
      this.waiting.set(request_id, {resolve, reject});
      this.ws.send(JSON.stringify({type, request_id, ...fields}));
    });
  }

  command(command) {
    return this.request("command", {command});
  }

  control(action, extra = {}) {
    return this.request("control", {action, ...extra});
  }

  narrate(step) {
    return this.request("narrate", {step});
  }

  // Presenter only: let everyone drive ("open") or take it back ("close").
  roomAction(action) {
    return this.request("room", {action});
  }

  // Saves the room so far as a recording; resolves to {slug, url}.
  share(title) {
    return this.request("share", title ? {title} : {});
  }

  // A new room from this one's state now; resolves to {room, url}.
  fork() {
    return this.request("fork", {});
  }
}
