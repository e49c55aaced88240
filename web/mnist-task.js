// The worker's MNIST half: the CLI's UNet with its judge and its surrogate (web crate's
// MnistModel), sampled one step per frame — from the prior, from the conv VAE's digits noised to
// t_mid (a surrogate start), or around the kept pixels of a digit (inpainting) — then judged.

/**
 * `playground()` is the worker's wasm playground, `post` sends to the page, `stopped()` tells
 * whether the page asked to stop and `resetStop()` clears that at the start of a run.
 */
export function mnistTask({ playground, post, yieldToEvents, stopped, resetStop }) {
  /** The MNIST UNet (and its judge and surrogate), loaded from the CLI's files. */
  let mnist = null;

  function mnistLoad({ bytes, judge, surrogate, source }) {
    const model = playground().loadMnist(new Uint8Array(bytes));
    let surrogateError = null;
    try {
      if (judge) model.loadJudge(new Uint8Array(judge));
      // The surrogate is optional: a bad one is named, and the UNet still loads.
      if (surrogate) {
        try {
          model.loadSurrogate(new Uint8Array(surrogate));
        } catch (err) {
          surrogateError = String(err.message ?? err);
        }
      }
    } catch (err) {
      model.free();
      throw err;
    }
    mnist?.free();
    mnist = model;
    post({ type: 'mnist-loaded', source, describe: mnist.describe(), judge: Boolean(judge), surrogate: mnist.hasSurrogate(), surrogateError });
  }

  /** A grid of digits (or inpaintings), one sampler step per frame, then the judge's verdict. */
  async function mnistSample({ n, label, sampler, steps, guidance, seed, inpaint, tStart = null }) {
    if (!mnist) throw new Error('load the MNIST model first');
    let started = performance.now();
    resetStop();
    let x = null;
    if (inpaint) {
      mnist.startInpaint(new Uint8Array(inpaint.image), new Uint8Array(inpaint.mask), n, label, sampler, steps, guidance, seed);
    } else if (tStart != null) {
      // A surrogate start: the VAE's digits first, then their noised and denoised states.
      mnist.startFromSurrogate(n, label, sampler, steps, guidance, seed, tStart);
      // (At t_mid = 0 they are the result: the sampler has nothing left to do.)
      x = await mnist.surrogateDraws();
      post({ type: 'mnist-frame', x, t: tStart, nfe: 0, frames: 0, surrogate: true });
      await new Promise((resolve) => setTimeout(resolve, 600));
      started = performance.now(); // the pause to show them is not sampling time
    } else {
      mnist.start(n, label, sampler, steps, guidance, seed);
    }
    let frames = 0;
    while (!mnist.done() && !stopped()) {
      x = await mnist.step(1);
      frames += 1;
      post({ type: 'mnist-frame', x, t: mnist.t(), nfe: mnist.nfe(), frames });
      await yieldToEvents();
    }
    let probs = null;
    try {
      probs = x ? await mnist.classify(x) : null;
    } catch (err) {
      probs = null; // no judge loaded
    }
    post({ type: 'mnist-done', x, probs, nfe: mnist.nfe(), fullNfe: mnist.fullNfe(), tStart, frames, seconds: (performance.now() - started) / 1000, stopped: stopped(), inpaint: Boolean(inpaint) });
  }

  return { mnistLoad, mnistSample };
}
