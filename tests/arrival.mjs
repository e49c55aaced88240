// Diffusion on arrival: opening the page shows particles moving in the first screen with no click
// (two screenshots of its canvas 0.5 s apart differ), looping with new seeds; with
// prefers-reduced-motion it shows a still final frame and a play button, which starts it.
import assert from 'node:assert/strict';
import { openPage } from './harness.mjs';
import { decodePng, inkedFraction } from './png.mjs';

const arrivalOf = (page) => page.evaluate(() => window.playground?.arrival && { ...window.playground.arrival });

function changedFraction(a, b) {
  let changed = 0;
  for (let i = 0; i < a.width * a.height; i++) {
    const o = i * a.channels;
    if (Math.abs(a.pixels[o] - b.pixels[o]) + Math.abs(a.pixels[o + 1] - b.pixels[o + 1]) + Math.abs(a.pixels[o + 2] - b.pixels[o + 2]) > 30) changed++;
  }
  return changed / (a.width * a.height);
}

async function twoShots(page) {
  const canvas = page.locator('#arrival');
  const first = decodePng(await canvas.screenshot());
  await page.waitForTimeout(500);
  return [first, decodePng(await canvas.screenshot())];
}

export async function arrival({ name, url }) {
  for (const motion of [true, false]) {
    const { browser, page, consoleErrors, log } = await openPage(false, `arrival-${name}${motion ? '' : '-still'}`, { motion });
    try {
      await page.goto(url);
      await page.waitForFunction(() => window.playground?.arrival?.runs >= 1, null, { timeout: 120_000, polling: 100 });
      const box = await page.locator('#arrival').boundingBox();
      assert.ok(box.y + box.height / 2 < 900, `the animation is not in the first screen (y = ${box.y})`);
      if (motion) {
        await page.waitForFunction(() => window.playground.arrival.frames >= 5, null, { timeout: 30_000 });
        const [a, b] = await twoShots(page);
        const changed = changedFraction(a, b);
        const { msToFirstRun } = await arrivalOf(page);
        log(`moving: ${(100 * changed).toFixed(2)}% of the canvas changed in 0.5 s; ${inkedFraction(b).toFixed(3)} inked; first step ${msToFirstRun} ms after its wasm was ready`);
        assert.ok(msToFirstRun < 1000, `the particles first moved ${msToFirstRun} ms after the wasm was ready`);
        assert.ok(changed > 0.002, `the canvas did not move (${changed})`);
        // It loops: a second run starts with a new seed.
        await page.waitForFunction(() => window.playground.arrival.runs >= 2, null, { timeout: 30_000, polling: 100 });
        assert.equal(await page.textContent('#arrival-play'), 'pause');
      } else {
        const state = await arrivalOf(page);
        assert.ok(state.still && !state.playing, JSON.stringify(state));
        await page.waitForTimeout(300);
        const [a, b] = await twoShots(page);
        assert.equal(changedFraction(a, b), 0, 'the still frame moved');
        assert.ok(inkedFraction(a) > 0.02, 'the still frame is blank');
        assert.equal(await page.textContent('#arrival-play'), '▶ play');
        await page.click('#arrival-play');
        await page.waitForFunction(() => window.playground.arrival.frames >= 5, null, { timeout: 30_000 });
        const [c, d] = await twoShots(page);
        assert.ok(changedFraction(c, d) > 0.002, 'play did not start the animation');
        log('still under reduced motion; play starts it');
      }
      assert.equal((await arrivalOf(page)).error, null);
      assert.deepEqual(consoleErrors, [], 'console errors');
    } finally {
      await browser.close();
    }
  }
}
