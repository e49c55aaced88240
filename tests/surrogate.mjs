// Surrogate diffusion on the page (seed 003, Algorithm 4): the shipped DDPM started from a Gaussian
// mixture's samples at t_mid. The mixture's own samples are shown first, the chain runs only the
// steps below t_mid (the saving is stated), the samples still score like the full chain's, and
// t_mid = 0 is the mixture alone, with no network evaluation.
import assert from 'node:assert/strict';
import { loadPretrained, openPage, state, url, waitIdle } from './harness.mjs';

export async function surrogate({ name, webgpu, n, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, `surrogate-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    await loadPretrained(page);
    await page.fill('#n', String(n));
    await page.selectOption('#rule', 'ancestral');
    await page.fill('#sde-steps', '500');
    await page.selectOption('#start', '20');
    await page.$eval('#t-mid', (el) => { el.value = '0.25'; el.dispatchEvent(new Event('input')); });
    assert.equal(await page.textContent('#t-mid-label'), '0.25');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const run = await state(page);
    assert.deepEqual(run.errors, []);
    assert.equal(run.surrogateShown, n, 'the mixture\'s own samples were not shown first');
    // Step 125 of 500: 125 evaluations, 375 saved, and the replay slider covers t = 125 … 0.
    assert.equal(run.nfe, 125);
    assert.equal(run.fullNfe, 500);
    assert.match(await page.textContent('#nll'), /125 network evaluations \(375 of the grid's 500 saved by the surrogate start\)/);
    assert.equal(await page.getAttribute('#time', 'max'), '125');
    // The CLI measures 2.155 (5000 samples; the full chain 2.144); a few hundred scatter more.
    assert.ok(run.nll < 2.35, `grader NLL ${run.nll}`);
    log(`GMM-20 from step 125: ${run.nfe} NFE of ${run.fullNfe}, grader NLL ${run.nll.toFixed(3)}`);
    // t_mid = 0: the mixture's samples themselves.
    await page.$eval('#t-mid', (el) => { el.value = '0'; el.dispatchEvent(new Event('input')); });
    await page.click('#sample');
    await waitIdle(page, timeout);
    const alone = await state(page);
    assert.equal(alone.nfe, 0);
    assert.ok(alone.nll < 2.5, `the mixture alone: grader NLL ${alone.nll}`);
    log(`GMM-20 alone: grader NLL ${alone.nll.toFixed(3)}`);
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
