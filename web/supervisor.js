// Owns the worker, and starts a new one when it dies. A wasm trap leaves the module's state
// half-updated and a lost GPU device takes every tensor on it, so in both cases the worker is
// replaced: on the CPU after a device loss (or after a second crash on the GPU), on the same device
// after a first trap. The page's settings live in its inputs and are untouched; the models come
// back from the last copies kept here (each file loaded, and the trained networks, which the
// worker sends as `keep` messages during and after training).

const MAX_RESTARTS = 3;

/** The messages whose model bytes are kept, to be sent again to a new worker. */
const LOADS = new Set(['load', 'load-classifier', 'mnist-load']);

/**
 * Starts the worker. `onMessage(message)` gets every message but the supervisor's own;
 * `onRestart({ reason, cpu, kept })` is called when a new worker is ready and has its models back.
 * Returns an object with the Worker's `postMessage`, and `restarts()`.
 */
export function supervise({ forceCpu, onMessage, onRestart, onGiveUp }) {
  let worker = null;
  let cpu = forceCpu;
  let restarts = 0;
  let gpuCrashes = 0;
  let pending = null; // why the current worker was started, until it is ready
  const kept = new Map(); // message type → the last such message (its bytes copied)

  // A load message with its own copies of the model bytes (the original's may be transferred).
  const copyOf = (load, source = load.source) => {
    const copy = { ...load, source };
    for (const key of ['bytes', 'judge']) if (copy[key]) copy[key] = copy[key].slice(0);
    return copy;
  };
  const keep = (message) => kept.set(message.type, copyOf(message));

  function spawn() {
    worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = ({ data: message }) => {
      if (message.type === 'keep') {
        keep(message.load);
        return;
      }
      if (message.type === 'device-lost') {
        restart(`the GPU device was lost (${message.message || 'no reason given'})`, true);
        return;
      }
      if (message.type === 'error' && message.fatal) {
        onMessage(message);
        gpuCrashes += message.gpu ? 1 : 0;
        restart(`the worker crashed (${message.message})`, gpuCrashes > 1);
        return;
      }
      onMessage(message);
      if (message.type === 'ready' && pending) {
        const reason = pending;
        pending = null;
        for (const load of kept.values()) worker.postMessage(copyOf(load, `${load.source} (kept)`));
        onRestart({ reason, cpu, kept: [...kept.values()].map((load) => load.source) });
      }
    };
    // An error that escapes the worker's own handlers (e.g. its module failed to load).
    worker.onerror = (event) => {
      event.preventDefault();
      restart(`the worker failed (${event.message})`, false);
    };
    worker.postMessage({ type: 'init', forceCpu: cpu });
  }

  function restart(reason, toCpu) {
    worker.terminate();
    if (restarts >= MAX_RESTARTS) {
      onGiveUp(`${reason}; after ${restarts} restarts the playground stops: reload the page`);
      return;
    }
    restarts += 1;
    cpu = cpu || toCpu;
    pending = reason;
    spawn();
  }

  spawn();
  return {
    postMessage(message, transfer = []) {
      if (LOADS.has(message.type)) keep(message);
      worker.postMessage(message, transfer);
    },
    restarts: () => restarts,
  };
}
