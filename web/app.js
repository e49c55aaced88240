// The page: form handling, plots and the animation. All computation runs in web/worker.js.

import { drawDigits, drawEditor, drawEnergy, drawLoss, drawScatter } from './plots.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.has('embed')) document.body.classList.add('embed');

// Observable state (the browser tests read it; so can a curious user in the console).
const state = {
  device: null, gpu: false, busy: true, ready: false,
  losses: [], samples: null, frames: [], nll: null, errors: [], trainedSteps: 0, loaded: null,
  classifierLosses: [], classifierHeld: [], classifierMetrics: null, classifierTrainedSteps: 0,
  classifierLoaded: null, hasClassifier: false, onTarget: null, label: -1, maps: {}, nfe: 0,
  fields: {}, second: null, sde: 'ddpm',
  energy: null, // { target, density, grads, done, rdmc, ula }
  mnist: { loaded: null, describe: '', judge: false, frames: 0, x: null, probs: null, done: false, nfe: 0, seconds: 0 },
};
window.playground = state;

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let data = null;

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  state.errors.push(text);
  $('error').textContent = text;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function setBusy(busy) {
  state.busy = busy;
  $('mnist-sample').disabled = busy || !state.mnist.loaded;
  $('mnist-inpaint').disabled = busy || !state.mnist.loaded;
  $('mnist-load-pretrained').disabled = busy;
  for (const id of ['train', 'load-url', 'weights-file', 'train-classifier', 'load-classifier-url', 'classifier-file', 'load-pretrained', 'load-pretrained-vp', 'energy-run']) {
    $(id).disabled = busy;
  }
  $('sample').disabled = busy || !state.canSample;
  $('download').disabled = busy || !state.canSample;
  $('download-classifier').disabled = busy || !state.hasClassifier;
  $('stop').disabled = !busy;
}

