// Canvas plots: the loss curve and the particles over the STATES data.

const LABEL_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const VIEW = { x: [-3.2, 3.2], y: [-2.6, 2.6] }; // data fill about [-2.1, 1.9] × [-1.9, 1.6]

function clear(ctx) {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
}

/** A cleared canvas with a framed plot area: margin m, inner width w and height h. */
function plotFrame(canvas) {
  const ctx = canvas.getContext('2d');
  clear(ctx);
  const m = 36;
  const w = canvas.width - 2 * m;
  const h = canvas.height - 2 * m;
  ctx.strokeStyle = '#999';
  ctx.strokeRect(m, m, w, h);
  return { ctx, m, w, h };
}

/**
 * Training loss against step, log-scaled y axis. `losses` is an array of [step, loss]; `held`
 * (optional) the held-out losses, drawn as orange dots.
 */
export function drawLoss(canvas, losses, held = []) {
  const { ctx, m, w, h } = plotFrame(canvas);
  const finite = losses.filter(([, l]) => Number.isFinite(l) && l > 0);
  if (finite.length < 2) return;
  const lastStep = finite[finite.length - 1][0];
  const logs = finite.map(([, l]) => Math.log10(l));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const span = Math.max(hi - lo, 1e-3);
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.fillText(`${(10 ** hi).toPrecision(3)}`, 2, m + 4);
  ctx.fillText(`${(10 ** lo).toPrecision(3)}`, 2, m + h);
  ctx.fillText(`step ${lastStep}`, m + w - 60, m + h + 16);
  ctx.fillText('loss (log scale)', m + 4, m - 6);
  ctx.strokeStyle = '#1f77b4';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  finite.forEach(([step, loss], i) => {
    const x = m + (step / Math.max(lastStep, 1)) * w;
    const y = m + h - ((Math.log10(loss) - lo) / span) * h;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = '#ff7f0e';
  for (const [step, loss] of held) {
    if (!(loss > 0)) continue;
    const x = m + (step / Math.max(lastStep, 1)) * w;
    const y = m + h - Math.min(Math.max((Math.log10(loss) - lo) / span, 0), 1) * h;
    ctx.fillRect(x - 2, y - 2, 4, 4);
  }
}

/**
 * A learned variance over the chain: `rows` holds (t, β_t, β̃_t, Σ_θ(t)) in fours; β (grey,
 * dashed) and β̃ (grey) bound Σ_θ (blue), on a log scale against t.
 */
export function drawVariance(canvas, rows) {
  const { ctx, m, w, h } = plotFrame(canvas);
  const n = rows.length / 4;
  const column = (c) => Array.from({ length: n }, (_, i) => rows[4 * i + c]);
  const [t, beta, tilde, sigma] = [0, 1, 2, 3].map(column);
  const logs = [...beta, ...tilde, ...sigma].filter((v) => v > 0).map(Math.log10);
  const lo = Math.min(...logs);
  const span = Math.max(Math.max(...logs) - lo, 1e-3);
  const tMax = t[n - 1];
  const line = (values, colour, dash) => {
    ctx.strokeStyle = colour;
    ctx.setLineDash(dash);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = m + (t[i] / tMax) * w;
      const y = m + h - ((Math.log10(Math.max(v, 1e-12)) - lo) / span) * h;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    ctx.setLineDash([]);
  };
  line(beta, '#888', [4, 3]);
  line(tilde, '#888', []);
  line(sigma, '#1f77b4', []);
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.fillText(`${(10 ** (lo + span)).toPrecision(2)}`, 2, m + 4);
  ctx.fillText(`${(10 ** lo).toPrecision(2)}`, 2, m + h);
  ctx.fillText(`t = ${tMax}`, m + w - 50, m + h + 16);
  ctx.fillText('learned Σ_θ(t) (blue) between β̃_t and β_t (dashed), log scale', m + 4, m - 6);
}

/**
 * The t drawn for training (bars: each bin's share of the draws) and the distribution the next step
 * draws from (line: p_t's mass per bin), from the web crate's `tHistogram` rows (t_lo, t_hi, share, mass).
 */
export function drawTHistogram(canvas, rows, importance) {
  const { ctx, m, w, h } = plotFrame(canvas);
  const n = rows.length / 4;
  const top = Math.max(...Array.from({ length: n }, (_, i) => Math.max(rows[4 * i + 2], rows[4 * i + 3])), 1e-9);
  const tMax = rows[4 * (n - 1) + 1];
  ctx.fillStyle = '#9ecae1';
  for (let i = 0; i < n; i++) {
    const [lo, hi, share] = [rows[4 * i], rows[4 * i + 1], rows[4 * i + 2]];
    const x0 = m + ((lo - 1) / tMax) * w;
    const bar = (share / top) * h;
    ctx.fillRect(x0, m + h - bar, Math.max(((hi - lo + 1) / tMax) * w - 1, 1), bar);
  }
  ctx.strokeStyle = '#d62728';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    const x = m + ((rows[4 * i] + rows[4 * i + 1]) / 2 / tMax) * w;
    const y = m + h - (rows[4 * i + 3] / top) * h;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
  ctx.fillStyle = '#444';
  ctx.font = '11px sans-serif';
  ctx.fillText(`t = ${tMax}`, m + w - 50, m + h + 16);
  ctx.fillText(`the t drawn so far (bars) and p_t for the next step (red)${importance ? ', ∝ √E[L_t²]' : ', uniform'}`, m + 4, m - 6);
}

/** Its inverse: the data coordinates of canvas pixel (px, py). */
export function fromPixel(canvas, px, py) {
  const x = VIEW.x[0] + (px / canvas.width) * (VIEW.x[1] - VIEW.x[0]);
  const y = VIEW.y[0] + ((canvas.height - py) / canvas.height) * (VIEW.y[1] - VIEW.y[0]);
  return [x, y];
}

function toPixel(canvas, x, y) {
  const px = ((x - VIEW.x[0]) / (VIEW.x[1] - VIEW.x[0])) * canvas.width;
  const py = canvas.height - ((y - VIEW.y[0]) / (VIEW.y[1] - VIEW.y[0])) * canvas.height;
  return [px, py];
}

/** The square the classifier's prediction map covers (matches `Grid::states` in the core crate). */
const MAP_EXTENT = [-2.5, 2.5];

/**
 * A grid of cells over MAP_EXTENT (row 0 at the top), cell i coloured `rgb(i)` = [r, g, b], drawn
 * with opacity `alpha`, blurred between cells when `smooth`.
 */
function drawCells(ctx, width, height, rgb, { alpha = 1, smooth = false } = {}) {
  const cellsCanvas = new OffscreenCanvas(width, height);
  const cellsCtx = cellsCanvas.getContext('2d');
  const image = cellsCtx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...rgb(i), 255], 4 * i);
  cellsCtx.putImageData(image, 0, 0);
  const [lo, hi] = MAP_EXTENT;
  const [x0, y0] = toPixel(ctx.canvas, lo, hi);
  const [x1, y1] = toPixel(ctx.canvas, hi, lo);
  ctx.globalAlpha = alpha;
  ctx.imageSmoothingEnabled = smooth;
  ctx.drawImage(cellsCanvas, x0, y0, x1 - x0, y1 - y0);
  ctx.globalAlpha = 1;
  ctx.imageSmoothingEnabled = true;
}

