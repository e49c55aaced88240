// Your own data: draw two rings on the sampling canvas with the mouse (real pointer events), train
// the DDPM on them in the page, sample, and the samples sit on the drawing: their mean distance to
// the nearest drawn point is under half of what the same number of N(0, I) points has (a few
// hundred CPU steps in a test do not make a sharp model: measured 0.14 against 0.47 at 400 steps,
// 0.17 at 300; the drawn points are 0.06 apart along the strokes). The drawing travels in the link.
// Then the same with Texas's outline from us-atlas.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openPage, state, url, waitIdle } from './harness.mjs';

const VIEW = { x: [-3.2, 3.2], y: [-2.6, 2.6] }; // web/plots.js

/** Mean over `points` of the distance to the nearest of `drawn` (both flat [x, y, …]). */
function meanNearest(points, drawn) {
  let total = 0;
  for (let i = 0; i < points.length; i += 2) {
    let best = Infinity;
    for (let j = 0; j < drawn.length; j += 2) best = Math.min(best, Math.hypot(points[i] - drawn[j], points[i + 1] - drawn[j + 1]));
    total += best;
  }
  return total / (points.length / 2);
}

export async function draw({ name, timeout }) {
  const { browser, page, consoleErrors, log } = await openPage(false, `draw-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    await page.check('#draw-mode');
    assert.equal(await page.inputValue('#data-source'), 'drawn');
    // Draw mode brings the canvas (above the controls on this 760 px page) into view.
    await page.waitForFunction(() => {
      const r = document.getElementById('scatter').getBoundingClientRect();
      return r.top >= 0 && r.bottom <= innerHeight;
    }, null, { timeout: 5_000 });
    const box = await page.locator('#scatter').boundingBox();
    const toScreen = (x, y) => [box.x + ((x - VIEW.x[0]) / (VIEW.x[1] - VIEW.x[0])) * box.width,
      box.y + (1 - (y - VIEW.y[0]) / (VIEW.y[1] - VIEW.y[0])) * box.height];
    for (const [cx, cy, r] of [[-0.8, 0.2, 1.2], [1.6, -0.4, 0.5]]) {
      await page.mouse.move(...toScreen(cx + r, cy));
      await page.mouse.down();
      for (let k = 1; k <= 240; k++) await page.mouse.move(...toScreen(cx + r * Math.cos((2 * Math.PI * k) / 240), cy + r * Math.sin((2 * Math.PI * k) / 240)));
      await page.mouse.up();
    }
    await page.uncheck('#draw-mode');
    const drawn = await page.evaluate(() => window.playground.drawn.slice());
    log(`${drawn.length / 2} points drawn`);
    assert.ok(drawn.length / 2 >= 100 && drawn.length / 2 <= 400, `${drawn.length / 2} points`);
    assert.match(await page.textContent('#drawn-count'), new RegExp(`^${drawn.length / 2} points drawn`));
    // The drawing is in the link: a second page opened from it has the same points (to the link's
    // 0.001 rounding) and trains on them; a damaged drawing is refused with a notice.
    const link = page.url();
    assert.match(link, /[#&]drawn=[A-Za-z0-9_-]+/);
    assert.match(link, /[#&]data-source=drawn/);
    const second = await browser.newPage({ reducedMotion: 'reduce' });
    await second.goto(link);
    await waitIdle(second, 120_000);
    const reopened = await second.evaluate(() => ({ drawn: window.playground.drawn.slice(), source: document.getElementById('data-source').value }));
    assert.equal(reopened.source, 'drawn');
    assert.equal(reopened.drawn.length, drawn.length);
    assert.ok(reopened.drawn.every((v, i) => Math.abs(v - drawn[i]) <= 5e-4 + 1e-6), 'the link moved a drawn point');
    await second.goto(`${url}#drawn=AAAAAAA`);
    await waitIdle(second, 120_000);
    const damaged = await state(second);
    assert.match(damaged.linkNotices.join(), /drawn=AAAAAAA \(not whole \(x, y\) pairs\)/);
    assert.equal(damaged.drawn.length, 0);
    await second.close();
    log(`${drawn.length / 2} drawn points through the link (${link.length} characters) and back`);

    await page.fill('#steps', '400');
    await page.fill('#batch', '256');
    await page.fill('#lr', '0.01');
    await page.fill('#preview-every', '0');
    await page.click('#train');
    await page.waitForFunction(() => window.playground.trainedSteps >= 400 && !window.playground.busy, null, { timeout, polling: 500 });
    assert.deepEqual((await state(page)).errors, []);
    await page.fill('#n', '400');
    await page.selectOption('#rule', 'ddim');
    await page.fill('#sde-steps', '50');
    await page.click('#sample');
    await waitIdle(page, timeout);
    const samples = await page.evaluate(() => Array.from(window.playground.samples));
    const normal = [];
    for (let i = 0; i < samples.length; i += 2) {
      const [u, v] = [1 - Math.random(), Math.random()];
      normal.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v), Math.sqrt(-2 * Math.log(u)) * Math.sin(2 * Math.PI * v));
    }
    const [trained, baseline] = [meanNearest(samples, drawn), meanNearest(normal, drawn)];
    log(`samples' mean distance to the drawing ${trained.toFixed(3)}; N(0, I) points' ${baseline.toFixed(3)}`);
    assert.ok(trained < baseline / 2, `the samples are not on the drawing: ${trained} vs ${baseline} for noise`);
    assert.match(await page.textContent('#nll'), /under a KDE of your drawing/);
    // The drawing downloads as the CLI's points CSV (x,y).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-drawing')]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'x,y');
    assert.equal(csv.length - 1, drawn.length / 2);
    assert.ok(Math.abs(Number(csv[1].split(',')[0]) - drawn[0]) < 1e-3, csv[1]);
    // A US state from us-atlas (web/data/us-states.json) trains the same way.
    await page.selectOption('#us-state', 'Texas');
    const texas = await page.evaluate(() => window.playground.drawn.slice());
    assert.equal(texas.length, 800);
    await page.fill('#steps', '300');
    await page.click('#train');
    await page.waitForFunction(() => window.playground.trainedSteps >= 300 && !window.playground.busy, null, { timeout, polling: 500 });
    await page.click('#sample');
    await waitIdle(page, timeout);
    const onTexas = meanNearest(await page.evaluate(() => Array.from(window.playground.samples)), texas);
    const noiseTexas = meanNearest(normal, texas);
    log(`Texas (us-atlas, 400 points): samples ${onTexas.toFixed(3)} from the outline, N(0, I) points ${noiseTexas.toFixed(3)}`);
    assert.ok(onTexas < noiseTexas / 2, `the samples are not on Texas: ${onTexas} vs ${noiseTexas}`);
    // A drawing too small to train on is refused by the core with what to do.
    await page.click('#clear-drawing');
    await page.click('#train');
    await page.waitForFunction(() => window.playground.errors.length > 0, null, { timeout: 30_000 });
    assert.match((await state(page)).errors.join(), /draw between 10 and 100000 points/);
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