/** Reads and checks the form; returns null (with a message on the page) if a value is bad. */
function readNumber(id, { min, max, integer }) {
  const text = $(id).value.trim();
  const value = Number(text);
  const name = $(id).closest('label')?.firstChild?.textContent.trim() || id;
  if (text === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    showError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got "${text}"`);
    return null;
  }
  return value;
}

/** The requested label of particle i of n (blocks of the five states for "all"). */
const requestedLabel = (label) => (label === 5 ? (i, n) => Math.floor((i * 5) / n) : () => label);

/** The prediction map computed for the largest t' ≤ t (maps arrive every few steps of t). */
function mapAt(t) {
  if (!$('show-map').checked || t === null) return null;
  const times = Object.keys(state.maps).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return state.maps[Math.max(...times)];
}

/** The score field computed for the largest t' ≤ t, when the toggle is on. */
function fieldAt(t) {
  if (!$('show-field').checked || t === null) return null;
  const times = Object.keys(state.fields).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return state.fields[Math.max(...times)];
}

/** Draws the main run's particles, and the side-by-side run's when `pointsB` is given. */
function redraw(points, caption, t = null, pointsB = null, captionB = '') {
  if (!data) return;
  const guided = state.label >= 0 && points;
  drawScatter($('scatter'), data, points, caption, {
    map: mapAt(t),
    field: fieldAt(t),
    colourOf: guided ? requestedLabel(state.label) : null,
  });
  $('scatter-b').hidden = !pointsB;
  if (pointsB) drawScatter($('scatter-b'), data, pointsB, captionB, { field: fieldAt(t) });
}

const STATES = ['Michigan', 'Idaho', 'Ohio', 'Oklahoma', 'Wisconsin'];

worker.onmessage = ({ data: message }) => {
  switch (message.type) {
    case 'ready':
      data = message.data;
      state.device = message.device;
      state.gpu = message.gpu;
      state.ready = true;
      $('device').textContent = message.device;
      document.body.dataset.device = message.gpu ? 'webgpu' : 'cpu';
      // Defaults that finish in minutes: a GPU takes the CLI's batch, one CPU thread a smaller one.
      $('batch').value = message.gpu ? '4096' : '1024';
      $('steps').value = message.gpu ? '3000' : '1500';
      $('c-batch').value = message.gpu ? '4096' : '1024';
      $('c-steps').value = message.gpu ? '1500' : '600';
      if (!message.gpu) {
        $('mnist-grid').value = '2';
        $('mnist-cpu-note').textContent = 'On the CPU fallback the UNet is much slower than on WebGPU: the grid starts at 2 × 2.';
      }
      if (message.note) setStatus(message.note);
      else setStatus('Ready: press Train, or load weights written by the CLI.');
      redraw(null, 'the STATES data');
      setBusy(false);
      break;
    case 'loss': {
      message.losses.forEach((loss, i) => state.losses.push([message.first + i, loss]));
      state.trainedSteps = message.first + message.losses.length - 1;
      $('speed').textContent = `${message.stepsPerSec.toFixed(2)} steps/s`;
      const last = message.losses[message.losses.length - 1];
      setStatus(`Training: step ${state.trainedSteps}, loss ${last.toFixed(4)}`);
      drawLoss($('loss'), state.losses);
      break;
    }
    case 'preview':
      redraw(message.x, `preview after step ${state.trainedSteps} (NLL ${message.nll.toFixed(3)})`);
      break;
    case 'trained':
      state.canSample = true;
      setStatus(`Trained ${message.steps} steps${message.stopped ? ' (stopped)' : ''}. Press Sample.`);
      setBusy(false);
      break;
    case 'classifier-loss': {
      message.losses.forEach((loss, i) => state.classifierLosses.push([message.first + i, loss]));
      state.classifierTrainedSteps = message.first + message.losses.length - 1;
      $('speed').textContent = `${message.stepsPerSec.toFixed(2)} steps/s`;
      const last = message.losses[message.losses.length - 1];
      setStatus(`Training the classifier: step ${state.classifierTrainedSteps}, cross-entropy ${last.toFixed(4)}`);
      drawLoss($('c-loss'), state.classifierLosses, state.classifierHeld);
      break;
    }
    case 'classifier-metrics': {
      state.classifierMetrics = { loss: message.loss, accuracy: message.accuracy, byBucket: message.byBucket };
      state.classifierHeld.push([message.step, message.loss]);
      const buckets = message.byBucket.map(([lo, hi, a]) => `${lo}–${hi}: ${(100 * a).toFixed(0)}%`).join(', ');
      $('c-accuracy').textContent = `Held-out accuracy ${(100 * message.accuracy).toFixed(1)}% after step ${message.step} `
        + `(chance 20%); by t: ${buckets}`;
      drawLoss($('c-loss'), state.classifierLosses, state.classifierHeld);
      break;
    }
    case 'classifier-trained':
      state.hasClassifier = true;
      setStatus(`Trained the classifier ${message.steps} steps${message.stopped ? ' (stopped)' : ''}. Pick a state and press Sample.`);
      setBusy(false);
      break;
    case 'classifier-loaded':
      state.hasClassifier = true;
      state.classifierLoaded = message.source;
      setStatus(`Loaded the classifier from ${message.source}. Pick a state and press Sample.`);
      setBusy(false);
      break;
    case 'map':
      state.maps[message.t] = { cells: message.cells, width: message.width, height: message.height };
      break;
    case 'field':
      state.fields[message.t] = message.rows;
      break;
    case 'frame':
      $('time').value = message.t;
      $('time-label').textContent = `t = ${message.t}`;
      redraw(message.x, `${$('rule').value}: t = ${message.t} of ${message.total}, ${message.nfe} network evaluations`, message.t,
        message.xB, message.xB ? `${$('compare').value}: ${message.nfeB} network evaluations` : '');
      break;
    case 'sampled':
      state.samples = message.x;
      state.frames = message.frames;
      state.nll = message.nll;
      state.onTarget = message.onTarget;
      state.nfe = message.nfe;
      state.second = message.second;
      $('time').max = String(message.frames[0].t);
      $('time').value = '0';
      $('time').disabled = false;
      $('time-label').textContent = 't = 0';
      $('nll').textContent = `Grader NLL of these ${message.x.length / 2} samples (${message.rule}, ${message.nfe} network evaluations): `
        + `${message.nll.toFixed(3)} (the data itself: 2.152)`
        + (message.onTarget === null ? '' : `; ${(100 * message.onTarget).toFixed(1)}% landed on the requested `
          + `${message.label === 5 ? 'states' : STATES[message.label]} (nearest data point)`)
        + (message.second ? `. Side by side, ${message.second.rule} from the same noise: ${message.second.nll.toFixed(3)} `
          + `(${message.second.nfe} network evaluations)` : '');
      redraw(message.x, `${message.rule}: samples (t = 0)`, 0, message.second?.x,
        message.second ? `${message.second.rule}: samples (t = 0)` : '');
      setStatus('Sampled. Drag the t slider to replay the reverse process.');
      setBusy(false);
      break;
    case 'energy-density':
      state.energy = { ...state.energy, density: message, grads: 0, done: false };
      break;
    case 'energy-frame': {
      const e = state.energy;
      e.grads = message.grads;
      const label = (name) => `${name}: ${message.grads.toFixed(0)} ∇f evaluations per sample (t = ${message.t.toFixed(2)})`;
      drawEnergy($('energy-rdmc'), e.density, message.rdmc, message.cloud, label('rdMC'));
      drawEnergy($('energy-ula'), e.density, message.ula, null, label('ULA'));
      $('energy-status').textContent = `Running: ${message.grads.toFixed(0)} gradient evaluations per sample so far.`;
      break;
    }
    case 'energy-done':
      Object.assign(state.energy, { done: true, grads: message.grads, rdmc: message.rdmc, ula: message.ula });
      $('energy-status').textContent = `${message.stopped ? 'Stopped' : 'Done'}: ${message.grads.toFixed(0)} gradient evaluations `
        + 'per sample for each sampler.';
      setStatus('Energy run finished.');
      setBusy(false);
      break;
    case 'mnist-loaded':
      Object.assign(state.mnist, { loaded: message.source, describe: message.describe, judge: message.judge });
      $('mnist-model').textContent = `${message.source}: ${message.describe}`;
      setStatus(`Loaded the MNIST model from ${message.source}. Press Sample digits.`);
      setBusy(false);
      break;
    case 'mnist-frame': {
      const columns = Math.round(Math.sqrt(message.x.length / 784));
      state.mnist.frames = message.frames;
      if (message.frames === 1) state.mnist.firstFrame = (performance.now() - state.mnist.started) / 1000;
      drawDigits($('mnist-grid-canvas'), message.x, columns);
      $('mnist-status').textContent = `t = ${message.t.toFixed(3)}, ${message.nfe} network evaluations`;
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
      $('mnist-status').textContent = `${message.stopped ? 'Stopped' : 'Done'}: ${n} ${message.inpaint ? 'inpaintings' : 'digits'}, `
        + `${message.nfe} network evaluations, ${message.seconds.toFixed(1)} s (${rate.toFixed(2)} images/s)`
        + (verdicts ? `; the judge's mean confidence ${(100 * verdicts.reduce((a, v) => a + v.p, 0) / n).toFixed(0)}%` : '');
      setStatus('Sampled digits.');
      setBusy(false);
      break;
    }
    case 'loaded':
      state.canSample = true;
      state.loaded = message.source;
      setStatus(`Loaded weights from ${message.source}. Press Sample.`);
      setBusy(false);
      break;
    case 'weights': {
      const url = URL.createObjectURL(new Blob([message.bytes], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: message.name });
      a.click();
      URL.revokeObjectURL(url);
      break;
    }
    case 'error':
      showError(`${message.during}: ${message.message}`);
      setStatus('Something went wrong; see the message below.');
      if (message.during !== 'init') setBusy(false);
      break;
    default:
      break;
  }
};
worker.onerror = (event) => showError(`worker: ${event.message}`);

