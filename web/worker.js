// The Web Worker that owns the wasm: all training and sampling happens here, so the page never
// freezes. Messages in: init, train, train-classifier, stop, sample, energy, load, load-partner,
// load-classifier, weights, classifier-weights, mnist-load, mnist-sample. Messages out: ready, loss,
// preview, trained, classifier-loss, classifier-metrics, classifier-trained, frame, map, field,
// sampled, energy-density, energy-frame, energy-done, loaded, weights, mnist-loaded, mnist-frame,
// mnist-done, likelihood, error; and to the supervisor (web/supervisor.js): keep (a model to give back to a
// new worker), device-lost. The message trap panics inside the wasm on purpose (for the tests).

import init, { createPlayground, limits, statesData, trapForTests } from '../pkg/diffusion_web.js';
import { likelihoodTask } from './likelihood-task.js';
import { mnistTask } from './mnist-task.js';

// burn's GPU kernels (cubecl) read the subgroup size builtin, so their WGSL says `enable subgroups;`,
// but wgpu's WebGPU backend does not pass 'subgroups' on to requestDevice, and Chromium then rejects
// every such shader ("extension 'subgroups' is not allowed"), which poisons the device. Ask for
// the feature whenever the adapter has it.
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (descriptor = {}) {
    const required = new Set(descriptor.requiredFeatures ?? []);
    if (this.features.has('subgroups')) required.add('subgroups');
    return requestDevice.call(this, { ...descriptor, requiredFeatures: [...required] }).then((device) => {
      // A lost device (driver reset, GPU process crash, or destroy() from a test) takes every
      // tensor with it: the supervisor starts a new worker on the CPU.
      self.gpuDevice = device;
      device.lost.then((info) => self.postMessage({ type: 'device-lost', message: info.message }));
      return device;
    });
  };
}

let playground = null;
let current = null; // the message being handled, to name it in a crash report

// A panic inside the wasm (e.g. a GPU driver rejecting a shader) does not reject the promise the
// handler awaits: it surfaces here. Report it, so the page says what happened instead of waiting.
// The supervisor then replaces this worker.
const crashed = (what) => {
  self.postMessage({ type: 'error', during: current ?? 'worker', message: what, fatal: true, gpu: Boolean(playground?.isGpu()) });
};
self.addEventListener('error', (event) => crashed(String(event.message ?? event)));
self.addEventListener('unhandledrejection', (event) => crashed(String(event.reason?.message ?? event.reason)));
let stopRequested = false;

const post = (message, transfer = []) => self.postMessage(message, transfer);
// Lets queued messages (Stop) in between chunks of work.
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));
// The data's likelihood under the model, integrated while the worker is otherwise idle.
const likelihood = likelihoodTask({ playground: () => playground, post, yieldToEvents });
const { mnistLoad, mnistSample } = mnistTask({
  playground: () => playground,
  post,
  yieldToEvents,
  stopped: () => stopRequested,
  resetStop: () => { stopRequested = false; },
});

async function webgpuAdapter() {
  if (!('gpu' in navigator) || !navigator.gpu) return null;
  try {
    return await navigator.gpu.requestAdapter();
  } catch {
    return null;
  }
}

async function start(forceCpu) {
  await init();
  const adapter = forceCpu ? null : await webgpuAdapter();
  let note = adapter ? '' : 'WebGPU is not available here: training runs on the CPU (slower).';
  if (adapter) {
    try {
      playground = await createPlayground(true);
    } catch (err) {
      note = `WebGPU failed to start (${err.message ?? err}); using the CPU instead.`;
    }
  }
  if (!playground) playground = await createPlayground(false);
  const data = statesData();
  post({ type: 'ready', device: playground.deviceName(), gpu: playground.isGpu(), note, data, limits: limits() });
}

const KEEP_EVERY_MS = 5000;

/** Sends the supervisor a copy of a network, as the load message that restores it. */
function keepModel(type, bytes, source) {
  post({ type: 'keep', load: { type, bytes: bytes.buffer, source } }, [bytes.buffer]);
}

/**
 * Runs `steps` optimisation steps in chunks (`runChunk(k)` resolves to k losses), posting each
 * chunk's losses as `lossType`, calling `every(done)` after each chunk, and `doneType` at the end.
 */
async function trainLoop({ steps, chunk, runChunk, lossType, every, doneType, keep }) {
  stopRequested = false;
  let done = 0;
  const t0 = performance.now();
  let kept = t0;
  while (done < steps && !stopRequested) {
    const k = Math.min(chunk, steps - done);
    let losses;
    try {
      losses = await runChunk(k);
    } catch (error) {
      // The trainer's divergence guard: the run is back at its last good weights; say so and stop.
      const message = String(error?.message ?? error);
      if (!message.includes('diverged')) throw error;
      post({ type: 'error', during: 'train', message });
      post({ type: doneType, steps: done, stopped: true, diverged: true });
      return;
    }
    done += k;
    const seconds = (performance.now() - t0) / 1000;
    post({ type: lossType, first: done - k + 1, losses, stepsPerSec: done / seconds });
    await every(done, k);
    // A copy of the network for the supervisor every few seconds, so a crash loses at most those.
    if (performance.now() - kept > KEEP_EVERY_MS) {
      await keep(done);
      kept = performance.now();
    }
    await yieldToEvents();
  }
  await keep(done);
  post({ type: doneType, steps: done, stopped: stopRequested });
}

