// The first screen's animation: a wasm instance of its own on the CPU, apart from the page's
// worker (web/worker.js) and its models, samples the shipped flow-matching model and sends each
// step of a run as soon as it is computed. Messages in: init (the model's bytes), run (n, seed,
// steps). Out: ready (the STATES data), frame (seed, its index, x, whether it is the last), error.

import init, { createPlayground, statesData } from '../pkg/diffusion_web.js';

let playground = null;

self.onmessage = async ({ data: message }) => {
  try {
    if (message.type === 'init') {
      await init();
      playground = await createPlayground(false);
      playground.loadWeights(new Uint8Array(message.bytes));
      self.postMessage({ type: 'ready', data: statesData() });
    } else if (message.type === 'run') {
      const { n, seed, steps } = message;
      let x = await playground.startSampling(n, seed, -1, 0, 'euler', steps, 0);
      for (let i = 0; ; i++) {
        const last = playground.samplingT(0) === 0;
        self.postMessage({ type: 'frame', seed, i, x, last }, [x.buffer]);
        if (last) break;
        x = await playground.sampleSteps(1, 0);
      }
    }
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
};
