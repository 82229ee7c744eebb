// The room page's state, in one place: the bootstrap the server rendered, the model of the
// cluster, the virtual clock, the scenario and its narration step, and what the inspector shows.
// Every other module imports `state` and reads or sets its fields; none keeps page state of its
// own at module level (only private caches of its own DOM).

import {$} from "./dom.js";
import {Model} from "./model.js";
import {Clock} from "./timeline.js";

const bootstrap = JSON.parse($("#room-bootstrap").textContent);

export const state = {
  bootstrap,
  // Topics and groups drawn in the order the room made them (the scenario's), not by name.
  model: new Model({topics: bootstrap.topic_order, groups: bootstrap.group_order}),
  clock: new Clock(),
  scenario: bootstrap.scenario || {},
  narrationStep: 0,
  inspecting: null, // {kind, id}
  opener: null,     // what had the focus when the inspector opened: it gets it back on close
  // Set by the socket's frames, drawn by the frame loop at most twice a second.
  inspectorDirty: false,
  topicFormsDirty: false,
  charts: null,     // charts.js Charts, set by ui.js (the inspector's lag chart)
};
