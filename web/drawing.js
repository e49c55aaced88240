// Your own data: with "draw points" on, pressing and dragging on the sampling canvas adds points
// (one every 6 px of the stroke), in the data's units, or a US state's outline replaces them;
// "the points drawn" in the training form's data menu trains on them. The drawing is the page's; the core checks it when training starts.
// Up to 500 points it is kept in the link (`#drawn=…`, web/drawing-link.js).

import { fromPixel } from './plots.js';
import { LINK_POINTS, drawingExtra } from './drawing-link.js';
import { registerExtra, updateHash } from './url-state.js';

/** Wires the drawing; `state.drawn` is the flat [x, y, …] list, `redraw()` shows it. */
export function setupDrawing({ $, state, redraw }) {
  state.drawn = [];
  const canvas = $('scatter');
  let last = null;
  const count = () => {
    const points = state.drawn.length / 2;
    const tooMany = points > LINK_POINTS.max ? ` (over ${LINK_POINTS.max}: not kept in the link, download it)` : '';
    $('drawn-count').textContent = `${points} points drawn${tooMany}`;
  };
  // The drawing changed: show it, count it, and put it in the link.
  const changed = () => {
    count();
    redraw();
    updateHash();
  };
  registerExtra('drawn', drawingExtra(() => state.drawn, (points) => {
    state.drawn = points;
    changed();
  }));
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
  canvas.addEventListener('pointerup', () => {
    if ($('draw-mode').checked) updateHash();
  });
  $('download-drawing').addEventListener('click', () => {
    const rows = [];
    for (let i = 0; i < state.drawn.length; i += 2) rows.push(`${state.drawn[i].toFixed(4)},${state.drawn[i + 1].toFixed(4)}`);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([`x,y\n${rows.join('\n')}\n`], { type: 'text/csv' }));
    link.download = 'drawing.csv';
    link.click();
    URL.revokeObjectURL(link.href);
  });
  $('clear-drawing').addEventListener('click', () => {
    state.drawn = [];
    changed();
  });
  // Any US state's outline as the drawing (web/data/us-states.json, made from the npm package
  // us-atlas by tools/us-states/make.mjs).
  fetch('web/data/us-states.json')
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
    .then((outlines) => {
      for (const name of Object.keys(outlines)) $('us-state').add(new Option(name, name));
      $('us-state').addEventListener('change', () => {
        const points = outlines[$('us-state').value];
        if (!points) return;
        state.drawn = points.slice();
        $('data-source').value = 'drawn';
        changed();
      });
    })
    .catch((err) => { $('us-state').title = `the state outlines could not be loaded: ${err.message}`; });
  $('draw-mode').addEventListener('change', () => {
    if ($('draw-mode').checked) {
      $('data-source').value = 'drawn';
      // On a narrow screen the canvas sits above the controls: bring it back to draw on (once the
      // display has switched to it, which this change also does).
      requestAnimationFrame(() => canvas.scrollIntoView({ block: 'nearest' }));
    }
    redraw();
  });
  count();
}

/** The data to draw under the particles: the drawing when it is what the page trains on. */
export function shownData(state, statesData) {
  if (document.getElementById('data-source').value !== 'drawn') return statesData;
  return { xy: Float32Array.from(state.drawn), labels: new Uint8Array(state.drawn.length / 2) };
}
