// Diffusion on arrival: the STATES display's first canvas shows the shipped flow-matching model (reflowed, so its
// paths are straight) turning noise into the five states, live and looping with a new seed each
// time, from its own worker (web/arrival-worker.js). With prefers-reduced-motion it shows the
// final frame and a play button instead.

import { fetchBytes } from './loading.js';
import { drawScatter } from './plots.js';

const MODEL = 'web/models/states-flow.safetensors';
const N = 1000;
const STEPS = 8;
const FLOW_MS = 2400;
const HOLD_MS = 1200;

/** Starts the animation; its progress is observable as `state.arrival`. */
export function setupArrival({ state }) {
  const canvas = document.getElementById('arrival');
  // An embedded view without it (?embed&view=mnist) starts no second wasm instance.
  if (canvas.closest('.off-view')) {
    state.arrival = { skipped: true };
    return;
  }
  const button = document.getElementById('arrival-play');
  const still = matchMedia('(prefers-reduced-motion: reduce)').matches;
  const arrival = { runs: 0, frames: 0, playing: !still, still, visible: true, error: null, msToFirstRun: null, firstFrameMs: null };
  let readyAt = null;
  state.arrival = arrival;
  const worker = new Worker(new URL('./arrival-worker.js', import.meta.url), { type: 'module' });
  let data = null;
  let run = null; // { frames, done, started }: the run on screen
  let next = null; // the following one, computed while this one plays
  let seed = 0;
  let pending = false; // a run asked for and not yet complete: never two, or their frames would mix
  const ask = () => {
    if (pending) return;
    pending = true;
    worker.postMessage({ type: 'run', n: N, seed: seed++, steps: STEPS });
  };
  const caption = (t) => `live: flow matching, ${STEPS} Euler steps, t = ${t.toFixed(2)}`;

  /** The particles `u` ∈ [0, 1] of the way through a run, between its steps (as far as computed). */
  const at = (frames, u) => {
    if (frames.length === 1) return frames[0];
    const position = Math.min(Math.min(u, 1) * STEPS, frames.length - 1);
    const i = Math.min(Math.floor(position), frames.length - 2);
    const w = position - i;
    const [a, b] = [frames[i], frames[i + 1]];
    const x = new Float32Array(a.length);
    for (let k = 0; k < a.length; k++) x[k] = a[k] + w * (b[k] - a[k]);
    return x;
  };
  // Milliseconds from navigation to the first frame drawn (moving, or the still one).
  const drawn = () => { arrival.firstFrameMs ??= Math.round(performance.now()); };
  const drawFinal = () => {
    if (run) drawScatter(canvas, data, run.frames[run.frames.length - 1], caption(0));
    drawn();
  };
  let ticking = false; // one animation loop at most
  const startTicking = () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(tick);
  };
  function tick(now) {
    // Off screen (another tab, the display switched, scrolled away) it stops, and asks for no runs.
    if (!arrival.playing || !arrival.visible || !run) {
      ticking = false;
      return;
    }
    run.started ??= now;
    const elapsed = now - run.started;
    const u = elapsed / FLOW_MS;
    drawScatter(canvas, data, at(run.frames, u), caption(1 - Math.min(u, 1)));
    drawn();
    arrival.frames += 1;
    if (elapsed > FLOW_MS + HOLD_MS && next?.done) {
      run = next;
      next = null;
      arrival.runs += 1;
      ask();
    }
    requestAnimationFrame(tick);
  }
  worker.onmessage = ({ data: message }) => {
    if (message.type === 'ready') {
      data = message.data;
      readyAt = performance.now();
      ask();
    } else if (message.type === 'frame') {
      // The first run plays as its steps arrive; later ones are complete before they are shown.
      const target = run === null || (run.seed === message.seed) ? (run ??= { seed: message.seed, frames: [], done: false })
        : (next ??= { seed: message.seed, frames: [], done: false });
      target.frames.push(message.x);
      target.done = message.last;
      if (message.last) pending = false;
      // How long after its wasm was ready the particles first moved (one network step).
      if (target === run && message.i === 1) arrival.msToFirstRun = Math.round(performance.now() - readyAt);
      if (target === run && message.i === 0 && arrival.playing) {
        arrival.runs = 1;
        startTicking();
      }
      if (target === run && message.last) {
        if (arrival.playing) {
          ask();
        } else {
          drawFinal();
          arrival.runs = 1;
        }
      }
    } else if (message.type === 'error') {
      pending = false;
      arrival.error = message.message;
      canvas.setAttribute('aria-label', `the live sampling could not start: ${message.message}`);
    }
  };
  fetchBytes(MODEL)
    .then((bytes) => worker.postMessage({ type: 'init', bytes }, [bytes]))
    .catch((err) => { arrival.error = String(err.message ?? err); });
  /** Plays on from the current run's start (after play, or on coming back into view). */
  const resume = () => {
    if (!arrival.playing || !arrival.visible || !run) return;
    run.started = undefined;
    if (!next) ask();
    startTicking();
  };
  const label = () => { button.textContent = arrival.playing ? 'pause' : '▶ play'; };
  label();
  button.addEventListener('click', () => {
    arrival.playing = !arrival.playing;
    label();
    resume();
  });
  new IntersectionObserver(([entry]) => {
    arrival.visible = entry.isIntersecting;
    resume();
  }).observe(canvas);
}
