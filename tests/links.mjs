// Settings in the URL hash: a link opens the page with exactly its settings (a round trip over every
// control a link carries), the hash follows the controls, and a link with garbage opens the default
// page with a notice naming what was ignored.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { openPage, state, url, waitIdle } from './harness.mjs';

// The URL fuzzer's copy of the page's controls (tests/fuzz/), and the corpus it grew.
const FIXTURE = new URL('./fuzz/page-controls.json', import.meta.url);
const CORPUS = new URL('./fuzz/corpus/url-state/', import.meta.url);

/** The controls a link carries as the live page has them, and the core's table of ranges. */
const pageControls = (page) => page.evaluate(async () => {
  const { controls } = await import(new URL('web/url-state.js', location.href).href);
  const { rangeTable } = await import(new URL('web/limits.js', location.href).href);
  const list = controls().map((el) => ({
    id: el.id, tag: el.tagName.toLowerCase(), type: el.type, value: el.value, checked: el.checked,
    options: el.tagName === 'SELECT' ? [...el.options].map((o) => o.value) : null,
    min: el.min ?? '', max: el.max ?? '', limit: el.dataset.limit ?? null,
  }));
  return { controls: list, limits: rangeTable() };
});

/** Every control a link carries, with its value: the page's own list (web/url-state.js's `controls`). */
const settings = (page) => page.evaluate(async () => {
  const { controls } = await import(new URL('web/url-state.js', location.href).href);
  return Object.fromEntries(controls().map((el) => [el.id, el.type === 'checkbox' ? (el.checked ? '1' : '0') : el.value]));
});

