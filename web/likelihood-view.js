// The STATES display's line on the data's likelihood under the model (worker messages of type
// 'likelihood', from web/likelihood-task.js); the numbers land in `state.likelihood`.

/** Updates `el` (and `state.likelihood`) from one 'likelihood' message. */
export function showLikelihood(el, state, message) {
  const { phase, n, steps } = message;
  const what = `the probability-flow ODE, exact divergence, ${n} training points, ${steps} RK4 steps`;
  if (phase === 'started' || phase === 'progress') {
    state.likelihood = { pending: true, taken: message.taken ?? 0 };
    el.textContent = `Likelihood of the training data under this model: integrating ${what}`
      + ` (${message.taken ?? 0} of ${steps} steps, while the page is idle)…`;
  } else if (phase === 'done') {
    state.likelihood = { nll: message.nll, error: message.error, nfe: message.nfe, bits: message.bits, n, steps };
    el.textContent = `−log p(x) of the training data under this model: ${message.nll.toFixed(3)} ± ${message.error.toFixed(3)} nats`
      + ` per point (${message.bits.toFixed(3)} bits/dim; ${what}, ${message.nfe} network passes).`;
  } else if (phase === 'cancelled') {
    state.likelihood = null;
    el.textContent = '';
  } else if (phase === 'error') {
    state.likelihood = { error: message.message };
    el.textContent = `The likelihood could not be computed: ${message.message}`;
  }
}
