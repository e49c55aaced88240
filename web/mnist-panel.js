// The MNIST panel: the CLI's UNet and judge, sampled in the worker; the inpainting editor.

import { drawDigits, drawEditor } from './plots.js';
import { fetchBytes } from './loading.js';

/** Handles the worker's MNIST messages; returns whether `message` was one. */
export function handleMnistMessage(message, { $, state, setStatus, setBusy }) {
  switch (message.type) {
    case 'mnist-loaded':
      Object.assign(state.mnist, { loaded: message.source, describe: message.describe, judge: message.judge, surrogate: message.surrogate });
      $('mnist-model').textContent = `${message.source}: ${message.describe}`
        + (message.surrogate ? '; surrogate: the conv VAE (web/models/mnist-vae.safetensors)' : '')
        + (message.surrogateError ? `; no surrogate start (web/models/mnist-vae.safetensors: ${message.surrogateError})` : '');
      setStatus(`Loaded the MNIST model from ${message.source}. Press Sample digits.`);
      setBusy(false);
      break;
    case 'mnist-frame': {
      const columns = Math.round(Math.sqrt(message.x.length / 784));
      state.mnist.frames = message.frames;
      if (message.frames === 1) state.mnist.firstFrame = (performance.now() - state.mnist.started) / 1000;
      drawDigits($('mnist-grid-canvas'), message.x, columns);
      $('mnist-status').textContent = message.surrogate
        ? `The conv VAE's digits x̃₀ (no network evaluation of the UNet), to be noised to t_mid (${message.t.toFixed(2)} of the way to the prior) and denoised from there`
        : `t = ${message.t.toFixed(3)}, ${message.nfe} network evaluations`;
      break;
    }
    case 'mnist-done': {
      const n = message.x ? message.x.length / 784 : 0;
      const columns = Math.round(Math.sqrt(n)) || 1;
      const probs = message.probs;
      const verdicts = probs ? Array.from({ length: n }, (_, i) => {
        const p = Array.from(probs.slice(i * 10, i * 10 + 10));
        const best = p.indexOf(Math.max(...p));
        return { digit: best, p: p[best] };
      }) : null;
      Object.assign(state.mnist, { x: message.x, probs, verdicts, done: true, nfe: message.nfe, seconds: message.seconds, inpaint: message.inpaint });
      if (message.x) drawDigits($('mnist-grid-canvas'), message.x, columns, verdicts?.map((v) => `${v.digit} (${(100 * v.p).toFixed(0)}%)`));
      const rate = n / message.seconds;
      // A surrogate start counts the evaluations it saved against the whole grid from t = 1.
      const saved = message.tStart != null && message.fullNfe != null
        ? ` (of ${message.fullNfe} from the prior: ${message.fullNfe - message.nfe} saved by starting at t_mid = ${message.tStart})` : '';
      Object.assign(state.mnist, { fullNfe: message.fullNfe, tStart: message.tStart });
      $('mnist-status').textContent = `${message.stopped ? 'Stopped' : 'Done'}: ${n} ${message.inpaint ? 'inpaintings' : 'digits'}, `
        + `${message.nfe} network evaluations${saved}, ${message.seconds.toFixed(1)} s (${rate.toFixed(2)} images/s)`
        + (verdicts ? `; the judge's mean confidence ${(100 * verdicts.reduce((a, v) => a + v.p, 0) / n).toFixed(0)}%` : '');
      setStatus('Sampled digits.');
      setBusy(false);
      break;
    }
    default:
      return false;
  }
  return true;
}

