// Canvas plots: the loss curve and the particles over the STATES data.

const LABEL_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const VIEW = { x: [-3.2, 3.2], y: [-2.6, 2.6] }; // data fill about [-2.1, 1.9] × [-1.9, 1.6]

function clear(ctx) {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
}

/** Training loss against step, log-scaled y axis. `losses` is an array of [step, loss]. */
export function drawLoss(canvas, losses) {
  const ctx = canvas.getContext('2d');
  clear(ctx);
  const m = 36;
  const w = canvas.width - 2 * m;
  const h = canvas.height - 2 * m;
  ctx.strokeStyle = '#999';
  ctx.strokeRect(m, m, w, h);
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
}

function toPixel(canvas, x, y) {
  const px = ((x - VIEW.x[0]) / (VIEW.x[1] - VIEW.x[0])) * canvas.width;
  const py = canvas.height - ((y - VIEW.y[0]) / (VIEW.y[1] - VIEW.y[0])) * canvas.height;
  return [px, py];
}

/**
 * The data outlines (faint, coloured by state) with the particles on top.
 * `data` = { xy: Float32Array [n*2], labels: Uint8Array [n] }, `points` = Float32Array [m*2].
 */
export function drawScatter(canvas, data, points, caption = '') {
  const ctx = canvas.getContext('2d');
  clear(ctx);
  ctx.globalAlpha = 0.25;
  for (let i = 0; i < data.labels.length; i++) {
    const [px, py] = toPixel(canvas, data.xy[2 * i], data.xy[2 * i + 1]);
    ctx.fillStyle = LABEL_COLOURS[data.labels[i] % 5];
    ctx.fillRect(px - 1, py - 1, 2, 2);
  }
  ctx.globalAlpha = 0.8;
  ctx.fillStyle = '#111';
  if (points) {
    for (let i = 0; i < points.length / 2; i++) {
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