$('train-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const steps = readNumber('steps', { min: 1, max: 100000, integer: true });
  const batch = readNumber('batch', { min: 1, max: 65536, integer: true });
  const lr = readNumber('lr', { min: 1e-7, max: 1, integer: false });
  const seed = readNumber('seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  const previewEvery = readNumber('preview-every', { min: 0, max: 100000, integer: true });
  if ([steps, batch, lr, seed, previewEvery].includes(null)) return;
  state.losses = [];
  setBusy(true);
  setStatus('Training…');
  const previewPoints = state.gpu ? 1000 : 300;
  state.sde = $('sde').value;
  worker.postMessage({ type: 'train', steps, batch, lr, seed, sde: state.sde, previewEvery, previewPoints });
});

$('classifier-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const steps = readNumber('c-steps', { min: 1, max: 100000, integer: true });
  const batch = readNumber('c-batch', { min: 1, max: 65536, integer: true });
  const lr = readNumber('c-lr', { min: 1e-7, max: 1, integer: false });
  const seed = readNumber('c-seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  if ([steps, batch, lr, seed].includes(null)) return;
  state.classifierLosses = [];
  state.classifierHeld = [];
  setBusy(true);
  setStatus('Training the classifier…');
  const evalEvery = Math.max(10, Math.round(steps / 20));
  worker.postMessage({ type: 'train-classifier', steps, batch, lr, seed, evalEvery });
});