async function train({ steps, batch, lr, seed, sde = 'ddpm', schedule, timesteps, objective, previewEvery, previewPoints, points, tSampling, iwK }) {
  playground.startTraining(steps, batch, lr, seed, sde, schedule, timesteps, objective, points, tSampling, iwK);
  likelihood.cancel();
  const histogram = () => post({ type: 't-histogram', rows: playground.tHistogram(50), importance: tSampling !== 'uniform' });
  await trainLoop({
    steps,
    chunk: playground.isGpu() ? 10 : 2,
    runChunk: (k) => playground.trainSteps(k),
    lossType: 'loss',
    keep: async (done) => keepModel('load', await playground.weights(), `the network trained here (${done} steps)`),
    every: async (done, k) => {
      if (done % 20 < k || done === steps) histogram();
      if (previewEvery > 0 && (done % previewEvery < k || done === steps)) {
        await sample({ n: previewPoints, seed: 12345, preview: true });
      }
    },
    doneType: 'trained',
  });
  await postVariance();
  likelihood.start();
}

// The learned variance's profile Σ_θ(t) between β̃_t and β_t (rows of 4; none without one).
async function postVariance() {
  const rows = await playground.varianceProfile();
  post({ type: 'variance', rows }, [rows.buffer]);
}

async function trainClassifier({ steps, batch, lr, seed, evalEvery }) {
  playground.startClassifierTraining(steps, batch, lr, seed);
  await trainLoop({
    steps,
    chunk: playground.isGpu() ? 10 : 5,
    runChunk: (k) => playground.trainClassifierSteps(k),
    lossType: 'classifier-loss',
    keep: async (done) => keepModel('load-classifier', await playground.classifierWeights(), `the classifier trained here (${done} steps)`),
    every: async (done, k) => {
      if (done % evalEvery < k || done === steps) {
        const metrics = await playground.classifierMetrics();
        post({ type: 'classifier-metrics', step: done, ...metrics });
      }
    },
    doneType: 'classifier-trained',
  });
}

/**
 * Runs the reverse process of `rule` (slot 0) and, when `compare` names a second sampler, that one
 * side by side in slot 1 from the same noise, kept at the same t. Posts a frame per chunk (and the
 * score field at that t when `field`), then the result with each sampler's grader NLL and NFE.
 */
async function sample({ n, seed, label = -1, scale = 1, rule = 'ancestral', steps = 100, variance = '', map = false, field = false, density = false, compare = '', compareName = compare, compareSteps = steps, partner = false, preview = false, start = 0, tMid = 0.5 }) {
  // `start` K > 0: from a K-component Gaussian mixture's samples noised to t_mid (both slots).
  let x = await playground.startSampling(n, seed, label, scale, rule, steps, 0, variance || undefined, start, tMid);
  // The side-by-side slot: the same noise, its own rule and steps, and the main model or the partner.
  let xB = compare ? await playground.startSampling(n, seed, -1, 0, compare, compareSteps, 1, undefined, start, tMid, partner) : null;
  if (start > 0 && !preview) {
    post({ type: 'surrogate', x: playground.surrogateDraws(), k: start, t: playground.samplingT(0) });
    await new Promise((resolve) => setTimeout(resolve, 600));
  }
  // The state the core requested for each particle (empty when unguided), for the colours.
  post({ type: 'requested', labels: playground.requestedLabels() });
  const total = playground.samplingT(0);
  const frames = preview ? [] : [{ t: total, x, xB }];
  const chunk = playground.isGpu() ? 5 : 2;
  // What is drawn under the particles, each recomputed every `every` steps of t (on the step
  // grid t counts down): the prediction map, the score field and the data's own p_t.
  const [size, every] = playground.isGpu() ? [96, 25] : [48, 50];
  const densitySize = playground.isGpu() ? 96 : 64;
  // t as a fraction of the process's time (a surrogate start begins part-way, at t_0 < 1).
  const t0 = playground.samplingTime(0);
  const fraction = (at) => Math.min((at / Math.max(total, 1)) * t0, 1);
  const everyFew = (wanted, send) => {
    let last = null;
    return async (t) => {
      const at = Math.floor(t / every) * every;
      if (!wanted || preview || at === last) return;
      last = at;
      await send(at);
    };
  };
  const overlays = [
    everyFew(map && playground.hasClassifier(), async (at) => {
      post({ type: 'map', t: at, cells: await playground.predictionMap(at, size, size), width: size, height: size });
    }),
    everyFew(field, async (at) => post({ type: 'field', t: at, rows: await playground.scoreField(fraction(at), 21) })),
    everyFew(density, async (at) => {
      post({ type: 'density', t: at, cells: playground.marginalDensity(fraction(at), densitySize), size: densitySize });
    }),
  ];
  const sendOverlays = async (t) => {
    for (const send of overlays) await send(t);
  };
  await sendOverlays(total);
  let t = total;
  let tB = compare ? playground.samplingT(1) : 0;
  stopRequested = preview ? stopRequested : false;
  while (t > 0 || tB > 0) {
    if (t > 0) {
      x = await playground.sampleSteps(Math.min(chunk, t), 0);
      t = playground.samplingT(0);
    }
    // The second sampler catches up to the first one's t (or finishes once the first is done).
    while (tB > t) {
      xB = await playground.sampleSteps(chunk, 1);
      tB = playground.samplingT(1);
    }
    if (!preview) {
      await sendOverlays(t);
      frames.push({ t, x, xB });
      post({ type: 'frame', t, total, x, xB, nfe: playground.nfe(0), nfeB: compare ? playground.nfe(1) : null });
      await yieldToEvents();
    }
  }
  const nll = playground.nll(x);
  const second = compare ? { rule: compareName, x: xB, nll: playground.nll(xB), nfe: playground.nfe(1), fullNfe: playground.fullNfe(1) } : null;
  const onTarget = label >= 0 && !preview ? playground.onTarget(x) ?? null : null;
  post({ type: preview ? 'preview' : 'sampled', x, nll, onTarget, label, rule, nfe: playground.nfe(0), fullNfe: playground.fullNfe(0), second, frames: preview ? undefined : frames });
}