/** The data's p_t as a heat map, darker where denser (square root: the tails stay visible). */
function drawDensity(ctx, { cells, size }) {
  const max = cells.reduce((a, b) => Math.max(a, b), 0) || 1;
  drawCells(ctx, size, size, (i) => {
    const v = Math.sqrt(cells[i] / max);
    return [255 - 180 * v, 255 - 120 * v, 255 - 30 * v];
  }, { smooth: true });
}

/** The prediction map: each cell tinted with its predicted state's colour. */
function drawMap(ctx, { cells, width, height }) {
  const rgb = LABEL_COLOURS.map((hex) => [0, 1, 2].map((c) => parseInt(hex.slice(1 + 2 * c, 3 + 2 * c), 16)));
  drawCells(ctx, width, height, (i) => rgb[cells[i] % 5], { alpha: 0.22 });
}

/**
 * The score field: an arrow at each grid point along (u, v) = s(t)∇log p_t = −ε̂. `rows` is a
 * Float32Array of (x, y, u, v); arrows are scaled so the longest spans one grid cell.
 */
function drawField(ctx, rows) {
  const n = rows.length / 4;
  if (n < 4) return;
  const size = Math.round(Math.sqrt(n));
  const cell = (MAP_EXTENT[1] - MAP_EXTENT[0]) / Math.max(size - 1, 1);
  let longest = 0;
  for (let i = 0; i < n; i++) longest = Math.max(longest, Math.hypot(rows[4 * i + 2], rows[4 * i + 3]));
  if (!(longest > 0)) return;
  const scale = (0.9 * cell) / longest;
  ctx.strokeStyle = '#c0392b';
  ctx.globalAlpha = 0.7;
  ctx.lineWidth = 1;
  for (let i = 0; i < n; i++) {
    const [x, y, u, v] = [rows[4 * i], rows[4 * i + 1], rows[4 * i + 2] * scale, rows[4 * i + 3] * scale];
    const [px, py] = toPixel(ctx.canvas, x, y);
    const [qx, qy] = toPixel(ctx.canvas, x + u, y + v);
    ctx.beginPath();
    ctx.moveTo(px, py);
    ctx.lineTo(qx, qy);
    // A small head: two strokes back from the tip.
    const angle = Math.atan2(qy - py, qx - px);
    const head = Math.min(4, Math.hypot(qx - px, qy - py) / 2);
    for (const side of [-0.5, 0.5]) {
      ctx.moveTo(qx, qy);
      ctx.lineTo(qx - head * Math.cos(angle + side), qy - head * Math.sin(angle + side));
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

/** The paths of the first 200 particles through `frames` (positions at successive times). */
function drawTrails(canvas, ctx, frames) {
  const n = Math.min(200, frames[0].length / 2);
  ctx.strokeStyle = 'rgba(31, 119, 180, 0.45)';
  ctx.lineWidth = 1;
  for (let i = 0; i < n; i++) {
    ctx.beginPath();
    frames.forEach((x, k) => {
      const [px, py] = toPixel(canvas, x[2 * i], x[2 * i + 1]);
      if (k === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    });
    ctx.stroke();
  }
}

/**
 * The data outlines (faint, coloured by state) with the particles on top.
 * `data` = { xy: Float32Array [n*2], labels: Uint8Array [n] }, `points` = Float32Array [m*2];
 * `options.density` = the data's p_t heat map to draw first, `options.map` = a prediction map to draw underneath, `options.field` = score-field rows to draw
 * over it, `options.trails` = the particles' earlier positions (frames) to draw as paths,
 * `options.colourOf(i)` = a label per particle.
 */
export function drawScatter(canvas, data, points, caption = '', options = {}) {
  const ctx = canvas.getContext('2d');
  clear(ctx);
  if (options.density) drawDensity(ctx, options.density);
  if (options.map) drawMap(ctx, options.map);
  if (options.field) drawField(ctx, options.field);
  if (options.trails) drawTrails(canvas, ctx, options.trails);
  ctx.globalAlpha = 0.25;
  for (let i = 0; i < data.labels.length; i++) {
    const [px, py] = toPixel(canvas, data.xy[2 * i], data.xy[2 * i + 1]);
    ctx.fillStyle = LABEL_COLOURS[data.labels[i] % 5];
    ctx.fillRect(px - 1, py - 1, 2, 2);
  }
  ctx.globalAlpha = 0.8;
  ctx.fillStyle = '#111';
  if (points) {
    const n = points.length / 2;
    for (let i = 0; i < n; i++) {
      if (options.colourOf) ctx.fillStyle = LABEL_COLOURS[options.colourOf(i, n)];
      const [px, py] = toPixel(canvas, points[2 * i], points[2 * i + 1]);
      ctx.fillRect(px - 1.2, py - 1.2, 2.4, 2.4);
    }
  }
  ctx.globalAlpha = 1;
  if (caption) {
    ctx.fillStyle = '#444';
    ctx.font = '13px sans-serif';
    ctx.fillText(caption, 8, 18);
  }
}

/**
 * The energy mode: exp(−f) as a blue heat map over `extent` = [x0, x1, y0, y1], the particles
 * on top, and `cloud` (one particle's inner particles) in faint blue.
 */
export function drawEnergy(canvas, { density, size, extent }, points, cloud, caption = '') {
  const ctx = canvas.getContext('2d');
  clear(ctx);
  const cells = new OffscreenCanvas(size, size);
  const cellsCtx = cells.getContext('2d');
  const image = cellsCtx.createImageData(size, size);
  density.forEach((d, i) => {
    const v = Math.sqrt(Math.max(0, Math.min(1, d)));
    image.data[4 * i] = 255 - 180 * v;
    image.data[4 * i + 1] = 255 - 120 * v;
    image.data[4 * i + 2] = 255;
    image.data[4 * i + 3] = 255;
  });
  cellsCtx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(cells, 0, 0, canvas.width, canvas.height);
  const [x0, x1, y0, y1] = extent;
  const px = (x, y) => [((x - x0) / (x1 - x0)) * canvas.width, canvas.height - ((y - y0) / (y1 - y0)) * canvas.height];
  const dots = (values, colour, r, alpha) => {
    if (!values) return;
    ctx.globalAlpha = alpha;
    ctx.fillStyle = colour;
    for (let i = 0; i + 1 < values.length; i += 2) {
      const [a, b] = px(values[i], values[i + 1]);
      ctx.fillRect(a - r, b - r, 2 * r, 2 * r);
    }
  };
  dots(cloud, '#1f77b4', 2, 0.35);
  dots(points, '#b03020', 1.3, 0.85);
  ctx.globalAlpha = 1;
  if (caption) {
    ctx.fillStyle = '#222';
    ctx.font = '13px sans-serif';
    ctx.fillText(caption, 8, 18);
  }
}

/**
 * A grid of 28×28 digits given in the model's scale [−1, 1] (flat n·784), ink white on black, with
 * an optional caption under each (the judge's verdict).
 */
export function drawDigits(canvas, x, columns, captions = null) {
  const ctx = canvas.getContext('2d');
  const n = Math.floor(x.length / 784);
  const rows = Math.ceil(n / columns);
  const captionHeight = captions ? 14 : 0;
  const cell = Math.floor(Math.min(canvas.width / columns, canvas.height / rows - captionHeight));
  ctx.fillStyle = '#222';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const digit = new OffscreenCanvas(28, 28);
  const digitCtx = digit.getContext('2d');
  const image = digitCtx.createImageData(28, 28);
  ctx.imageSmoothingEnabled = false;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 784; p++) {
      const v = Math.max(0, Math.min(255, Math.round((x[i * 784 + p] + 1) * 127.5)));
      image.data.set([v, v, v, 255], p * 4);
    }
    digitCtx.putImageData(image, 0, 0);
    const left = (i % columns) * cell;
    const top = Math.floor(i / columns) * (cell + captionHeight);
    ctx.drawImage(digit, left + 1, top + 1, cell - 2, cell - 2);
    if (captions) {
      ctx.fillStyle = '#ddd';
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillText(captions[i], left + 3, top + cell + 10);
    }
  }
}

/** One digit (bytes 0..255) with its erased pixels (mask 0) tinted, scaled up for editing. */
export function drawEditor(canvas, image, mask) {
  const ctx = canvas.getContext('2d');
  const cell = canvas.width / 28;
  for (let p = 0; p < 784; p++) {
    const v = image[p];
    ctx.fillStyle = mask[p] ? `rgb(${v},${v},${v})` : `rgb(${90 + v / 4},40,40)`;
    ctx.fillRect((p % 28) * cell, Math.floor(p / 28) * cell, cell, cell);
  }
}
