// Painting the tokens on their canvas: shared by the page (when it must paint them itself)
// and tokenworker.js (which paints them off the page's main thread). Where each token is, and
// everything else about it, is decided on the page (tokens.js); this only draws a frame's
// batch: per token its device-pixel x and y, its opacity and its disc.

// A frame's batch is a Float32Array of `stride` numbers a token: x, y, opacity, disc index.
// The page decides the layout and each disc's half-width (what a click must land within);
// they come with each frame and disc.

export class Painter {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.discs = []; // index -> bitmap, as the page numbered them
    this.box = null; // where the last frame drew, in device pixels
    this.dpr = 1;
  }

  // The canvas's size and the inks discs are drawn with; every disc is made again.
  size({width, height, dpr, ink}) {
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    this.dpr = dpr;
    this.ink = ink;
    this.discs = [];
    this.box = null;
  }

  // A disc, key-coloured, a little wider than round so a four-digit label fits, with a ↻ for
  // a redelivery or ✕ for a dead letter; a copy (brokers view) is a small one. Made once per
  // (colour, kind) and drawn as a bitmap: far cheaper than an arc and a stroke per token.
  disc(index, {colour, kind, half}) {
    const dpr = this.dpr;
    const small = kind === "replica";
    const r = small ? 7 : 12;
    const pad = kind === "retry" || kind === "dead" ? 8 : 2;
    const width = Math.ceil((half + pad) * 2 * dpr), height = Math.ceil((r + pad) * 2 * dpr);
    // In the worker an OffscreenCanvas; on a page that paints for itself because it has none,
    // a canvas element (drawImage takes either).
    const sp = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement("canvas"), {width, height});
    const c = sp.getContext("2d");
    c.scale(dpr, dpr);
    const mx = sp.width / dpr / 2;
    const my = sp.height / dpr / 2;
    c.globalAlpha = small ? 0.8 : 1;
    c.fillStyle = colour;
    c.strokeStyle = kind === "dead" ? this.ink.red : this.ink.ring;
    c.lineWidth = 2;
    c.beginPath();
    c.roundRect(mx - half, my - r, half * 2, r * 2, r);
    c.fill();
    c.stroke();
    c.globalAlpha = 1;
    if (kind === "retry" || kind === "dead") {
      c.font = "700 12px system-ui, sans-serif";
      c.textAlign = "center";
      c.textBaseline = "middle";
      c.fillStyle = kind === "retry" ? this.ink.amber : this.ink.red;
      c.fillText(kind === "retry" ? "↻" : "✕", mx + half - 1, my - r + 3);
    }
    this.discs[index] = sp;
  }

  // One frame: new discs first (numbered by the page), then every token; labels [text, ink]
  // by token when the page wants them (few tokens), else null.
  paint({tokens, count, stride, discs = [], labels = null}) {
    for (const [index, spec] of discs) this.disc(index, spec);
    const ctx = this.ctx;
    const dpr = this.dpr;
    // Clear only where tokens were and are: a canvas cleared whole is damaged whole, and the
    // browser repaints and uploads all of it every frame.
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < count; i++) {
      const x = tokens[i * stride], y = tokens[i * stride + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    const box = count ? [x0 - 30 * dpr, y0 - 24 * dpr, x1 + 30 * dpr, y1 + 24 * dpr] : null;
    const was = this.box;
    if (was || box) {
      const a = was && box ? [Math.min(was[0], box[0]), Math.min(was[1], box[1]), Math.max(was[2], box[2]), Math.max(was[3], box[3])] : was || box;
      ctx.clearRect(Math.floor(a[0]), Math.floor(a[1]), Math.ceil(a[2] - a[0]) + 1, Math.ceil(a[3] - a[1]) + 1);
    }
    this.box = box;
    if (labels) {
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.font = `700 ${12 * dpr}px system-ui, sans-serif`;
    }
    for (let i = 0; i < count; i++) {
      const o = i * stride;
      const disc = this.discs[tokens[o + 3]];
      if (!disc) continue;
      const px = tokens[o], py = tokens[o + 1];
      ctx.globalAlpha = tokens[o + 2];
      ctx.drawImage(disc, px - disc.width / 2, py - disc.height / 2);
      const label = labels && labels[i];
      if (label) {
        ctx.fillStyle = label[1];
        ctx.fillText(label[0], px, py + dpr / 2);
      }
    }
    ctx.globalAlpha = 1;
  }
}
