// The training data's likelihood under the worker's current model (the core's probability-flow
// ODE, web crate's startLikelihood/likelihoodSteps/likelihoodResult), computed in the background:
// one RK4 step at a time, only once the worker has had no other work for a moment, so it never
// delays a run the visitor asked for. A new model (trained or loaded) starts it again; training cancels it.

/** Points of the training data it scores (at most: a drawing may have fewer), and RK4 steps. */
export const LIKELIHOOD = { n: 200, steps: 32 };
/** It waits this long after the last work before stepping, so a burst of runs goes first. */
const QUIET_MS = 1500;

/** `playground()` is the worker's wasm playground; `post` sends a message to the page. */
export function likelihoodTask({ playground, post, yieldToEvents }) {
  let run = null; // the run being integrated: { n, the points it scores }
  let busy = 0; // work messages being handled
  let lastWork = 0; // when the last work message ended (performance.now())
  let stepping = false;

  async function resume() {
    if (stepping) return;
    const wait = lastWork + QUIET_MS - performance.now();
    if (wait > 0) {
      setTimeout(resume, wait);
      return;
    }
    stepping = true;
    try {
      while (run && busy === 0 && performance.now() - lastWork >= QUIET_MS) {
        const mine = run;
        const taken = playground().likelihoodSteps(1);
        if (taken % 4 === 0) post({ type: 'likelihood', phase: 'progress', taken, ...LIKELIHOOD, n: mine.n });
        if (taken >= LIKELIHOOD.steps) {
          const [nll, error, nfe, bits] = await playground().likelihoodResult();
          if (run === mine) post({ type: 'likelihood', phase: 'done', nll, error, nfe, bits, ...LIKELIHOOD, n: mine.n });
          if (run === mine) run = null;
        }
        await yieldToEvents();
      }
    } catch (err) {
      run = null;
      post({ type: 'likelihood', phase: 'error', message: String(err?.message ?? err) });
    } finally {
      stepping = false;
    }
  }

  return {
    /** A new model: integrate from the start. */
    start() {
      run = { n: playground().startLikelihood(LIKELIHOOD.n, LIKELIHOOD.steps) };
      post({ type: 'likelihood', phase: 'started', ...LIKELIHOOD, n: run.n });
      lastWork = performance.now();
      setTimeout(resume, QUIET_MS);
    },
    /** The model is about to change: drop the run. */
    cancel() {
      if (run) post({ type: 'likelihood', phase: 'cancelled' });
      run = null;
    },
    /** Wraps the handling of one work message: the ODE pauses until no work is left. */
    async during(work) {
      busy += 1;
      try {
        return await work();
      } finally {
        busy -= 1;
        lastWork = performance.now();
        if (busy === 0) setTimeout(resume, QUIET_MS);
      }
    },
  };
}
