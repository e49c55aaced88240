// Seeds for the URL fuzzer's corpus (corpus/url-state/seed-*): a link setting every control to
// another allowed value, one key per control, the garbage link of tests/links.mjs, and drawings
// (valid, out of range, ragged). Run `node seeds.mjs` after the fixture changes.
import { mkdirSync, writeFileSync } from 'node:fs';
import fixture from './page-controls.json' with { type: 'json' };
import { encodeDrawing } from '../../web/drawing-link.js';

const dir = new URL('./corpus/url-state/', import.meta.url);
mkdirSync(dir, { recursive: true });
const limits = new Map(fixture.limits.map((l) => [l.id, l]));

/** Another value control `c` accepts. */
function other(c) {
  if (c.tag === 'select') return c.options.find((o) => o !== c.value) ?? c.value;
  if (c.type === 'checkbox') return c.checked ? '0' : '1';
  if (c.limit) {
    const l = limits.get(c.limit);
    const top = l.pageMax ?? l.max;
    return String(l.integer ? Math.min(top, Math.floor(l.min) + 2) : (l.min + Math.min(top, l.min + 1)) / 2);
  }
  return String((Number(c.min) + Number(c.max)) / 2);
}

const seeds = {
  all: fixture.controls.map((c) => `${c.id}=${encodeURIComponent(other(c))}`).join('&'),
  garbage: 'bogus=1&steps=abc&batch=100000&rule=nope&show-field=7&%E0%A4%A=%zz&lr=1e9',
  drawn: `drawn=${encodeDrawing(Array.from({ length: 40 }, (_, i) => Math.sin(i) * 3))}`,
  'drawn-far': `drawn=${Buffer.from(new Int16Array(40).fill(10_001).buffer).toString('base64url')}&rule=ddim`,
  'drawn-ragged': `drawn=${encodeDrawing(Array.from({ length: 40 }, (_, i) => i / 10)).slice(0, -3)}`,
};
fixture.controls.forEach((c, i) => {
  seeds[`control-${String(i).padStart(2, '0')}`] = `${c.id}=${encodeURIComponent(other(c))}`;
});
for (const [name, text] of Object.entries(seeds)) writeFileSync(new URL(`seed-${name}`, dir), text);
console.log(`${Object.keys(seeds).length} seeds in corpus/url-state/`);