$('stop').addEventListener('click', () => worker.postMessage({ type: 'stop' }));

$('scale').addEventListener('input', () => {
  $('scale-label').textContent = $('scale').value;
});

$('sample-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const n = readNumber('n', { min: 1, max: 20000, integer: true });
  const seed = readNumber('sample-seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  const steps = readNumber('sde-steps', { min: 1, max: 2000, integer: true });
  if (n === null || seed === null || steps === null) return;
  const label = Number($('label').value);
  const rule = $('rule').value;
  const compare = $('compare').value;
  if (label >= 0 && compare) {
    showError('the side-by-side run is unguided: set the state to "any", or the side-by-side sampler to none');
    return;
  }
  const scale = Number($('scale').value);
  if (label >= 0 && !state.hasClassifier) {
    showError('guided sampling needs a classifier: train one above, or load classifier weights below');
    return;
  }
  state.label = label;
  state.maps = {};
  state.fields = {};
  setBusy(true);
  setStatus(label >= 0 ? `Sampling ${label === 5 ? 'all states' : STATES[label]} with guidance s = ${scale}…` : 'Sampling…');
  const map = $('show-map').checked && state.hasClassifier;
  const field = $('show-field').checked;
  worker.postMessage({ type: 'sample', n, seed, label, scale, rule, steps, map, field, compare });
});

$('energy-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const n = readNumber('energy-n', { min: 1, max: 20000, integer: true });
  const seed = readNumber('energy-seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  if (n === null || seed === null) return;
  const target = $('energy-target').value;
  const budget = Number($('energy-budget').value);
  state.energy = { target, grads: 0, done: false };
  setBusy(true);
  setStatus(`Running rdMC and ULA on ${target}…`);
  worker.postMessage({ type: 'energy', target, n, seed, budget });
});

$('time').addEventListener('input', () => {
  const t = Number($('time').value);
  const frame = state.frames.reduce((best, f) => (Math.abs(f.t - t) < Math.abs(best.t - t) ? f : best), state.frames[0]);
  if (!frame) return;
  $('time-label').textContent = `t = ${frame.t}`;
  redraw(frame.x, `reverse process: t = ${frame.t}`, frame.t, frame.xB, frame.xB ? `${state.second?.rule}: t = ${frame.t}` : '');
});

$('download').addEventListener('click', () => worker.postMessage({ type: 'weights' }));
$('download-classifier').addEventListener('click', () => worker.postMessage({ type: 'classifier-weights' }));

