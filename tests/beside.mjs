// Flow matching beside DDPM in the page: the shipped DDPM denoiser through its 500 ancestral steps
// and, side by side from the same noise, the shipped reflowed flow-matching model through 8 Euler
// steps, trails on. A particle's straightness is |x_0 − x_T| / (its path's length over the frames):
// the reflowed flow's paths are close to straight (measured 1.000, median of 300), the ancestral
// chain's are not (each step adds fresh noise; measured 0.042).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { loadPretrained, openPage, screenshots, state, url, waitIdle } from './harness.mjs';

export async function beside({ name, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(false, `beside-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    await loadPretrained(page);
    await page.fill('#n', '300');
    await page.selectOption('#rule', 'ancestral');
    await page.fill('#sde-steps', '500');
    await page.selectOption('#compare', 'euler');
    await page.selectOption('#compare-model', 'flow');
    await page.selectOption('#compare-steps', '8');
    await page.check('#show-trails');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const run = await state(page);
    assert.deepEqual(run.errors, []);
    assert.equal(run.nfe, 500);
    assert.equal(run.second.nfe, 8);
    assert.match(run.second.rule, /euler on the shipped flow-matching model/);
    // Straightness per particle, median over the particles, of each run's path through the frames.
    const straightness = await page.evaluate(() => {
      const frames = window.playground.frames;
      const of = (key) => {
        const first = frames[0][key];
        const last = frames[frames.length - 1][key];
        const ratios = [];
        for (let i = 0; i < first.length; i += 2) {
          let length = 0;
          for (let f = 1; f < frames.length; f++) {
            length += Math.hypot(frames[f][key][i] - frames[f - 1][key][i], frames[f][key][i + 1] - frames[f - 1][key][i + 1]);
          }
          ratios.push(Math.hypot(last[i] - first[i], last[i + 1] - first[i + 1]) / Math.max(length, 1e-9));
        }
        ratios.sort((a, b) => a - b);
        return ratios[Math.floor(ratios.length / 2)];
      };
      return { ddpm: of('x'), flow: of('xB'), sameStart: frames[0].x.every((v, i) => v === frames[0].xB[i]) };
    });
    log(`DDPM ancestral (500 NFE): grader NLL ${run.nll.toFixed(3)}, straightness ${straightness.ddpm.toFixed(3)}; `
      + `flow matching, Euler (8 NFE): ${run.second.nll.toFixed(3)}, straightness ${straightness.flow.toFixed(3)}`);
    assert.ok(straightness.sameStart, 'the two runs did not start from the same noise');
    assert.ok(straightness.flow > 0.9, `the reflowed flow's paths are not straight: ${straightness.flow}`);
    assert.ok(straightness.ddpm < 0.5, `the ancestral chain's paths look straight: ${straightness.ddpm}`);
    assert.ok(run.nll < 2.3 && run.second.nll < 2.4, `grader NLL ${run.nll} / ${run.second.nll}`);
    assert.ok(await page.isVisible('#scatter-b'));
    writeFileSync(new URL(`beside-${name}.png`, screenshots), await page.locator('.side-by-side').first().screenshot());
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
