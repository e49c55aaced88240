// The MNIST panel's page test.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { openPage, openTab, screenshots, url, waitIdle } from './harness.mjs';
import { decodePng, inkedFraction } from './png.mjs';

/**
 * MNIST: the shipped UNet samples a 4×4 grid in the page (animated, one frame per step), and the
 * shipped CNN judge recognises the requested digits; inpainting keeps the kept pixels and completes
 * the digit; a surrogate start from the shipped conv VAE saves evaluations and keeps the digits;
 * a file of another kind is refused with a message.
 */
export async function mnist({ name, webgpu, steps, inpaint, minAgree, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, `${name} mnist`);
  const mnistState = () => page.evaluate(() => {
    const m = window.playground.mnist;
    return { ...m, x: m.x ? Array.from(m.x) : null, probs: null, errors: window.playground.errors };
  });
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    await openTab(page, 'mnist');
    assert.equal(await page.evaluate(() => document.body.dataset.device), webgpu ? 'webgpu' : 'cpu');

    // A STATES file is not an MNIST model: a clear message, nothing loaded.
    await page.setInputFiles('#mnist-file', new URL('../web/models/states-vp.safetensors', import.meta.url).pathname);
    await page.waitForFunction(() => window.playground.errors.length > 0, null, { timeout: 60_000 });
    assert.match((await mnistState()).errors.at(-1), /holds a denoiser, not a mnist-denoiser/);
    await waitIdle(page, 30_000);

    await page.click('#mnist-load-pretrained');
    await page.waitForFunction(() => window.playground.mnist.loaded && !window.playground.busy, null, { timeout: 120_000 });
    log(`loaded: ${(await mnistState()).describe}`);

    await page.selectOption('#mnist-grid', '4');
    await page.selectOption('#mnist-label', '-1');
    await page.selectOption('#mnist-sampler', 'dpmpp2m');
    await page.fill('#mnist-steps', String(steps));
    await page.fill('#mnist-guidance', '1');
    await page.click('#mnist-sample');
    await page.waitForFunction(() => window.playground.mnist.done && !window.playground.busy, null, { timeout, polling: 500 });
    const sampled = await mnistState();
    const verdicts = sampled.verdicts;
    assert.equal(sampled.x.length, 16 * 784);
    assert.ok(sampled.frames >= steps, `animated ${sampled.frames} frames for ${steps} steps`);
    assert.equal(sampled.nfe, steps);
    // Not blank and not noise: some ink, mostly background, and the judge is confident and agrees.
    const ink = sampled.x.filter((v) => v > 0).length / sampled.x.length;
    const confidence = verdicts.reduce((a, v) => a + v.p, 0) / 16;
    const agree = verdicts.filter((v, i) => v.digit === i % 10).length;
    log(`4×4 grid, DPM-Solver++ ${steps} steps: ${sampled.seconds.toFixed(1)} s (first frame after ${sampled.firstFrame.toFixed(1)} s), ink ${(100 * ink).toFixed(1)}%, `
      + `judge confidence ${(100 * confidence).toFixed(0)}%, ${agree}/16 as requested`);
    assert.ok(ink > 0.03 && ink < 0.4, `ink fraction ${ink}`);
    assert.ok(confidence > 0.6, `judge confidence ${confidence}`);
    // Chance is 1.6 of 16; the thresholds are set below what the shipped model measures.
    assert.ok(agree >= minAgree, `${agree}/16 digits as requested: ${verdicts.map((v) => v.digit)}`);
    // The canvas shows them: white strokes on the dark grid.
    const shot = await page.locator('#mnist-grid-canvas').screenshot();
    writeFileSync(new URL(`${name}-mnist-grid.png`, screenshots).pathname, shot);
    const grid = decodePng(shot);
    let bright = 0;
    for (let i = 0; i < grid.width * grid.height; i++) bright += grid.pixels[i * grid.channels] > 160 ? 1 : 0;
    const brightFraction = bright / (grid.width * grid.height);
    assert.ok(brightFraction > 0.02 && brightFraction < 0.4, `bright fraction of the grid canvas ${brightFraction}`);

    // A surrogate start (seed 003, Algorithm 4): the conv VAE's digits, noised to t_mid = 0.5 and
    // denoised from there, spend fewer evaluations and are still the requested digits.
    assert.ok(sampled.surrogate, 'the shipped surrogate did not load with the model');
    await page.selectOption('#mnist-start', 'vae');
    await page.click('#mnist-sample');
    await page.waitForFunction(() => window.playground.mnist.done && !window.playground.busy, null, { timeout, polling: 500 });
    const started = await mnistState();
    const startAgree = started.verdicts.filter((v, i) => v.digit === i % 10).length;
    log(`surrogate start at t_mid = ${started.tStart}: ${started.nfe} of ${started.fullNfe} evaluations, ${started.seconds.toFixed(1)} s `
      + `(plain: ${sampled.seconds.toFixed(1)} s), ${startAgree}/16 as requested`);
    assert.equal(started.tStart, 0.5);
    assert.equal(started.fullNfe, steps);
    assert.ok(started.nfe >= 1 && started.nfe < steps, `${started.nfe} evaluations from t_mid = 0.5 of ${steps}`);
    assert.ok(startAgree >= minAgree, `${startAgree}/16 surrogate-started digits as requested: ${started.verdicts.map((v) => v.digit)}`);
    assert.match(await page.textContent('#mnist-status'), /saved by starting at t_mid = 0.5/);
    await page.selectOption('#mnist-start', 'prior');

    if (inpaint) {
      // Test digit 0 is a 7: keep its top half, let the model complete the bottom.
      await page.click('#mnist-erase-half');
      await page.selectOption('#mnist-label', '10');
      await page.click('#mnist-inpaint');
      await page.waitForFunction(() => window.playground.mnist.done && !window.playground.busy, null, { timeout, polling: 500 });
      const filled = await mnistState();
      const original = await page.evaluate(() => Array.from(window.playground.editor.image));
      for (let i = 0; i < 4; i++) {
        for (let p = 0; p < 14 * 28; p++) {
          const kept = Math.round((filled.x[i * 784 + p] + 1) * 127.5);
          assert.ok(Math.abs(kept - original[p]) <= 1, `inpainting ${i} changed kept pixel ${p}`);
        }
      }
      const sevens = filled.verdicts.filter((v) => v.digit === 7).length;
      log(`inpainting the bottom half of a 7: judged ${filled.verdicts.map((v) => v.digit)}`);
      assert.ok(sevens >= 3, `only ${sevens}/4 completions are 7s`);
    }
    await page.screenshot({ path: new URL(`${name}-mnist.png`, screenshots).pathname, fullPage: true });
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
