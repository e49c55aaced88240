// jsfuzz target for the page's URL-state parser (web/url-state.js with web/limits.js and
// web/drawing-link.js, the page's own modules, bundled by esbuild). The page's controls come from
// page-controls.json (written from the live page by tests/links.mjs, which fails when the two
// differ) in a small fake document (fake-dom.mjs). Each input is a hash; after applying it:
//   - nothing throws, and the notices are strings;
//   - every control holds a value its own check accepts (a menu's option, a number in the core's
//     range, a slider inside its bounds) and the drawing is 10–500 points within ±10, or none;
//   - the hash the page then writes, applied to a default page, gives back the same settings with
//     no notice (a link always reproduces what its author saw).
// Any failure throws, which jsfuzz records as a crash.

import fixture from './page-controls.json' with { type: 'json' };
import { applyHash, controls, currentHash, registerExtra, rememberDefaults } from '../../web/url-state.js';
import { applyLimits } from '../../web/limits.js';
import { drawingExtra } from '../../web/drawing-link.js';

import { fakeDocument } from './fake-dom.mjs';

fakeDocument(fixture.controls); // the page's modules touch the DOM only when called
applyLimits(fixture.limits);
const ranges = new Map(fixture.limits.map((l) => [l.id, l]));

// The drawing, registered through the page's own extra (web/drawing.js does the same).
let drawn = [];
registerExtra('drawn', drawingExtra(() => drawn, (points) => {
  drawn = points;
}));
rememberDefaults();

const settings = () => JSON.stringify([controls().map((el) => (el.type === 'checkbox' ? el.checked : el.value)), drawn]);
const defaults = settings();

/** Why control `el` holds a value it does not accept, or null. */
function invalid(el) {
  if (el.tagName === 'SELECT') return [...el.options].some((o) => o.value === el.value) ? null : 'not one of its options';
  if (el.type === 'checkbox') return null;
  if (el.dataset.limit) {
    // The range read from the fixture's table here, not through web/limits.js (which it checks).
    const l = ranges.get(el.dataset.limit);
    const [v, top] = [Number(el.value), l.pageMax ?? l.max];
    const inside = (l.minOpen ? v > l.min : v >= l.min) && (l.maxOpen ? v < top : v <= top);
    const ok = el.value.trim() !== '' && Number.isFinite(v) && (!l.integer || Number.isInteger(v)) && inside;
    return ok ? null : `outside ${l.id}'s range`;
  }
  if (el.type === 'range') {
    const v = Number(el.value);
    return el.value !== '' && v >= Number(el.min) && v <= Number(el.max) ? null : 'outside its slider';
  }
  return null;
}

function fail(hash, what) {
  throw new Error(`#${hash.slice(0, 200)}: ${what}`);
}

/** One fuzz input: `buf` as the text after the link's `#`. */
export function fuzz(buf) {
  const hash = buf.toString('utf8');
  const notices = applyHash(`#${hash}`);
  if (!Array.isArray(notices) || !notices.every((n) => typeof n === 'string')) fail(hash, 'notices are not strings');
  for (const el of controls()) {
    const why = invalid(el);
    if (why) fail(hash, `#${el.id} = ${el.value.slice(0, 40)}: ${why}`);
  }
  const points = drawn.length / 2;
  if (!(drawn.length % 2 === 0 && (points === 0 || (points >= 10 && points <= 500)) && drawn.every((v) => Number.isFinite(v) && Math.abs(v) <= 10))) {
    fail(hash, `a drawing of ${points} points`);
  }
  const applied = settings();
  const written = currentHash();
  applyHash('');
  if (settings() !== defaults) fail(hash, 'an empty link did not restore the defaults');
  const again = applyHash(written);
  if (again.length) fail(hash, `the written link ${written.slice(0, 200)} gave notices: ${again.join('; ')}`);
  if (settings() !== applied) fail(hash, `the written link ${written.slice(0, 200)} did not reproduce the settings`);
}
