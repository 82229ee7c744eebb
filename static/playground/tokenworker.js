// Paints the room's tokens off the page's main thread: the page hands this worker its canvas
// (transferControlToOffscreen) and then, each frame, where the tokens are (tokens.js). The
// canvas's frames then reach the screen from here, so neither the drawing nor the copy of a
// window-sized bitmap into every frame's commit is the main thread's work (bench/anim_frames.py).
import {Painter} from "./tokenpaint.js";

let painter = null;
self.onmessage = ({data}) => {
  if (data.canvas) painter = new Painter(data.canvas);
  if (!painter) return;
  if (data.size) painter.size(data.size);
  if (data.frame) painter.paint(data.frame);
};
self.postMessage({ready: true});
