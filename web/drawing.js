// Your own data: with "draw points" on, pressing and dragging on the sampling canvas adds points
// (one every 6 px of the stroke), in the data's units; "the points drawn" in the training form's
// data menu trains on them. The drawing is the page's; the core checks it when training starts.

import { fromPixel } from './plots.js';

/** Wires the drawing; `state.drawn` is the flat [x, y, …] list, `redraw()` shows it. */
export function setupDrawing({ $, state, redraw }) {
  state.drawn = [];
  const canvas = $('scatter');
  let last = null;
  const count = () => { $('drawn-count').textContent = `${state.drawn.length / 2} points drawn`; };
  const add = (event) => {
    const rect = canvas.getBoundingClientRect();
    const px = ((event.clientX - rect.left) * canvas.width) / rect.width;
    const py = ((event.clientY - rect.top) * canvas.height) / rect.height;
    if (last && Math.hypot(px - last[0], py - last[1]) < 6) return;
    last = [px, py];
    state.drawn.push(...fromPixel(canvas, px, py));
    count();
    redraw();
  };
  canvas.addEventListener('pointerdown', (event) => {
    if (!$('draw-mode').checked) return;
    last = null;
    canvas.setPointerCapture(event.pointerId);
    add(event);
  });
  canvas.addEventListener('pointermove', (event) => {
    if ($('draw-mode').checked && canvas.hasPointerCapture(event.pointerId)) add(event);
  });
  $('clear-drawing').addEventListener('click', () => {
    state.drawn = [];
    count();
    redraw();
  });
  $('draw-mode').addEventListener('change', () => {
    if ($('draw-mode').checked) $('data-source').value = 'drawn';
    redraw();
  });
  count();
}

/** The data to draw under the particles: the drawing when it is what the page trains on. */
export function shownData(state, statesData) {
  if (document.getElementById('data-source').value !== 'drawn') return statesData;
  return { xy: Float32Array.from(state.drawn), labels: new Uint8Array(state.drawn.length / 2) };
}