export async function links({ name, webgpu }) {
  const { browser, page, consoleErrors, log } = await openPage(webgpu, `links-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);
    const defaults = await settings(page);
    assert.equal(await page.evaluate(() => location.hash), '', 'a fresh page writes no hash');
    const live = JSON.parse(JSON.stringify(await pageControls(page))); // as the file holds it: no undefined
    if (process.env.UPDATE_URL_FIXTURE) writeFileSync(FIXTURE, `${JSON.stringify(live, null, 1)}\n`);
    assert.deepEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')), live,
      'tests/fuzz/page-controls.json is not the page\'s controls: rerun with UPDATE_URL_FIXTURE=1 to rewrite it');

    // Change every control to another allowed value: menus to their last option, checkboxes
    // flipped, numbers to a value inside their range. The hash then carries each of them.
    const changed = await page.evaluate(() => {
      const out = {};
      for (const el of document.querySelectorAll('form input[id], form select[id]')) {
        if (el.type === 'file' || el.dataset.noUrl) continue;
        if (el.tagName === 'SELECT') {
          const last = el.options[el.options.length - 1].value;
          el.value = last === el.value ? el.options[0].value : last;
        } else if (el.type === 'checkbox') {
          el.checked = !el.checked;
        } else if (el.type === 'range') {
          el.value = String(Number(el.min) === Number(el.value) ? el.max : el.min);
        } else {
          const min = Number(el.min || 0);
          el.value = String(el.dataset.limit === 'lr' ? 0.005 : Math.max(min, 1) + 2);
        }
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
        out[el.id] = el.type === 'checkbox' ? (el.checked ? '1' : '0') : el.value;
      }
      return out;
    });
    const hash = await page.evaluate(() => location.hash);
    const carried = Object.keys(changed).filter((id) => changed[id] !== defaults[id]);
    log(`${carried.length} settings changed; hash ${hash.length} characters`);
    assert.ok(carried.length >= 25, `only ${carried.length} controls changed`);
    for (const id of carried) assert.ok(new URLSearchParams(hash.slice(1)).has(id), `the hash lacks ${id}: ${hash}`);

    // The link, opened in a fresh page, reproduces every one of them.
    const second = await browser.newPage();
    await second.goto(`${url}${hash}`);
    await waitIdle(second, 120_000);
    assert.deepEqual(await settings(second), { ...defaults, ...changed }, 'the link did not reproduce the settings');
    assert.deepEqual((await state(second)).linkNotices, []);
    await second.close();

    // Garbage: unknown keys, a number out of range, a menu value that does not exist, a broken
    // checkbox and percent soup. Nothing of it is applied; the page opens as default and says so.
    const third = await browser.newPage();
    await third.goto(`${url}#bogus=1&steps=abc&batch=100000&rule=nope&show-field=7&%E0%A4%A=%zz&lr=1e9`);
    await waitIdle(third, 120_000);
    const notices = (await state(third)).linkNotices;
    log(`garbage link: ${notices.length} notices`);
    assert.ok(notices.length >= 7, `notices: ${JSON.stringify(notices)}`);
    assert.ok(notices.some((n) => n.startsWith('batch=100000 (not an integer in [1, 65536])')), JSON.stringify(notices));
    assert.deepEqual(await settings(third), defaults, 'garbage changed a setting');
    assert.match(await third.textContent('#status'), /except: bogus=1 \(no such setting\)/);
    await third.close();

    // Random links (1500, from a seeded generator mixing real keys, unknown keys, valid and invalid
    // values, percent escapes, unicode and very long strings), then the URL fuzzer's corpus
    // (tests/fuzz/, coverage-guided on a jsdom copy of the controls): none throws, and after each
    // every control holds a value its own check accepts.
    const corpus = readdirSync(CORPUS).sort().map((f) => readFileSync(new URL(f, CORPUS), 'utf8'));
    const random = await browser.newPage();
    const randomErrors = [];
    random.on('pageerror', (e) => randomErrors.push(String(e)));
    await random.goto(url);
    await waitIdle(random, 120_000);
    const bad = await random.evaluate(async (corpus) => {
      let seed = 12345;
      const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
      const pick = (xs) => xs[Math.floor(next() * xs.length)];
      const controls = (await import(new URL('web/url-state.js', location.href).href)).controls();
      const keys = [...controls.map((el) => el.id), 'drawn', 'drawn', 'bogus', '', '%', '%zz', '__proto__', 'constructor', 'é', 'a'.repeat(5000)];
      const values = ['', '0', '1', '-1', '1e308', 'NaN', 'Infinity', '0.005', '3', '65536', '65537', 'ddim', 'flow-matching', '%00', '%E0%A4%A', '🙂', '<script>', 'a'.repeat(10000), ' 7 ', '0x10', '1,2',
        'A'.repeat(54), '_'.repeat(54), 'f39_'.repeat(13) + 'f3', 'A'.repeat(2668), 'AAAAAAA', 'A=='];
      const problems = [];
      for (let i = 0; i < 1500 + corpus.length; i++) {
        const parts = Array.from({ length: 1 + Math.floor(next() * 6) }, () => {
          const key = pick(keys);
          const value = next() < 0.5 ? pick(values) : pick(controls).value;
          return next() < 0.1 ? key : `${key}=${value}`;
        });
        const hash = i < 1500 ? `#${parts.join(next() < 0.9 ? '&' : ';')}` : `#${corpus[i - 1500]}`;
        history.replaceState(null, '', hash);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
        const drawn = window.playground.drawn;
        if (!(drawn.length % 2 === 0 && (drawn.length === 0 || drawn.length >= 20) && drawn.every((v) => Number.isFinite(v) && Math.abs(v) <= 10))) {
          problems.push(`${hash.slice(0, 80)} → a drawing of ${drawn.length / 2} points`);
        }
        for (const el of controls) {
          const ok = el.tagName === 'SELECT' ? [...el.options].some((o) => o.value === el.value)
            : el.type === 'checkbox' ? true
              : el.type === 'range' || el.type === 'number' ? (el.value === '' ? false : Number(el.value) >= Number(el.min || -Infinity) && Number(el.value) <= Number(el.max || Infinity))
                : el.value !== '' && Number.isFinite(Number(el.value));
          if (!ok) problems.push(`${hash.slice(0, 80)} → #${el.id} = ${el.value.slice(0, 40)}`);
        }
        if (problems.length > 5) break;
      }
      return problems;
    }, corpus);
    assert.deepEqual(bad, [], 'a random link left a control with a value it does not accept');
    assert.deepEqual(randomErrors, [], 'a random link threw');
    log(`1500 random links and ${corpus.length} from the fuzz corpus: no error, every control valid after each`);
    await random.close();

    // ?embed&view=mnist shows the MNIST panel alone (no title, no other panel).
    const embedded = await browser.newPage();
    await embedded.goto(`${url}?embed&view=mnist`);
    await waitIdle(embedded, 120_000);
    const visible = (sel) => embedded.locator(sel).isVisible();
    assert.ok(await visible('section[aria-label="MNIST"]'), 'the MNIST view is hidden');
    for (const other of ['Training', 'Sampling', 'Energy', 'Weights']) {
      assert.ok(!(await visible(`section[aria-label="${other}"]`)), `${other} shows in the MNIST embed`);
    }
    assert.ok(!(await visible('h1')) && !(await visible('#arrival')), 'page chrome in the embed');
    assert.equal((await state(embedded)).arrival.skipped, true);
    await embedded.close();
    // An unknown view opens the whole page, with a notice.
    const unknown = await browser.newPage();
    await unknown.goto(`${url}?view=nowhere`);
    await waitIdle(unknown, 120_000);
    assert.match((await state(unknown)).linkNotices.join(), /view=nowhere \(not one of arrival, states, energy, mnist\)/);
    // "Copy embed code" writes the iframe of the chosen view with the current settings.
    await unknown.selectOption('#rule', 'ddim');
    await unknown.selectOption('#embed-view', 'states');
    await unknown.click('#copy-embed');
    const code = (await state(unknown)).copied;
    assert.match(code, /^<iframe src="[^"]*\?embed&view=states#rule=ddim" width="720" height="\d+"/, code);
    await unknown.close();

    // The example course notes embed three views; each reaches its first frame (the live sampling
    // runs, the other two are ready with their link's settings).
    const notes = await browser.newPage();
    await notes.goto(new URL('docs/course-notes.html', url).href);
    const frame = (id) => notes.frameLocator(`#${id}`).locator('body');
    const frames = { arrival: null, energy: null, mnist: null };
    for (const view of Object.keys(frames)) {
      const handle = await notes.locator(`#notes-${view}`).elementHandle();
      frames[view] = await handle.contentFrame();
      await frames[view].waitForFunction(() => window.playground?.ready && !window.playground.busy, null, { timeout: 180_000, polling: 250 });
      assert.ok(await frame(`notes-${view}`).isVisible());
    }
    await frames.arrival.waitForFunction(() => window.playground.arrival.runs >= 1, null, { timeout: 60_000, polling: 250 });
    assert.equal(await frames.energy.evaluate(() => document.getElementById('energy-n').value), '600');
    assert.equal(await frames.mnist.evaluate(() => document.getElementById('mnist-sampler').value), 'ddim');
    assert.ok(await frames.mnist.evaluate(() => !document.querySelector('section[aria-label="Training"]').checkVisibility()));
    log('embeds and the course notes: three views reached their first frame');
    await notes.close();

    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
