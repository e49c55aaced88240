// Every setting in the URL hash, so a link reproduces what its author saw: `#sde=vp&rule=ddim&n=500`.
// Only settings that differ from the page's defaults are written. A link's values are checked as
// the controls check them (a menu's own options, a number against the core's range table, a
// checkbox's 0 or 1); anything else is ignored and named in a notice, never applied.

import { checkNumber } from './limits.js';

/** The controls a link carries, by id: every input and menu of the page's forms (or owned by one). */
export function controls() {
  return [...document.querySelectorAll('form input[id], form select[id], input[form][id]')]
    .filter((el) => el.type !== 'file' && el.type !== 'submit' && el.type !== 'button' && !el.dataset.noUrl);
}

function valueOf(el) {
  return el.type === 'checkbox' ? (el.checked ? '1' : '0') : el.value;
}

const defaults = new Map();
/**
 * Settings that are not a control (the drawing): by key, `{ read() → text or null (not in the link),
 * apply(text) → null or why it was refused, reset() }`.
 */
const extras = new Map();

/** Adds a setting that is not a control to the link. */
export function registerExtra(key, extra) {
  extras.set(key, extra);
}

/** Records the page's defaults (call once the page has set its own, before applying a link). */
export function rememberDefaults() {
  for (const el of controls()) defaults.set(el.id, valueOf(el));
}

/** The hash of the current settings: those that differ from the defaults. */
export function currentHash() {
  const params = new URLSearchParams();
  for (const el of controls()) {
    const value = valueOf(el);
    if (defaults.get(el.id) !== value) params.set(el.id, value);
  }
  for (const [key, extra] of extras) {
    const text = extra.read();
    if (text !== null) params.set(key, text);
  }
  const text = params.toString();
  return text ? `#${text}` : '';
}

/** `{ value }` as control `el` takes `text`, or `{ why }` it does not. */
function check(el, text) {
  if (el.tagName === 'SELECT') {
    const options = [...el.options].map((o) => o.value);
    return options.includes(text) ? { value: text } : { why: `not one of ${options.map((o) => o || '""').join(', ')}` };
  }
  if (el.type === 'checkbox') return text === '1' || text === '0' ? { value: text } : { why: 'not 0 or 1' };
  if (el.dataset.limit) {
    const checked = checkNumber(el, text);
    return typeof checked === 'string' ? { why: `not ${checked}` } : { value: String(checked) };
  }
  if (el.type === 'range') {
    const number = Number(text);
    const inside = text.trim() !== '' && Number.isFinite(number) && number >= Number(el.min) && number <= Number(el.max);
    return inside ? { value: String(number) } : { why: `not a number in [${el.min}, ${el.max}]` };
  }
  return { why: 'not a setting a link can carry' };
}

/**
 * Applies the settings in `hash` to the controls (each one's `input` and `change` handlers run) and
 * returns the notices for what was ignored. Settings the link does not name go back to defaults.
 */
export function applyHash(hash) {
  const notices = [];
  let params;
  try {
    params = new URLSearchParams(hash.replace(/^#/, ''));
  } catch {
    return ['the link\'s settings could not be read'];
  }
  const byId = new Map(controls().map((el) => [el.id, el]));
  const wanted = new Map(defaults);
  const named = new Set();
  for (const [key, value] of params) {
    const el = byId.get(key);
    const shown = `${key.slice(0, 40)}=${value.slice(0, 40)}`;
    if (extras.has(key)) {
      const why = extras.get(key).apply(value);
      if (why) notices.push(`${shown} (${why})`);
      else named.add(key);
      continue;
    }
    if (!el) {
      notices.push(`${shown} (no such setting)`);
      continue;
    }
    const checked = check(el, value);
    if ('value' in checked) wanted.set(key, checked.value);
    else notices.push(`${shown} (${checked.why})`);
  }
  for (const [id, value] of wanted) {
    const el = byId.get(id);
    if (!el || valueOf(el) === value) continue;
    if (el.type === 'checkbox') el.checked = value === '1';
    else el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }
  for (const [key, extra] of extras) if (!named.has(key)) extra.reset();
  return notices;
}

let following = false;

/** Writes the current settings into the hash (replacing history, not adding to it). */
export function updateHash() {
  if (!following) return;
  const hash = currentHash();
  if (hash !== location.hash && !(hash === '' && location.hash === '')) {
    history.replaceState(null, '', hash || location.pathname + location.search);
  }
}

/** Keeps the hash in step with the controls from now on. */
export function followControls() {
  following = true;
  const update = updateHash;
  for (const el of controls()) {
    el.addEventListener('input', update);
    el.addEventListener('change', update);
  }
}

/**
 * Once the page has its defaults: applies the link's settings (saying what it could not apply, and
 * `viewNotice` from web/views.js's `showView`, in `state.linkNotices` and the status line), keeps the hash in step, follows later hash changes, and
 * wires the "Copy link" button.
 */
export function setupLinks({ state, setStatus, viewNotice }) {
  const applyLink = () => {
    const notices = [...(viewNotice ? [viewNotice] : []), ...applyHash(location.hash)];
    state.linkNotices = notices;
    if (notices.length) setStatus(`Opened with the link's settings, except: ${notices.join('; ')}.`);
    else if (location.hash.length > 1) setStatus('Opened with the link\'s settings.');
  };
  rememberDefaults();
  applyLink();
  followControls();
  window.addEventListener('hashchange', () => {
    if (location.hash !== currentHash()) applyLink();
  });
  const copy = async (text, what) => {
    const status = document.getElementById('link-status');
    state.copied = text;
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = `${what} copied`;
    } catch {
      status.textContent = text;
    }
  };
  document.getElementById('copy-link').addEventListener('click', () => copy(location.href.split('#')[0] + currentHash(), 'link'));
  document.getElementById('copy-embed').addEventListener('click', () => copy(embedCode(document.getElementById('embed-view').value), 'embed code'));
}

const EMBED_HEIGHTS = { arrival: 520, states: 1900, energy: 760, mnist: 1000 };

/** The iframe that embeds `view` with the current settings. */
export function embedCode(view) {
  const base = location.href.split(/[?#]/)[0];
  const src = `${base}?embed&view=${view}${currentHash()}`;
  return `<iframe src="${src}" width="720" height="${EMBED_HEIGHTS[view]}" style="border:0; max-width:100%"`
    + ` title="the diffusion playground: ${view}" loading="lazy"></iframe>`;
}
