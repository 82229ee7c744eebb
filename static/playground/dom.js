// The page's DOM helpers, shared by every module: build an element (user text only ever
// through textContent), the page's command lock, and CSS escaping for selectors.

export const $ = (sel, root = document) => root.querySelector(sel);

// Focus is in a text field (keyboard shortcuts stay out of its way).
export const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

// Why this page may not send commands now (a viewer of a presenter's room, a replay), or null.
// Every command button is built disabled while it is set, so a rebuild never re-enables one;
// ui.js updates the buttons already on the page when it changes.
export const lock = {command: null};

// Disable a control with the reason as its tooltip (reason null: give it back as it was).
export function lockNode(node, reason) {
  if (reason) {
    if (!("locked" in node.dataset)) node.dataset.title0 = node.getAttribute("title") ?? "";
    node.disabled = true;
    node.title = reason;
    node.dataset.locked = "";
  } else if ("locked" in node.dataset) {
    node.disabled = false;
    if (node.dataset.title0) node.title = node.dataset.title0;
    else node.removeAttribute("title");
    delete node.dataset.locked;
    delete node.dataset.title0;
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  if (lock.command && (attrs["data-action"] || attrs["data-command"])) lockNode(node, lock.command);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

// Writes that change nothing still cost: a text set anew is a new text node to lay out and
// paint, and controls refreshed with every frame of the room's stream would be redrawn
// twenty times a second. These write only a change.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

export function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

export function cssEsc(s) {
  return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s).replace(/["\\]/g, "\\$&");
}
