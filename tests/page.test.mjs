// End-to-end tests of the playground in a real headless Chromium (Debian's), twice: WebGPU on
// SwiftShader, and with WebGPU unavailable (the CPU fallback). Run by `cargo xtask test`, which
// serves the repository and sets PLAYGROUND_URL; workloads are tiny because SwiftShader is slow.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { cliClassifier, cliWeights, loadPretrained, openPage, openTab, screenshots, state, url, waitIdle, wrongShapeSafetensors } from './harness.mjs';
import { hse } from './hse.mjs';
import { mnist } from './mnist.mjs';
import { survive } from './survive.mjs';
import { links } from './links.mjs';
import { arrival } from './arrival.mjs';
import { a11y } from './a11y.mjs';
import { draw } from './draw.mjs';
import { views } from './views.mjs';
import { beside } from './beside.mjs';
import { surrogate } from './surrogate.mjs';
import { decodePng, inkedFraction } from './png.mjs';

async function run({ name, webgpu, steps, batch, n, guidedN, pretrainedN = 0, energyN, energyBudget = 16000, energyFrames = 0, classifier = true, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, name);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    const ready = await state(page);
    await page.waitForFunction(() => window.playground.arrival?.firstFrameMs != null, null, { timeout: 60_000 });
    const { firstFrameMs } = (await state(page)).arrival;
    log(`device: ${ready.device}; page ready (wasm compiled, device up) ${ready.readyMs} ms after navigation; the first screen's first frame at ${firstFrameMs} ms`);
    assert.equal(await page.evaluate(() => document.body.dataset.device), webgpu ? 'webgpu' : 'cpu');
    assert.match(await page.textContent('#device'), webgpu ? /webgpu/i : /cpu/i);

    // A bad hyper-parameter is refused with a message, and nothing starts.
    await page.fill('#lr', 'fast');
    await page.click('#train');
    assert.match(await page.textContent('#error'), /learning rate must be a number in \(0, 1\]/);
    assert.equal((await state(page)).busy, false);
    // The inputs' ranges are the core's table (crates/diffusion/src/limits.rs), the page's cap where
    // it has one; past it, the page refuses before posting anything to the worker.
    assert.equal(await page.getAttribute('#steps', 'max'), '100000');
    assert.equal(await page.getAttribute('#n', 'max'), '20000');
    assert.equal(await page.getAttribute('#energy-n', 'min'), '10');
    assert.equal(await page.getAttribute('#timesteps', 'min'), '2');
    await page.fill('#lr', '0.01');
    await page.fill('#batch', '100000');
    await page.click('#train');
    assert.match(await page.textContent('#error'), /must be an integer in \[1, 65536\], got "100000"/);
    assert.equal((await state(page)).busy, false);

    // Train a few steps: the loss goes down.
    await page.fill('#steps', String(steps));
    await page.fill('#batch', String(batch));
    await page.fill('#lr', '0.01');
    await page.fill('#preview-every', '0');
    await page.click('#train');
    await page.waitForFunction((s) => window.playground.trainedSteps >= s && !window.playground.busy, steps, { timeout, polling: 500 });
    const trained = await state(page);
    const losses = trained.losses.map(([, l]) => l);
    assert.equal(losses.length, steps);
    assert.ok(losses.every(Number.isFinite), `losses: ${losses}`);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const k = Math.max(3, Math.floor(steps / 5));
    log(`loss ${mean(losses.slice(0, k)).toFixed(3)} → ${mean(losses.slice(-k)).toFixed(3)} over ${steps} steps`);
    assert.ok(mean(losses.slice(-k)) < 0.9 * mean(losses.slice(0, k)), `loss did not decrease: ${losses}`);
    assert.match(await page.textContent('#speed'), /steps\/s/);

    // Sample: finite points, an animation trajectory, and a canvas with something on it.
    await page.fill('#n', String(n));
    await page.click('#sample');
    await waitIdle(page, timeout);
    const samples = await page.evaluate(() => Array.from(window.playground.samples));
    assert.equal(samples.length, 2 * n);
    assert.ok(samples.every(Number.isFinite), 'samples are finite');
    const frames = await page.evaluate(() => window.playground.frames.map((f) => f.t));
    assert.ok(frames[0] === 500 && frames[frames.length - 1] === 0, `frames ${frames}`);
    const shot = await page.locator('#scatter').screenshot();
    writeFileSync(new URL(`${name}-samples.png`, screenshots), shot);
    const inked = inkedFraction(decodePng(shot));
    log(`samples finite; scatter canvas ${(100 * inked).toFixed(1)}% inked`);
    assert.ok(inked > 0.01, `scatter canvas looks blank (${inked})`);
    // The same network through an ODE solver on the chain's own process: Heun over 20 steps of
    // it (respaced, down to step 1) = 40 network evaluations.
    await page.selectOption('#rule', 'ode-heun');
    await page.fill('#sde-steps', '20');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const ode = await state(page);
    assert.equal(ode.nfe, 40);
    assert.ok((await page.evaluate(() => Array.from(window.playground.samples))).every(Number.isFinite));
    assert.match(await page.textContent('#nll'), /ode-heun, 40 network evaluations/);
    log(`ODE (Heun, 20 steps): ${ode.nfe} NFE, grader NLL ${ode.nll.toFixed(3)}`);
    // DDIM respaced to 10 of the 500 steps: 10 network evaluations.
    await page.selectOption('#rule', 'ddim');
    await page.fill('#sde-steps', '10');
    await page.click('#sample');
    await waitIdle(page, timeout);
    assert.equal((await state(page)).nfe, 10);
    // Side by side from the same noise, with the score field drawn: the ODE (Heun, 20 steps = 40
    // evaluations) and DPM-Solver++(2M) (20 steps = 20 evaluations) step together in t.
    await page.selectOption('#rule', 'ode-heun');
    await page.fill('#sde-steps', '20');
    await page.selectOption('#compare', 'dpmpp2m');
    await page.check('#show-field');
    const errorsBeforePair = (await state(page)).errors.length;
    await page.click('#sample');
    await waitIdle(page, timeout);
    const pair = await state(page);
    assert.deepEqual(pair.errors.slice(errorsBeforePair), [], 'side-by-side sampling errors');
    assert.equal(pair.nfe, 40);
    assert.equal(pair.second.rule, 'dpmpp2m');
    assert.equal(pair.second.nfe, 20);
    const second = await page.evaluate(() => Array.from(window.playground.second.x));
    assert.ok(second.length === 2 * n && second.every(Number.isFinite), 'side-by-side samples are finite');
    const fields = await page.evaluate(() => Object.values(window.playground.fields).map((f) => Array.from(f)));
    assert.ok(fields.length >= 2, `score fields: ${fields.length}`);
    assert.ok(fields.every((f) => f.length === 21 * 21 * 4 && f.every(Number.isFinite)), 'score field rows');
    assert.ok(await page.isVisible('#scatter-b'));
    const pairShot = await page.locator('#scatter-b').screenshot();
    writeFileSync(new URL(`${name}-side-by-side.png`, screenshots), pairShot);
    assert.ok(inkedFraction(decodePng(pairShot)) > 0.01, 'the side-by-side canvas looks blank');
    assert.match(await page.textContent('#nll'), /Side by side, dpmpp2m from the same noise/);
    log(`side by side: ode-heun ${pair.nll.toFixed(3)} (${pair.nfe} NFE) vs dpmpp2m ${pair.second.nll.toFixed(3)} (${pair.second.nfe} NFE); ${fields.length} score fields`);
    await page.selectOption('#compare', '');
    await page.uncheck('#show-field');
    await page.selectOption('#rule', 'ancestral');
    await page.click('#sample');
    await waitIdle(page, timeout);

    // Trails: the particles' paths drawn under them, from the frames of the run.
    const beforeTrails = inkedFraction(decodePng(await page.locator('#scatter').screenshot()));
    await page.check('#show-trails');
    const withTrails = inkedFraction(decodePng(await page.locator('#scatter').screenshot()));
    log(`trails: ${(100 * beforeTrails).toFixed(1)}% → ${(100 * withTrails).toFixed(1)}% of the canvas inked`);
    assert.ok(withTrails > beforeTrails + 0.01, `trails drew nothing: ${beforeTrails} → ${withTrails}`);
    await page.uncheck('#show-trails');
    // The data's own p_t as a heat map under the particles, recomputed as t falls.
    await page.check('#show-density');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const densityTimes = Object.keys(await page.evaluate(() => window.playground.densities)).length;
    const withDensity = inkedFraction(decodePng(await page.locator('#scatter').screenshot()));
    log(`p_t heat maps at ${densityTimes} times; canvas ${(100 * withDensity).toFixed(1)}% inked`);
    assert.ok(densityTimes >= 3, `only ${densityTimes} heat maps`);
    assert.ok(withDensity > beforeTrails + 0.02, `the heat map drew nothing: ${beforeTrails} → ${withDensity}`);
    await page.uncheck('#show-density');
    // Scrubbing the time slider redraws an earlier frame.
    await page.$eval('#time', (el) => { el.value = '500'; el.dispatchEvent(new Event('input')); });
    assert.equal(await page.textContent('#time-label'), 't = 500');
    const lossShot = decodePng(await page.locator('#loss').screenshot());
    assert.ok(inkedFraction(lossShot) > 0.002, 'loss canvas looks blank');

    // A score model on the VP SDE's continuous time (Fourier time features, EMA weights) trains
    // here too, and samples with that SDE's own ancestral sampler: 20 steps = 20 evaluations.
    await page.selectOption('#sde', 'vp');
    await page.click('#train');
    await page.waitForFunction((s) => window.playground.trainedSteps >= s && !window.playground.busy, steps, { timeout, polling: 500 });
    const vp = (await state(page)).losses.map(([, l]) => l);
    assert.equal(vp.length, steps);
    log(`VP score matching: loss ${mean(vp.slice(0, k)).toFixed(3)} → ${mean(vp.slice(-k)).toFixed(3)}`);
    assert.ok(mean(vp.slice(-k)) < 0.9 * mean(vp.slice(0, k)), `VP loss did not decrease: ${vp}`);
    await page.fill('#sde-steps', '20');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const vpSampled = await state(page);
    assert.equal(vpSampled.nfe, 20);
    assert.ok((await page.evaluate(() => Array.from(window.playground.samples))).every(Number.isFinite));

    // Flow matching: a velocity network on the rectified-flow path, sampled by Euler's ODE rule.
    await page.selectOption('#sde', 'flow-matching');
    await page.click('#train');
    await page.waitForFunction((s) => window.playground.trainedSteps >= s && !window.playground.busy, steps, { timeout, polling: 500 });
    const flow = (await state(page)).losses.map(([, l]) => l);
    log(`flow matching: loss ${mean(flow.slice(0, k)).toFixed(3)} → ${mean(flow.slice(-k)).toFixed(3)}`);
    // Its loss has a high floor (Var(z − x₀ | x_t): ≈ 1.42 after the CLI's 3000 steps, from ≈ 2 for a
    // network that predicts 0), so a few steps take a smaller share off than the ε-losses above.
    assert.ok(mean(flow.slice(-k)) < 0.95 * mean(flow.slice(0, k)), `flow-matching loss did not decrease: ${flow}`);
    await page.selectOption('#rule', 'euler');
    await page.fill('#sde-steps', '8');
    await page.click('#sample');
    await waitIdle(page, timeout);
    assert.equal((await state(page)).nfe, 8);
    assert.ok((await page.evaluate(() => Array.from(window.playground.samples))).every(Number.isFinite));
    await page.selectOption('#rule', 'ancestral');
    await page.fill('#sde-steps', '20');
    await page.selectOption('#sde', 'ddpm');

    // The energy mode: rdMC and ULA from the same start on the 4-Gaussian mixture (weights .1, .2,
    // .3, .4 at (0,0), (0,11), (9,9), (11,0)), at the same gradient evaluations per sample. rdMC
    // finds the four modes in proportion; ULA, started near the origin, stays in the mode there.
    // (The whole run on the CPU only: on SwiftShader's WebGPU its thousands of small kernel launches
    // and 150 read-backs outlast the test even at 1 000 gradients per sample.)
    // On WebGPU: the same run's first frames (20 gradients each at a budget of 1 000), then Stop.
    await openTab(page, 'energy');
    if (energyFrames) {
      await page.selectOption('#energy-target', 'gmm4');
      await page.fill('#energy-n', '300');
      await page.selectOption('#energy-budget', '1000');
      await page.click('#energy-run');
      await page.waitForFunction((g) => window.playground.energy?.grads >= g, 20 * energyFrames, { timeout, polling: 500 });
      await page.click('#energy-stop');
      await page.waitForFunction(() => window.playground.energy?.done && !window.playground.busy, null, { timeout, polling: 500 });
      const energy = await page.evaluate(() => ({
        grads: window.playground.energy.grads,
        rdmc: Array.from(window.playground.energy.rdmc ?? []),
        ula: Array.from(window.playground.energy.ula ?? []),
      }));
      log(`energy on this device: stopped after ${energy.grads} of 1000 gradient evaluations per sample`);
      assert.ok(energy.grads >= 20 * energyFrames && energy.grads < 1000 && energy.grads % 20 === 0, `grads ${energy.grads}`);
      assert.ok(energy.rdmc.length === 600 && energy.ula.length === 600, 'one point per particle');
      assert.ok(energy.rdmc.every(Number.isFinite) && energy.ula.every(Number.isFinite), 'energy samples are finite');
      assert.match(await page.textContent('#energy-status'), /^Stopped/);
    }
    if (energyN) {
      await page.selectOption('#energy-target', 'gmm4');
      await page.fill('#energy-n', String(energyN));
      await page.selectOption('#energy-budget', energyBudget === 16000 ? '0' : String(energyBudget));
      await page.click('#energy-run');
      await page.waitForFunction(() => window.playground.energy?.done && !window.playground.busy, null, { timeout, polling: 500 });
      const energy = await page.evaluate(() => ({
        grads: window.playground.energy.grads,
        rdmc: Array.from(window.playground.energy.rdmc),
        ula: Array.from(window.playground.energy.ula),
      }));
      assert.equal(energy.grads, energyBudget);
      const modes = [[0, 0], [0, 11], [9, 9], [11, 0]];
      const shares = (xy) => {
        const counts = [0, 0, 0, 0];
        for (let i = 0; i < xy.length; i += 2) {
          const d = modes.map(([a, b]) => (xy[i] - a) ** 2 + (xy[i + 1] - b) ** 2);
          counts[d.indexOf(Math.min(...d))] += 1;
        }
        return counts.map((c) => c / (xy.length / 2));
      };
      assert.ok(energy.rdmc.every(Number.isFinite) && energy.ula.every(Number.isFinite), 'energy samples are finite');
      const [rdmcShares, ulaShares] = [shares(energy.rdmc), shares(energy.ula)];
      log(`energy (gmm4, ${energyN} points, ${energyBudget} gradients each): rdMC mode shares ${rdmcShares.map((v) => v.toFixed(2))}, ULA ${ulaShares.map((v) => v.toFixed(2))}`);
      // 4 standard errors of a share of .4 at this n, and at least 0.05.
      const slack = Math.max(0.05, 4 * Math.sqrt(0.24 / energyN));
      [0.1, 0.2, 0.3, 0.4].forEach((w, k) => assert.ok(Math.abs(rdmcShares[k] - w) < slack, `rdMC mode ${k}: ${rdmcShares[k]} vs ${w}`));
      assert.ok(ulaShares[0] > 0.8, `ULA left the origin's mode: ${ulaShares}`);
      const energyShot = await page.locator('#energy-rdmc').screenshot();
      writeFileSync(new URL(`${name}-energy.png`, screenshots), energyShot);
      assert.ok(inkedFraction(decodePng(energyShot)) > 0.01, 'the energy canvas looks blank');
      assert.match(await page.textContent('#energy-status'), new RegExp(`${energyBudget} gradient evaluations`));
    }
    await openTab(page, 'states');

    // Corrupt weights: a clear message on the page, and the trained model is kept.
    const errorsBefore = (await state(page)).errors.length;
    const nextError = (n) => page.waitForFunction((k) => window.playground.errors.length > k && !window.playground.busy, n, { timeout: 60_000 });
    await page.setInputFiles('#weights-file', { name: 'bad.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('definitely not safetensors') });
    await nextError(errorsBefore);
    const corrupt = await page.textContent('#error');
    log(`corrupt file → "${corrupt}"`);
    assert.match(corrupt, /weights/i);
    await page.setInputFiles('#weights-file', { name: 'wrong.safetensors', mimeType: 'application/octet-stream', buffer: wrongShapeSafetensors() });
    await nextError(errorsBefore + 1);
    const wrong = await page.textContent('#error');
    log(`wrong-shape file → "${wrong}"`);
    assert.match(wrong, /layers\.0\.weight/);

    // Weights the native CLI wrote load and sample.
    if (cliWeights) {
      const errorsNow = (await state(page)).errors.length;
      await page.fill('#weights-url', cliWeights);
      await page.click('#load-url');
      await page.waitForFunction(([u, k]) => window.playground.loaded === u || window.playground.errors.length > k, [cliWeights, errorsNow], { timeout: 60_000 });
      await waitIdle(page, 30_000);
      assert.equal((await state(page)).loaded, cliWeights, await page.textContent('#error'));
      await page.click('#sample');
      await waitIdle(page, timeout);
      const fromCli = await page.evaluate(() => Array.from(window.playground.samples));
      assert.ok(fromCli.length === 2 * n && fromCli.every(Number.isFinite));
      log('CLI weights loaded and sampled');
    }

    // The noisy classifier trains here too: its cross-entropy falls from log 5 ≈ 1.61 and the
    // held-out accuracy by t arrives. (Not on SwiftShader's WebGPU: classifier-guided sampling,
    // a classifier gradient per step in hundreds of small kernel launches, outlasts the test there;
    // the native wgpu test covers the classifier's forward and backward passes on a GPU backend.)
    if (!classifier) {
      await page.screenshot({ path: new URL(`${name}-page.png`, screenshots).pathname, fullPage: true });
      assert.deepEqual(consoleErrors, [], 'console errors');
      log('ok (classifier steps skipped on this device)');
      return;
    }
    await page.fill('#c-steps', String(steps));
    await page.fill('#c-batch', String(batch));
    await page.fill('#c-lr', '0.01');
    await page.click('#train-classifier');
    await page.waitForFunction((s) => window.playground.classifierTrainedSteps >= s && !window.playground.busy, steps, { timeout, polling: 500 });
    const classified = await state(page);
    const ce = classified.classifierLosses.map(([, l]) => l);
    assert.equal(ce.length, steps);
    log(`classifier cross-entropy ${mean(ce.slice(0, k)).toFixed(3)} → ${mean(ce.slice(-k)).toFixed(3)}`);
    assert.ok(mean(ce.slice(-k)) < 0.95 * mean(ce.slice(0, k)), `classifier loss did not decrease: ${ce}`);
    assert.equal(classified.classifierMetrics.byBucket.length, 10);
    assert.match(await page.textContent('#c-accuracy'), /Held-out accuracy/);

    // Guided sampling: pick Idaho with the CLI's classifier and denoiser; the particles land on it
    // (judged by the nearest data point's label), with the prediction map drawn underneath.
    if (cliWeights && cliClassifier) {
      const errorsNow = (await state(page)).errors.length;
      await page.fill('#classifier-url', cliClassifier);
      await page.click('#load-classifier-url');
      await page.waitForFunction(([u, k]) => window.playground.classifierLoaded === u || window.playground.errors.length > k, [cliClassifier, errorsNow], { timeout: 60_000 });
      await waitIdle(page, 30_000);
      assert.equal((await state(page)).classifierLoaded, cliClassifier, await page.textContent('#error'));
      await page.selectOption('#label', '1');
      await page.$eval('#scale', (el) => { el.value = '3'; el.dispatchEvent(new Event('input')); });
      assert.equal(await page.textContent('#scale-label'), '3');
      await page.fill('#n', String(guidedN));
      await page.click('#sample');
      await waitIdle(page, timeout);
      const guided = await state(page);
      assert.deepEqual(guided.errors.slice(errorsNow), [], 'guided sampling errors');
      log(`guided towards Idaho: ${(100 * guided.onTarget).toFixed(1)}% on target; ${Object.keys(guided.maps).length} prediction maps`);
      assert.ok(guided.onTarget > 0.6, `only ${guided.onTarget} of the samples landed on Idaho`);
      assert.ok(Object.keys(guided.maps).length >= 5, 'prediction maps were drawn');
      assert.match(await page.textContent('#nll'), /landed on the requested Idaho/);
      writeFileSync(new URL(`${name}-guided.png`, screenshots), await page.locator('#scatter').screenshot());
    }

    // The shipped models: one click loads both, and guidance at s = 1 lands on Oklahoma.
    if (pretrainedN) {
      const errorsNow = (await state(page)).errors.length;
      await loadPretrained(page, errorsNow);
      await page.selectOption('#label', '3');
      await page.$eval('#scale', (el) => { el.value = '1'; el.dispatchEvent(new Event('input')); });
      await page.fill('#n', String(pretrainedN));
      await page.click('#sample');
      await waitIdle(page, timeout);
      const okla = await state(page);
      log(`pre-trained, guided towards Oklahoma: ${(100 * okla.onTarget).toFixed(1)}% on target, grader NLL ${okla.nll.toFixed(3)}`);
      assert.ok(okla.onTarget > 0.95, `only ${okla.onTarget} on Oklahoma`);
      // Oklahoma's own data scores 2.446 under the grader; trained guided samples come close.
      assert.ok(okla.nll < 2.8, `grader NLL ${okla.nll}`);

      // The shipped VP score model (continuous time) through DPM-Solver++(2M) at 20 evaluations.
      const errorsVp = (await state(page)).errors.length;
      await page.click('#load-pretrained-vp');
      await page.waitForFunction((k) => window.playground.loaded?.includes('states-vp') || window.playground.errors.length > k, errorsVp, { timeout: 60_000 });
      await waitIdle(page, 30_000);
      assert.deepEqual((await state(page)).errors.slice(errorsVp), [], 'loading the VP model');
      await page.selectOption('#label', '-1');
      await page.selectOption('#rule', 'dpmpp2m');
      await page.fill('#sde-steps', '20');
      await page.click('#sample');
      await waitIdle(page, timeout);
      const vpShipped = await state(page);
      log(`pre-trained VP, DPM-Solver++(2M): ${vpShipped.nfe} NFE, grader NLL ${vpShipped.nll.toFixed(3)}`);
      assert.equal(vpShipped.nfe, 20);
      // The CLI measures 2.196 at 20 NFE on 5000 samples; a few hundred samples scatter more.
      assert.ok(vpShipped.nll < 2.4, `grader NLL ${vpShipped.nll}`);
    }
    await page.screenshot({ path: new URL(`${name}-page.png`, screenshots).pathname, fullPage: true });
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}

// PAGE_TESTS=cpu (or webgpu) runs one of the two; the default runs both.
// PAGE_TESTS=mnist-cpu or mnist-webgpu runs only that MNIST check; hse-cpu or hse-webgpu the improved-DDPM controls;
// survive-cpu or survive-webgpu the worker restarts (a wasm trap, a lost device); links-cpu the settings in the URL;
// arrival the first screen's live sampling; a11y names, keyboard focus and contrast; views the tabs and layout;
// beside-cpu flow matching beside DDPM from the same noise;
// draw-cpu training on points drawn with the mouse; surrogate-cpu a sampler started from a mixture.
const only = process.env.PAGE_TESTS;
if (!only || only === 'webgpu') await run({ name: 'webgpu', webgpu: true, steps: 12, batch: 128, n: 64, guidedN: 64, energyN: 0, energyFrames: 3, classifier: false, timeout: 400_000 });
if (!only || only === 'cpu') await run({ name: 'cpu', webgpu: false, steps: 30, batch: 256, n: 200, guidedN: 300, pretrainedN: 500, energyN: 300, energyBudget: 4000, timeout: 200_000 });
if (!only || only === 'arrival') await arrival({ name: 'cpu', url });
if (!only || only === 'a11y') await a11y({ name: 'cpu' });
if (!only || only === 'views') await views({ name: 'cpu' });
if (!only || only === 'views-webgpu') await views({ name: 'webgpu', webgpu: true });
if (!only || only === 'beside-cpu') await beside({ name: 'cpu', timeout: 200_000 });
if (!only || only === 'draw-cpu') await draw({ name: 'cpu', timeout: 200_000 });
if (!only || only === 'links-cpu') await links({ name: 'cpu', webgpu: false });
if (!only || only === 'survive-webgpu') await survive({ name: 'webgpu', webgpu: true, timeout: 400_000 });
if (!only || only === 'survive-cpu') await survive({ name: 'cpu', webgpu: false, timeout: 200_000 });
if (!only || only === 'surrogate-cpu') await surrogate({ name: 'cpu', webgpu: false, n: 500, timeout: 200_000 });
if (!only || only === 'hse-webgpu') await hse({ name: 'webgpu', webgpu: true, steps: 10, variances: ['learned'], timeout: 400_000 });
if (!only || only === 'hse-cpu') await hse({ name: 'cpu', webgpu: false, steps: 60, variances: ['learned', 'beta', 'beta-tilde', ''], timeout: 200_000 });
// (With the shipped model both devices measure 16/16 digits as requested at 10 steps, judge
// confidence ≥ 99%.)
if (!only || only === 'mnist-webgpu') await mnist({ name: 'webgpu', webgpu: true, steps: 10, inpaint: true, minAgree: 13, timeout: 600_000 });
if (!only || only === 'mnist-cpu') await mnist({ name: 'cpu', webgpu: false, steps: 10, inpaint: true, minAgree: 13, timeout: 300_000 });
console.log('page tests passed');
