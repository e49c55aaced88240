// The page: form handling, plots and the animation. All computation runs in web/worker.js.

import { drawLoss, drawScatter } from './plots.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.has('embed')) document.body.classList.add('embed');

// Observable state (the browser tests read it; so can a curious user in the console).
const state = {
  device: null, gpu: false, busy: true, ready: false,
  losses: [], samples: null, frames: [], nll: null, errors: [], trainedSteps: 0, loaded: null,
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
  for (const id of ['train', 'load-url', 'weights-file']) $(id).disabled = busy;
  $('sample').disabled = busy || !state.canSample;
  $('download').disabled = busy || !state.canSample;
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

function redraw(points, caption) {
  if (data) drawScatter($('scatter'), data, points, caption);
}

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
    case 'frame':
      $('time').value = message.t;
      $('time-label').textContent = `t = ${message.t}`;
      redraw(message.x, `reverse process: t = ${message.t} of ${message.total}`);
      break;
    case 'sampled':
      state.samples = message.x;
      state.frames = message.frames;
      state.nll = message.nll;
      $('time').max = String(message.frames[0].t);
      $('time').value = '0';
      $('time').disabled = false;
      $('time-label').textContent = 't = 0';
      $('nll').textContent = `Grader NLL of these ${message.x.length / 2} samples: ${message.nll.toFixed(3)} (the data itself: 2.152)`;
      redraw(message.x, 'samples (t = 0)');
      setStatus('Sampled. Drag the t slider to replay the reverse process.');
      setBusy(false);
      break;
    case 'loaded':
      state.canSample = true;
      state.loaded = message.source;
      setStatus(`Loaded weights from ${message.source}. Press Sample.`);
      setBusy(false);
      break;
    case 'weights': {
      const url = URL.createObjectURL(new Blob([message.bytes], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: 'denoiser.safetensors' });
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
  worker.postMessage({ type: 'train', steps, batch, lr, seed, previewEvery, previewPoints });
});

$('stop').addEventListener('click', () => worker.postMessage({ type: 'stop' }));

$('sample-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const n = readNumber('n', { min: 1, max: 20000, integer: true });
  const seed = readNumber('sample-seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  if (n === null || seed === null) return;
  setBusy(true);
  setStatus('Sampling…');
  worker.postMessage({ type: 'sample', n, seed });
});

$('time').addEventListener('input', () => {
  const t = Number($('time').value);
  const frame = state.frames.reduce((best, f) => (Math.abs(f.t - t) < Math.abs(best.t - t) ? f : best), state.frames[0]);
  if (!frame) return;
  $('time-label').textContent = `t = ${frame.t}`;
  redraw(frame.x, `reverse process: t = ${frame.t}`);
});

$('download').addEventListener('click', () => worker.postMessage({ type: 'weights' }));

function loadBytes(bytes, source) {
  clearError();
  setBusy(true);
  setStatus(`Loading ${source}…`);
  worker.postMessage({ type: 'load', bytes, source }, [bytes]);
}

$('weights-file').addEventListener('change', async () => {
  const file = $('weights-file').files[0];
  if (file) loadBytes(await file.arrayBuffer(), file.name);
});

$('load-url').addEventListener('click', async () => {
  const url = $('weights-url').value.trim();
  if (!url) return showError('load: type a URL first');
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    loadBytes(await response.arrayBuffer(), url);
  } catch (err) {
    showError(`load: ${url}: ${err.message}`);
  }
});

// ?cpu forces the CPU device (to compare, or where a GPU driver misbehaves).
worker.postMessage({ type: 'init', forceCpu: params.has('cpu') });
