// The improved-DDPM controls (seed 003) on the page: train with the cosine schedule, a short
// chain, L_hybrid and importance-sampled t; the learned Σ_θ(t) is drawn between β̃ and β, and the
// t drawn beside p_t; the ancestral sampler takes the learned variance (or β, β̃) on K respaced steps.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { openPage, screenshots, state, url, waitIdle } from './harness.mjs';
import { decodePng, inkedFraction } from './png.mjs';

export async function hse({ name, webgpu, steps, variances, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, `hse-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    assert.equal(await page.locator('#variance-plot').isHidden(), true);
    await page.fill('#steps', String(steps));
    await page.fill('#batch', '256');
    await page.fill('#lr', '0.01');
    await page.fill('#preview-every', '0');
    await page.selectOption('#schedule', 'cosine');
    await page.fill('#timesteps', '100');
    await page.selectOption('#objective', 'hybrid');
    await page.selectOption('#t-sampling', 'importance+2');
    await page.click('#train');
    await page.waitForFunction((s) => window.playground.trainedSteps >= s && !window.playground.busy, steps, { timeout, polling: 500 });
    const losses = (await state(page)).losses.map(([, l]) => l);
    assert.ok(losses.length === steps && losses.every(Number.isFinite), `losses ${losses}`);
    // The profile arrives after the run: the canvas shows, with three curves on it.
    await page.waitForFunction(() => !document.getElementById('variance-plot').hidden || document.getElementById('error').textContent, null, { timeout });
    assert.equal(await page.textContent('#error'), '');
    const shot = await page.locator('#variance-plot').screenshot();
    writeFileSync(new URL(`hse-${name}-variance.png`, screenshots), shot);
    const inked = inkedFraction(decodePng(shot));
    assert.ok(inked > 0.005, `the variance plot looks blank (${inked})`);
    log(`trained ${steps} hybrid steps (loss ${losses[0].toFixed(3)} → ${losses[steps - 1].toFixed(3)}); Σ_θ plot ${(100 * inked).toFixed(1)}% inked`);
    // Importance-sampled t (+2 refresh batches): the histogram of the t drawn and p_t, which has
    // left uniform once every t has its 10 losses (read after each chunk of steps, as WebGPU needs).
    assert.ok(await page.isVisible('#t-histogram'), 'no histogram of the sampled t');
    const rows = (await state(page)).tHistogram;
    const column = (c) => rows.filter((_, i) => i % 4 === c);
    const [shares, masses] = [column(2), column(3)];
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    assert.equal(rows.length, 4 * 50);
    assert.ok(Math.abs(sum(shares) - 1) < 1e-4 && Math.abs(sum(masses) - 1) < 1e-4, `${sum(shares)} ${sum(masses)}`);
    const spread = Math.max(...masses) / Math.min(...masses);
    log(`importance-sampled t: p_t's bins span ${spread.toFixed(1)}× (max/min); t = 1–2 holds ${(100 * masses[0]).toFixed(1)}% of p_t`);
    assert.ok(spread > 1.5, `p_t is still uniform: ${spread}`);
    writeFileSync(new URL(`hse-${name}-t-histogram.png`, screenshots), await page.locator('#t-histogram').screenshot());
    // Ancestral on 25 of the 100 steps with each variance: 25 network evaluations, finite samples.
    await page.fill('#n', '200');
    await page.selectOption('#rule', 'ancestral');
    await page.fill('#sde-steps', '25');
    for (const variance of variances) {
      await page.selectOption('#variance', variance);
      await page.click('#sample');
      await waitIdle(page, timeout);
      const sampled = await state(page);
      assert.equal(sampled.nfe, 25, `variance ${variance}: ${await page.textContent('#error')}`);
      const samples = await page.evaluate(() => Array.from(window.playground.samples));
      assert.ok(samples.length === 400 && samples.every(Number.isFinite), `variance ${variance}`);
      log(`ancestral, K = 25, variance ${variance || "(the model's)"}: grader NLL ${sampled.nll.toFixed(3)}`);
    }
    // The slider and the number box are one control.
    await page.locator('#steps-slider').fill('25');
    assert.equal(await page.inputValue('#sde-steps'), '25');
    // A model without a learned variance refuses `learned`, with a message, and stays usable.
    await page.selectOption('#objective', 'simple');
    await page.selectOption('#t-sampling', 'uniform');
    await page.fill('#steps', '2');
    await page.click('#train');
    await page.waitForFunction(() => !window.playground.busy && document.getElementById('variance-plot').hidden, null, { timeout });
    await page.selectOption('#variance', 'learned');
    await page.click('#sample');
    await page.waitForFunction(() => /no learned variance/.test(document.getElementById('error').textContent), null, { timeout: 30_000 });
    assert.equal((await state(page)).busy, false);
    // A diverging run (learning rate 1) is stopped by the guard, says so, and leaves a usable model.
    await page.fill('#lr', '1');
    await page.fill('#steps', '100');
    await page.click('#train');
    await page.waitForFunction(() => /diverged at step/.test(document.getElementById('error').textContent), null, { timeout });
    await waitIdle(page, timeout);
    const diverged = await state(page);
    assert.ok(diverged.diverged && diverged.trainedSteps < 100, `trained ${diverged.trainedSteps} steps`);
    assert.match(await page.textContent('#error'), /try a learning rate ≤ 0\.1/);
    log(`lr 1: ${await page.textContent('#error')}`);
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
