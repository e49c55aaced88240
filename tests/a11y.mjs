// Accessibility: every control has a name and is reachable by Tab with a visible focus ring, all
// visible text has contrast ≥ 4.5:1 against what is behind it (WCAG AA; disabled controls are
// exempt), and status messages sit in live regions.
import assert from 'node:assert/strict';
import { openPage, url, waitIdle } from './harness.mjs';

export async function a11y({ name }) {
  const { browser, page, consoleErrors, log } = await openPage(false, `a11y-${name}`);
  try {
    await page.goto(url);
    await waitIdle(page, 120_000);

    // Names: a <label> around or for it, aria-label, or (buttons) their text.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, button, canvas[role="img"]')]
      .filter((el) => !el.hidden && el.type !== 'hidden')
      .filter((el) => !(el.closest('label') || el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.id || el.outerHTML.slice(0, 60)));
    assert.deepEqual(unnamed, [], 'controls without an accessible name');

    // Tab reaches every enabled control, each with a focus outline (of the tabs, the selected one:
    // the arrow keys move between them, as WAI-ARIA's tabs pattern has it; tests/views.mjs checks).
    const controls = await page.evaluate(() => [...document.querySelectorAll('input, select, button')]
      .filter((el) => !el.disabled && el.offsetParent !== null && el.tabIndex >= 0).map((el) => el.id));
    const reached = new Set();
    const noRing = [];
    for (let i = 0; i < controls.length + 10; i++) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { id: el.id, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1 };
      });
      if (!focus.id) continue;
      reached.add(focus.id);
      if (!focus.ring) noRing.push(focus.id);
    }
    const missed = controls.filter((id) => !reached.has(id));
    log(`Tab reached ${reached.size} of ${controls.length} enabled controls`);
    assert.deepEqual(missed, [], 'controls Tab does not reach');
    assert.deepEqual(noRing, [], 'focused controls without a visible outline');

    // Contrast of every visible text node's element against its effective background.
    const low = await page.evaluate(() => {
      const rgb = (text) => (text.match(/[\d.]+/g) ?? []).map(Number);
      const luminance = ([r, g, b]) => {
        const c = [r, g, b].map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      };
      const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const [r, g, b, a = 1] = rgb(getComputedStyle(e).backgroundColor);
          if (a > 0.5) return [r, g, b];
        }
        return [255, 255, 255];
      };
      const out = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!node.textContent.trim() || !el || el.closest('[hidden], :disabled, option') || el.offsetParent === null) continue;
        const [r, g, b, a = 1] = rgb(getComputedStyle(el).color);
        const bg = background(el);
        const fg = [r, g, b].map((v, k) => a * v + (1 - a) * bg[k]);
        const [l1, l2] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
        const ratio = (l1 + 0.05) / (l2 + 0.05);
        if (ratio < 4.5) out.push(`${el.tagName}#${el.id}: "${node.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
      }
      return out;
    });
    assert.deepEqual(low, [], 'text below 4.5:1 contrast');

    // Status messages are announced.
    for (const id of ['status', 'link-status', 'energy-status', 'mnist-status']) {
      const live = await page.evaluate((i) => { const el = document.getElementById(i); return el.getAttribute('aria-live') || el.getAttribute('role'); }, id);
      assert.ok(live, `#${id} is not a live region`);
    }
    assert.deepEqual(consoleErrors, [], 'console errors');
    log('ok');
  } finally {
    await browser.close();
  }
}