/** `kind`: 'load' (a denoiser) or 'load-classifier'. */
function loadBytes(kind, bytes, source) {
  clearError();
  setBusy(true);
  setStatus(`Loading ${source}…`);
  worker.postMessage({ type: kind, bytes, source }, [bytes]);
}

function wireLoading(kind, fileInput, urlInput, button) {
  $(fileInput).addEventListener('change', async () => {
    const file = $(fileInput).files[0];
    if (file) loadBytes(kind, await file.arrayBuffer(), file.name);
  });
  $(button).addEventListener('click', async () => {
    const url = $(urlInput).value.trim();
    if (!url) return showError(`${kind}: type a URL first`);
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      loadBytes(kind, await response.arrayBuffer(), url);
    } catch (err) {
      showError(`${kind}: ${url}: ${err.message}`);
    }
  });
}
wireLoading('load', 'weights-file', 'weights-url', 'load-url');

$('load-pretrained').addEventListener('click', async () => {
  const models = [['load', 'web/models/states-denoiser.safetensors'], ['load-classifier', 'web/models/states-classifier.safetensors']];
  try {
    const files = await Promise.all(models.map(async ([kind, url]) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return [kind, await response.arrayBuffer(), url];
    }));
    for (const [kind, bytes, url] of files) loadBytes(kind, bytes, url);
  } catch (err) {
    showError(`pre-trained models: ${err.message}`);
  }
});
$('load-pretrained-vp').addEventListener('click', async () => {
  const url = 'web/models/states-vp.safetensors';
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    loadBytes('load', await response.arrayBuffer(), url);
  } catch (err) {
    showError(`pre-trained VP model: ${err.message}`);
  }
});
wireLoading('load-classifier', 'classifier-file', 'classifier-url', 'load-classifier-url');

// MNIST: the CLI's UNet and judge, sampled in the worker.
async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

function mnistLoad(bytes, judge, source) {
  clearError();
  setBusy(true);
  setStatus(`Loading ${source}…`);
  const transfer = judge ? [bytes, judge] : [bytes];
  worker.postMessage({ type: 'mnist-load', bytes, judge, source }, transfer);
}

$('mnist-load-pretrained').addEventListener('click', async () => {
  try {
    const [bytes, judge] = await Promise.all([fetchBytes('web/models/mnist-vp.safetensors'), fetchBytes('web/models/mnist-classifier.safetensors')]);
    mnistLoad(bytes, judge, 'web/models/mnist-vp.safetensors');
  } catch (err) {
    showError(`pre-trained MNIST model: ${err.message}`);
  }
});
$('mnist-file').addEventListener('change', async () => {
  const file = $('mnist-file').files[0];
  if (!file) return;
  let judge = null;
  try {
    judge = await fetchBytes('web/models/mnist-classifier.safetensors');
  } catch {
    judge = null;
  }
  mnistLoad(await file.arrayBuffer(), judge, file.name);
});

function mnistSettings() {
  const steps = readNumber('mnist-steps', { min: 1, max: 2000, integer: true });
  const guidance = readNumber('mnist-guidance', { min: 0, max: 20 });
  const seed = readNumber('mnist-seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  if (steps === null || guidance === null || seed === null) return null;
  return { steps, guidance, seed, sampler: $('mnist-sampler').value, label: Number($('mnist-label').value) };
}

$('mnist-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const settings = mnistSettings();
  if (!settings) return;
  const side = Number($('mnist-grid').value);
  Object.assign(state.mnist, { frames: 0, done: false, x: null, probs: null, started: performance.now() });
  setBusy(true);
  setStatus(`Sampling ${side * side} digits with ${settings.sampler}…`);
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
  worker.postMessage({ type: 'mnist-sample', n: 4, ...settings, label, inpaint });
});

// ?cpu forces the CPU device (to compare, or where a GPU driver misbehaves).
worker.postMessage({ type: 'init', forceCpu: params.has('cpu') });
