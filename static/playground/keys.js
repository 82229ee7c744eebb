// Keys on the page: each record's key picks its colour (Okabe–Ito, colour-blind safe) and a
// short label, the same on tokens, cells, consumer chips, the legend and the inspector.

// Okabe–Ito, colour-blind safe; black is left out (it is the text colour in light mode).
export const PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"];
// Text on each colour: black where it reads at 4.5:1 or better, white on the dark blue.
const INK = ["#111", "#111", "#111", "#111", "#fff", "#111", "#111"];
const NULL_KEY = "#b8bdc2";

function keyIndex(key) {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % PALETTE.length;
}

export function keyColour(key) {
  return key == null ? NULL_KEY : PALETTE[keyIndex(key)];
}

export function keyInk(key) {
  return key == null ? "#111" : INK[keyIndex(key)];
}

// The CSS custom properties a key-coloured element needs: its fill and its text colour.
export function keyStyle(key) {
  return `--key:${keyColour(key)};--ink:${keyInk(key)}`;
}

// What a token says: the key's trailing number if it has one ("order-17" → "17"), else its
// first three characters; "∅" for no key.
export function keyLabel(key) {
  if (key == null) return "∅";
  const m = /(\d+)$/.exec(key);
  return m ? m[1].slice(-4) : key.slice(0, 3);
}
