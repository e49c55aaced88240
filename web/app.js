// The page: form handling, plots and the animation. All computation runs in web/worker.js.

import { drawLoss, drawScatter, drawTHistogram, drawVariance } from './plots.js';
import { handleEnergyMessage, setupEnergy } from './energy-panel.js';
import { handleMnistMessage, setupMnist } from './mnist-panel.js';
import { applyLimits, numberReader } from './limits.js';
import { supervise } from './supervisor.js';
import { setupLinks } from './url-state.js';
import { setupViews, showView } from './views.js';
import { setupArrival } from './arrival.js';
import { densityAt, fieldAt, mapAt, trailsAt } from './overlays.js';
import { setupDrawing, shownData } from './drawing.js';
import { ensurePartner, setupLoading } from './loading.js';
import { showLikelihood } from './likelihood-view.js';
import { STATES, sampledSummary } from './sampled-text.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.has('embed')) document.body.classList.add('embed');

// Observable state (the browser tests read it; so can a curious user in the console).
const state = {
  device: null, gpu: false, busy: true, ready: false,
  losses: [], samples: null, frames: [], nll: null, errors: [], trainedSteps: 0, loaded: null,
  classifierLosses: [], classifierHeld: [], classifierMetrics: null, classifierTrainedSteps: 0,
  classifierLoaded: null, hasClassifier: false, onTarget: null, requested: null, label: -1, maps: {}, nfe: 0,
  fields: {}, second: null, sde: 'ddpm', restarts: [], linkNotices: [], arrival: null, view: null, tab: 'states', display: 'live', copied: null, trainedOn: 'states', densities: {}, readyMs: null,
  energy: null, // { target, density, grads, done, rdmc, ula }
  mnist: { loaded: null, describe: '', judge: false, frames: 0, x: null, probs: null, done: false, nfe: 0, seconds: 0 },
};
window.playground = state;
const viewNotice = showView(state);
setupViews(state);

let data = null;

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  state.errors.push(text);
  $('error').textContent = text;
  $('error').hidden = false;
}

const readNumber = numberReader(showError);

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
  for (const id of ['stop', 'energy-stop', 'mnist-stop']) $(id).disabled = !busy;
}

/** Reads and checks the form; returns null (with a message on the page) if a value is bad. */
/** Draws the main run's particles, and the side-by-side run's when `pointsB` is given. */
function redraw(points, caption, t = null, pointsB = null, captionB = '') {
  if (!data) return;
  const guided = state.label >= 0 && points && state.requested?.length;
  drawScatter($('scatter'), shownData(state, data), points, caption, {
    density: densityAt(state, t),
    map: mapAt(state, t),
    field: fieldAt(state, t),
    trails: trailsAt(state, t, 'x'),
    colourOf: guided ? (i) => state.requested[i] : null,
  });
  $('scatter-b').hidden = !pointsB;
  if (pointsB) drawScatter($('scatter-b'), data, pointsB, captionB, { field: fieldAt(state, t), trails: trailsAt(state, t, 'xB') });
}



function onMessage(message) {
  if (handleMnistMessage(message, { $, state, setStatus, setBusy })) return;
  if (handleEnergyMessage(message, { $, state, setStatus, setBusy })) return;
  switch (message.type) {
    case 'ready':
      applyLimits(message.limits);
      data = message.data;
      state.device = message.device;
      state.gpu = message.gpu;
      $('device').textContent = message.device;
      document.body.dataset.device = message.gpu ? 'webgpu' : 'cpu';
      if (state.ready) {
        // A restarted worker (see web/supervisor.js): the settings stay as the user left them.
        setBusy(false);
        break;
      }
      // Milliseconds from navigation to a worker with its wasm compiled and its device up.
      state.readyMs = Math.round(performance.now());
      state.ready = true;
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
      // The settings of a link (#…) over the defaults just set; the hash follows the controls.
      setupLinks({ state, setStatus, viewNotice });
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
    case 't-histogram':
      state.tHistogram = Array.from(message.rows);
      $('t-histogram').hidden = message.rows.length === 0;
      if (message.rows.length) drawTHistogram($('t-histogram'), message.rows, message.importance);
      break;
    case 'variance':
      $('variance-plot').hidden = message.rows.length === 0;
      if (message.rows.length) drawVariance($('variance-plot'), message.rows);
      break;
    case 'trained':
      state.canSample = true;
      state.diverged = Boolean(message.diverged);
      setStatus(message.diverged ? 'Training diverged: the last good weights are kept (see the message below).'
        : `Trained ${message.steps} steps${message.stopped ? ' (stopped)' : ''}. Press Sample.`);
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
    case 'density':
      state.densities[message.t] = { cells: message.cells, size: message.size };
      break;
    case 'requested':
      state.requested = message.labels;
      break;
    case 'likelihood':
      showLikelihood($('likelihood'), state, message);
      break;
    case 'surrogate':
      // A surrogate start: its own samples, before they are noised to t_mid and denoised.
      state.surrogateShown = message.x.length / 2;
      redraw(message.x, `a Gaussian mixture's own samples (K = ${message.k}, no network), next noised to t = ${message.t}`, message.t);
      break;
    case 'frame':
      // The run so far, for its trails (the complete list, with the start, comes with 'sampled').
      state.frames.push({ t: message.t, x: message.x, xB: message.xB });
      $('time').value = message.t;
      $('time-label').textContent = `t = ${message.t}`;
      redraw(message.x, `${$('rule').value}: t = ${message.t} of ${message.total}, ${message.nfe} network evaluations`, message.t,
        message.xB, message.xB ? `${state.compareName}: ${message.nfeB} network evaluations` : '');
      break;
    case 'sampled':
      state.samples = message.x;
      state.frames = message.frames;
      state.nll = message.nll;
      state.onTarget = message.onTarget;
      state.nfe = message.nfe;
      state.fullNfe = message.fullNfe;
      state.second = message.second;
      $('time').max = String(message.frames[0].t);
      $('time').value = '0';
      $('time').disabled = false;
      $('time-label').textContent = 't = 0';
      $('nll').textContent = sampledSummary(message, state.trainedOn === 'drawn');
      redraw(message.x, `${message.rule}: samples (t = 0)`, 0, message.second?.x,
        message.second ? `${message.second.rule}: samples (t = 0)` : '');
      setStatus('Sampled. Drag the t slider to replay the reverse process.');
      setBusy(false);
      break;
    case 'loaded':
      state.canSample = true;
      state.loaded = message.source;
      state.trainedOn = 'states';
      $('t-histogram').hidden = true; // the last training run's, not this file's
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
      if (message.during === 'load-partner') state.partner = null;
      break;
    default:
      break;
  }
}

