// One display, one control bar: the views are tabs (click, arrow keys, ?view=… in the address), the
// STATES display turns from the live demo to the visitor's samples once they act, it stays in view
// beside the control bar while settings far down the bar change (1280 × 900), the groups collapse,
// and at phone width (375 × 667) every view fits without sideways scrolling and sampling still works;
// the energy view shows its target before any run.
import assert from 'node:assert/strict';
import { loadPretrained, openPage, screenshots, state, url, waitIdle } from './harness.mjs';
import { decodePng, inkedFraction } from './png.mjs';

const TABS = ['states', 'energy', 'mnist'];

/** Which tab is selected, and which views are shown. */
const tabs = (page) => page.evaluate((names) => names.map((n) => ({
  name: n,
  selected: document.getElementById(`tab-${n}`).getAttribute('aria-selected') === 'true',
  shown: document.getElementById(`view-${n}`).checkVisibility(),
})), TABS);

async function assertTab(page, name) {
  for (const tab of await tabs(page)) {
    assert.equal(tab.selected, tab.name === name, `tab ${tab.name} selected: ${tab.selected} (want ${name})`);
    assert.equal(tab.shown, tab.name === name, `view ${tab.name} shown: ${tab.shown} (want ${name})`);
  }
  assert.equal((await state(page)).tab, name);
}

const inViewport = (box, height) => box.y >= 0 && box.y + box.height <= height;

async function sampleShipped(page, n) {
  await loadPretrained(page);
  await page.fill('#n', String(n));
  await page.selectOption('#rule', 'ddim');
  await page.fill('#sde-steps', '20');
  await page.click('#sample');
  // SwiftShader shares the CPU with everything else on the machine: generous, not tight.
  await waitIdle(page, 300_000);
  const { nll, errors } = await state(page);
  assert.deepEqual(errors, []);
  assert.ok(Number.isFinite(nll) && nll < 2.6, `grader NLL ${nll}`);
  return nll;
}

export async function views({ name, webgpu = false }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, `views-${name}`);
  try {
    // Desktop: the tabs, the display switch, the display kept in view, collapsible groups.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(url);
    await waitIdle(page, 120_000);
    await assertTab(page, 'states');
    assert.equal((await state(page)).display, 'live');
    assert.ok(await page.isVisible('#arrival') && !(await page.isVisible('#scatter')), 'the live demo is not what shows first');
    await page.focus('#tab-states');
    await page.keyboard.press('ArrowRight');
    await assertTab(page, 'energy');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-energy');
    assert.equal(new URL(page.url()).searchParams.get('view'), 'energy');
    await page.keyboard.press('End');
    await assertTab(page, 'mnist');
    await page.keyboard.press('ArrowRight');
    await assertTab(page, 'states');
    assert.equal(new URL(page.url()).searchParams.get('view'), null);
    await page.click('#tab-mnist');
    await assertTab(page, 'mnist');
    await page.click('#tab-states');

    // Acting in the control bar turns the display to the samples.
    const nll = await sampleShipped(page, 300);
    // The data's likelihood under the loaded model, integrated while the page is idle.
    const since = Date.now();
    await page.waitForFunction(() => Number.isFinite(window.playground.likelihood?.nll) || window.playground.likelihood?.error, null, { timeout: 400_000, polling: 250 });
    const likelihood = (await state(page)).likelihood;
    log(`likelihood of the data: ${JSON.stringify(likelihood)} (${((Date.now() - since) / 1000).toFixed(1)} s after sampling)`);
    assert.match(await page.textContent('#likelihood'), /nats per point/);
    // The CLI on the same file, points and grid (`diffusion likelihood --weights
    // web/models/states-denoiser.safetensors --n 200 --steps 32`) prints 0.9772 ± 0.0524 nats,
    // 0.7049 bits/dim, 256 NFE: the page runs the core's ODE, not a copy of it.
    assert.ok(Math.abs(likelihood.nll - 0.9772) < 2e-3 && Math.abs(likelihood.bits - 0.7049) < 2e-3, JSON.stringify(likelihood));
    assert.equal(likelihood.nfe, 256);
    assert.equal((await state(page)).display, 'samples');
    assert.ok(await page.isVisible('#scatter') && !(await page.isVisible('#arrival')));
    // A setting at the bottom of the bar: the page scrolls, the samples stay in view beside it.
    await page.locator('#classifier-url').scrollIntoViewIfNeeded();
    await page.fill('#classifier-url', 'models/classifier.safetensors');
    const scrolled = await page.evaluate(() => window.scrollY);
    const box = await page.locator('#scatter').boundingBox();
    log(`1280 × 900: scrolled ${scrolled} px to the last group; the samples at y ${box.y.toFixed(0)}–${(box.y + box.height).toFixed(0)}`);
    assert.ok(scrolled > 200, `the control bar did not need scrolling (${scrolled} px): nothing tested`);
    assert.ok(inViewport(box, 900), `the display left the screen: ${JSON.stringify(box)}`);
    const before = (await page.locator('#c-steps').boundingBox()).y;
    await page.click('section[aria-label="Classifier"] summary');
    assert.ok(!(await page.isVisible('#c-steps')), 'the classifier group did not collapse');
    await page.click('section[aria-label="Classifier"] summary');
    assert.ok(await page.isVisible('#c-steps') && (await page.locator('#c-steps').boundingBox()).y === before);
    await page.click('#show-live');
    assert.ok(await page.isVisible('#arrival') && !(await page.isVisible('#scatter')));
    await page.click('#show-samples');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: new URL(`views-${name}-1280.png`, screenshots).pathname });

    // A link opens its view.
    await page.goto(`${url}?view=energy`);
    await waitIdle(page, 120_000);
    await assertTab(page, 'energy');
    // The energy view shows its target's density before any run.
    await page.waitForFunction(() => window.playground.energy?.preview, null, { timeout: 60_000, polling: 250 });
    const target = inkedFraction(decodePng(await page.locator('#energy-rdmc').screenshot()));
    assert.ok(target > 0.01, `the energy view is blank before a run (${target})`);

    // Phone width: every view fits, and the STATES view samples.
    await page.setViewportSize({ width: 375, height: 667 });
    await page.goto(url);
    await waitIdle(page, 120_000);
    const arrival = await page.locator('#arrival').boundingBox();
    assert.ok(arrival.y + arrival.height / 2 < 667 && arrival.x + arrival.width <= 375, `the live demo at 375 px: ${JSON.stringify(arrival)}`);
    for (const tab of TABS) {
      await page.click(`#tab-${tab}`);
      await assertTab(page, tab);
      const wide = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        over: [...document.querySelectorAll('canvas, input, select, button, p, h2')]
          .filter((el) => el.checkVisibility() && el.getBoundingClientRect().right > 376).map((el) => el.id || el.tagName),
      }));
      assert.ok(wide.page <= 375, `${tab} at 375 px scrolls sideways: ${wide.page} px wide`);
      assert.deepEqual(wide.over, [], `${tab}: elements past the right edge at 375 px`);
      await page.screenshot({ path: new URL(`views-${name}-375-${tab}.png`, screenshots).pathname, fullPage: tab === 'states' });
    }
    await page.click('#tab-states');
    const phoneNll = await sampleShipped(page, 200);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: new URL(`views-${name}-375.png`, screenshots).pathname });
    log(`tabs by click, keys and link; display switch; sticky display; collapsible groups; 375 px fits; NLL ${nll.toFixed(3)} / ${phoneNll.toFixed(3)}`);
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
