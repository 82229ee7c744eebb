// How the page draws the room, chosen by the person or the story:
// - the cluster by topics (each partition once, its replicas as broker marks; the default) or
//   by brokers (every replica a lane on its broker's card, for replication lessons). A
//   narration step may choose (its `view`), `?view=` in the link chooses, and the two buttons
//   over the cluster switch at any time;
// - projector mode: larger type and thicker lines for the back of a lecture hall (the
//   Projector button, P, or `?projector=1`), remembered on this browser.

import {$} from "./dom.js";

const PROJECTOR_KEY = "playground.projector";
const VIEWS = ["topics", "brokers"];

export class View {
  constructor({renderer, state}) {
    this.renderer = renderer;
    this.state = state;
    this.stepSeen = null;
    const params = new URLSearchParams(location.search);
    this.linked = VIEWS.includes(params.get("view")) ? params.get("view") : null;
    for (const b of document.querySelectorAll(".view-switch [data-view]")) {
      b.addEventListener("click", () => this.set(b.dataset.view, {byHand: true}));
    }
    this.set(this.linked || this.stepView() || "topics");
    const projector = $("#presenter");
    let on = params.get("projector") === "1";
    if (!on) {
      try {
        on = localStorage.getItem(PROJECTOR_KEY) === "1";
      } catch {
        on = false; // storage refused (private mode): the default
      }
    }
    this.projector(on);
    projector?.addEventListener("click", () => this.toggleProjector());
  }

  set(view, {byHand = false} = {}) {
    if (byHand) this.linked = view; // the person's choice holds until a step chooses again
    for (const b of document.querySelectorAll(".view-switch [data-view]")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
    if (this.renderer.view !== view) this.renderer.setView(view);
    document.body.dataset.view = view;
  }

  // The view the story's current step asks for: its own, or the nearest earlier step's.
  stepView() {
    const steps = this.state.scenario?.steps || [];
    for (let i = Math.min(this.state.narrationStep ?? 0, steps.length - 1); i >= 0; i--) {
      if (steps[i]?.view) return steps[i].view;
    }
    return null;
  }

  // Each frame: a step that names a view switches to it when the story reaches it.
  tick() {
    const step = this.state.narrationStep;
    if (step === this.stepSeen) return;
    const first = this.stepSeen == null;
    this.stepSeen = step;
    const steps = this.state.scenario?.steps || [];
    const own = steps[step]?.view;
    if (own && !(first && this.linked)) this.set(own);
    else if (first && !this.linked) this.set(this.stepView() || "topics");
  }

  // The Projector button and P (ui.js's shortcuts).
  toggleProjector() {
    this.projector(!document.body.classList.contains("projector"), true);
  }

  projector(on, remember = false) {
    document.body.classList.toggle("projector", on);
    $("#presenter")?.setAttribute("aria-pressed", String(on));
    if (remember) {
      try {
        localStorage.setItem(PROJECTOR_KEY, on ? "1" : "0");
      } catch {
        // not remembered: this page still shows it
      }
    }
    // Bigger cells, fewer of them: lanes measure their window again.
    this.renderer.markAll();
  }
}