// ?cpu forces the CPU device (to compare, or where a GPU driver misbehaves).
const worker = supervise({
  forceCpu: params.has('cpu'),
  onMessage,
  onRestart: ({ reason, cpu, kept }) => {
    state.restarts.push({ reason, cpu, kept });
    state.partner = null; // the new worker has no side-by-side model yet
    const models = kept.length ? `kept ${kept.join(', ')}` : 'no model to keep yet';
    showError(`${reason}: the playground restarted${cpu ? ' on the CPU' : ''} (${models}); your settings are as they were.`);
    setStatus('Restarted: press Sample or Train again.');
  },
  onGiveUp: (reason) => {
    showError(reason);
    setStatus('Stopped.');
  },
});
// The tests send the worker a deliberate trap through this; so can a curious user.
window.playgroundWorker = worker;

$('train-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const steps = readNumber('steps');
  const batch = readNumber('batch');
  const lr = readNumber('lr');
  const seed = readNumber('seed');
  const previewEvery = readNumber('preview-every');
  if ([steps, batch, lr, seed, previewEvery].includes(null)) return;
  state.losses = [];
  setBusy(true);
  setStatus('Training…');
  const previewPoints = state.gpu ? 1000 : 300;
  const timesteps = readNumber('timesteps');
  if (timesteps === null) return;
  state.sde = $('sde').value;
  const [schedule, objective] = [$('schedule').value, $('objective').value];
  state.trainedOn = $('data-source').value;
  const points = state.trainedOn === 'drawn' ? Float32Array.from(state.drawn) : undefined;
  worker.postMessage({ type: 'train', steps, batch, lr, seed, sde: state.sde, schedule, timesteps, objective, previewEvery, previewPoints, points, tSampling: $('t-sampling').value, iwK: Number($('iw-k').value) });
});

$('classifier-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const steps = readNumber('c-steps');
  const batch = readNumber('c-batch');
  const lr = readNumber('c-lr');
  const seed = readNumber('c-seed');
  if ([steps, batch, lr, seed].includes(null)) return;
  state.classifierLosses = [];
  state.classifierHeld = [];
  setBusy(true);
  setStatus('Training the classifier…');
  const evalEvery = Math.max(10, Math.round(steps / 20));
  worker.postMessage({ type: 'train-classifier', steps, batch, lr, seed, evalEvery });
});

// Each view has its own Stop; the worker has one run at a time, which any of them stops.
for (const id of ['stop', 'energy-stop', 'mnist-stop']) $(id).addEventListener('click', () => worker.postMessage({ type: 'stop' }));

$('steps-slider').addEventListener('input', () => {
  $('sde-steps').value = $('steps-slider').value;
});
$('sde-steps').addEventListener('input', () => {
  $('steps-slider').value = $('sde-steps').value;
});

$('show-trails').addEventListener('change', () => $('time').dispatchEvent(new Event('input')));

$('scale').addEventListener('input', () => {
  $('scale-label').textContent = $('scale').value;
});
$('t-mid').addEventListener('input', () => {
  $('t-mid-label').textContent = $('t-mid').value;
});

$('sample-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const n = readNumber('n');
  const seed = readNumber('sample-seed');
  const steps = readNumber('sde-steps');
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
  state.densities = {};
  state.frames = [];
  setBusy(true);
  setStatus(label >= 0 ? `Sampling ${label === 5 ? 'all states' : STATES[label]} with guidance s = ${scale}…` : 'Sampling…');
  const map = $('show-map').checked && state.hasClassifier;
  const field = $('show-field').checked;
  const density = $('show-density').checked;
  const variance = $('variance').value;
  const [start, tMid] = [Number($('start').value), Number($('t-mid').value)];
  // The side-by-side run: its own steps, and the page's model or a shipped one from the same noise.
  const partner = compare ? $('compare-model').value : '';
  const compareSteps = Number($('compare-steps').value) || steps;
  const compareName = partner ? `${compare} on ${$('compare-model').selectedOptions[0].textContent}` : compare;
  state.compareName = compareName;
  ensurePartner(worker, state, partner).then(
    () => worker.postMessage({ type: 'sample', n, seed, label, scale, rule, steps, variance, map, field, density, compare, compareName, compareSteps, partner: Boolean(partner), start, tMid }),
    (err) => { showError(`the side-by-side model: ${err.message}`); setBusy(false); },
  );
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

setupLoading({ $, worker, clearError, setBusy, setStatus, showError });

setupArrival({ state });
setupDrawing({ $, state, redraw: () => redraw(state.samples, state.samples ? 'samples' : 'the data') });
setupMnist({ $, state, worker, readNumber, clearError, setBusy, setStatus, showError });
setupEnergy({ $, state, worker, readNumber, clearError, setBusy, setStatus });