/** The energy run's target density on a grid, for the page to draw under the particles. */
async function postEnergyDensity(run, extra = {}) {
  const size = playground.isGpu() ? 128 : 64;
  post({ type: 'energy-density', density: await run.density(size), size, extent: Array.from(run.extent()), ...extra });
}

/** The energy mode: rdMC and ULA side by side from the same start, one rdMC outer step a frame. */
async function energy({ target, n, seed, budget }) {
  const run = playground.startEnergy(target, n, seed, budget);
  try {
    await postEnergyDensity(run);
    stopRequested = false;
    let frame = null;
    while (!run.done() && !stopRequested) {
      frame = await run.step();
      post({ type: 'energy-frame', ...frame, grads: run.gradsPerSample(), t: run.t() });
      await yieldToEvents();
    }
    post({ type: 'energy-done', target, grads: run.gradsPerSample(), stopped: stopRequested, rdmc: frame?.rdmc, ula: frame?.ula });
  } finally {
    run.free();
  }
}
self.onmessage = async ({ data: message }) => {
  current = message.type;
  // Stop interrupts the work; everything else is work, which pauses the background likelihood.
  if (message.type === 'stop') {
    stopRequested = true;
    return;
  }
  await likelihood.during(() => handle(message));
};

async function handle(message) {
  try {
    switch (message.type) {
      case 'init':
        await start(message.forceCpu);
        break;
      case 'train':
        await train(message);
        break;
      case 'train-classifier':
        await trainClassifier(message);
        break;
      case 'sample':
        await sample(message);
        break;
      case 'energy':
        await energy(message);
        break;
      case 'energy-preview': {
        // The target's density alone, for the view before any run.
        // A decoration: if it fails, the Run button says why.
        let run = null;
        try {
          run = playground.startEnergy(message.target, 10, 0, 0);
          await postEnergyDensity(run, { preview: true, target: message.target });
        } catch {
          // nothing drawn
        } finally {
          run?.free();
        }
        break;
      }
      case 'mnist-load':
        mnistLoad(message);
        break;
      case 'mnist-sample':
        await mnistSample(message);
        break;
      case 'load':
        playground.loadWeights(new Uint8Array(message.bytes));
        likelihood.cancel();
        post({ type: 'loaded', source: message.source });
        await postVariance();
        likelihood.start();
        break;
      case 'load-partner':
        playground.loadPartner(new Uint8Array(message.bytes));
        break;
      case 'load-classifier':
        playground.loadClassifier(new Uint8Array(message.bytes));
        post({ type: 'classifier-loaded', source: message.source });
        break;
      case 'weights': {
        const bytes = await playground.weights();
        post({ type: 'weights', bytes, name: 'denoiser.safetensors' }, [bytes.buffer]);
        break;
      }
      case 'classifier-weights': {
        const bytes = await playground.classifierWeights();
        post({ type: 'weights', bytes, name: 'classifier.safetensors' }, [bytes.buffer]);
        break;
      }
      case 'trap':
        trapForTests();
        break;
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  } catch (err) {
    // A trap (a panic, or a lost device surfacing as one) leaves the wasm unusable: fatal.
    if (err instanceof WebAssembly.RuntimeError) crashed(`${err.message} (a wasm trap)`);
    else post({ type: 'error', during: message.type, message: String(err?.message ?? err) });
  }
}
