// What every part of the drawing (cluster.js, groups.js, tokens.js) reads from the renderer it
// belongs to: the page's model, the root and the columns it draws into, the view chosen, what
// is dirty, and the sparklines. Read through the renderer, so a change there (the view) is seen.

export class Part {
  constructor(r) {
    this.r = r;
  }

  get model() { return this.r.model; }
  get root() { return this.r.root; }
  get cols() { return this.r.cols; }
  get view() { return this.r.view; }
  get dirty() { return this.r.dirty; }
  get charts() { return this.r.charts; }
}