/** Wires the panel's controls; `ui` holds the page's element lookup, state and helpers. */
export function setupMnist({ $, state, worker, readNumber, clearError, setBusy, setStatus, showError }) {
  function mnistLoad(bytes, judge, surrogate, source) {
    clearError();
    setBusy(true);
    setStatus(`Loading ${source}…`);
    const transfer = [bytes, judge, surrogate].filter(Boolean);
    worker.postMessage({ type: 'mnist-load', bytes, judge, surrogate, source }, transfer);
  }
  // The judge and the surrogate are optional: a page without them still samples.
  const optional = (path) => fetchBytes(path).catch(() => null);
  $('mnist-t-mid').addEventListener('input', () => {
    $('mnist-t-mid-label').textContent = $('mnist-t-mid').value;
  });

  // Until the first grid: what to do, on the grid's own canvas.
  const grid = $('mnist-grid-canvas').getContext('2d');
  grid.fillStyle = '#222';
  grid.fillRect(0, 0, grid.canvas.width, grid.canvas.height);
  grid.fillStyle = '#eee';
  grid.font = '18px sans-serif';
  grid.textAlign = 'center';
  for (const [i, line] of ['Load the pre-trained MNIST model,', 'then press Sample digits:', 'each step redraws the grid.'].entries()) {
    grid.fillText(line, grid.canvas.width / 2, grid.canvas.height / 2 - 30 + 30 * i);
  }

  $('mnist-load-pretrained').addEventListener('click', async () => {
    try {
      const [bytes, judge, surrogate] = await Promise.all([fetchBytes('web/models/mnist-vp.safetensors'),
        fetchBytes('web/models/mnist-classifier.safetensors'), optional('web/models/mnist-vae.safetensors')]);
      mnistLoad(bytes, judge, surrogate, 'web/models/mnist-vp.safetensors');
    } catch (err) {
      showError(`pre-trained MNIST model: ${err.message}`);
    }
  });
  $('mnist-file').addEventListener('change', async () => {
    const file = $('mnist-file').files[0];
    if (!file) return;
    const [judge, surrogate] = await Promise.all([optional('web/models/mnist-classifier.safetensors'), optional('web/models/mnist-vae.safetensors')]);
    mnistLoad(await file.arrayBuffer(), judge, surrogate, file.name);
  });

  function mnistSettings() {
    const steps = readNumber('mnist-steps');
    const guidance = readNumber('mnist-guidance');
    const seed = readNumber('mnist-seed');
    if (steps === null || guidance === null || seed === null) return null;
    // A surrogate start's t_mid as a fraction of the way to the prior (null: from the prior).
    const tStart = $('mnist-start').value === 'vae' ? Number($('mnist-t-mid').value) : null;
    return { steps, guidance, seed, sampler: $('mnist-sampler').value, label: Number($('mnist-label').value), tStart };
  }

  $('mnist-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearError();
    const settings = mnistSettings();
    if (!settings) return;
    const side = Number($('mnist-grid').value);
    Object.assign(state.mnist, { frames: 0, done: false, x: null, probs: null, started: performance.now() });
    setBusy(true);
    const from = settings.tStart != null ? ` from the conv VAE's digits at t_mid = ${settings.tStart}` : '';
    setStatus(`Sampling ${side * side} digits with ${settings.sampler}${from}…`);
    worker.postMessage({ type: 'mnist-sample', n: side * side, ...settings });
  });

  // The inpainting editor: a test digit and its mask (1 = keep).
  const editor = { digits: null, index: 0, image: new Uint8Array(784), mask: new Uint8Array(784).fill(1) };
  state.editor = editor;
  async function showTestDigit(index) {
    if (!editor.digits) editor.digits = new Uint8Array(await fetchBytes('web/models/mnist-test-100.bin'));
    editor.index = index % 100;
    editor.label = editor.digits[editor.index];
    editor.image = editor.digits.slice(100 + editor.index * 784, 100 + (editor.index + 1) * 784);
    editor.mask.fill(1);
    drawEditor($('mnist-editor'), editor.image, editor.mask);
  }
  showTestDigit(0).catch((err) => showError(`test digits: ${err.message}`));
  $('mnist-next-digit').addEventListener('click', () => showTestDigit(editor.index + 1));
  $('mnist-reset-mask').addEventListener('click', () => { editor.mask.fill(1); drawEditor($('mnist-editor'), editor.image, editor.mask); });
  $('mnist-erase-half').addEventListener('click', () => {
    for (let p = 14 * 28; p < 784; p++) editor.mask[p] = 0;
    drawEditor($('mnist-editor'), editor.image, editor.mask);
  });
  let erasing = false;
  const erase = (event) => {
    const rect = $('mnist-editor').getBoundingClientRect();
    const col = Math.floor(((event.clientX - rect.left) / rect.width) * 28);
    const row = Math.floor(((event.clientY - rect.top) / rect.height) * 28);
    for (let dr = -1; dr <= 1; dr++) {
      for (let dc = -1; dc <= 1; dc++) {
        const r = row + dr;
        const c = col + dc;
        if (r >= 0 && r < 28 && c >= 0 && c < 28) editor.mask[r * 28 + c] = 0;
      }
    }
    drawEditor($('mnist-editor'), editor.image, editor.mask);
  };
  $('mnist-editor').addEventListener('pointerdown', (event) => { erasing = true; erase(event); });
  $('mnist-editor').addEventListener('pointermove', (event) => { if (erasing) erase(event); });
  window.addEventListener('pointerup', () => { erasing = false; });
  $('mnist-inpaint').addEventListener('click', () => {
    clearError();
    const settings = mnistSettings();
    if (!settings) return;
    Object.assign(state.mnist, { frames: 0, done: false, x: null, probs: null });
    setBusy(true);
    setStatus('Inpainting…');
    const inpaint = { image: editor.image.slice().buffer, mask: editor.mask.slice().buffer };
    // "all, in turn" means nothing for one digit: complete it unconditionally.
    const label = settings.label === -1 ? 10 : settings.label;
    worker.postMessage({ type: 'mnist-sample', n: 4, ...settings, label, inpaint, tStart: null });
  });
}
