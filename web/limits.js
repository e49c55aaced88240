// The page's side of the core's table of ranges (crates/diffusion/src/limits.rs): each
// `data-limit` input gets its range's min and max, and numbers are read against the same range.

/** The core's table of ranges by id (`limits()` in the web crate), from the worker's ready message. */
const limits = new Map();

/** A range as the core writes it: `[1, 100000]`, `(0, 1]`, with the page's cap as its top. */
function rangeText(limit) {
  return `${limit.minOpen ? '(' : '['}${limit.min}, ${limit.pageMax ?? limit.max}${limit.maxOpen ? ')' : ']'}`;
}

/**
 * A reader of numbers: `read(id)` is the number in input `id`, checked against its `data-limit`
 * range from the core's table (the core checks it again), or null after `showError` says what is
 * allowed.
 */
export function numberReader(showError) {
  return (id) => readNumber(id, showError);
}

function readNumber(id, showError) {
  const input = document.getElementById(id);
  const checked = checkNumber(input, input.value);
  if (typeof checked === 'string') {
    const name = input.closest('label')?.firstChild?.textContent.trim() || id;
    showError(`${name} must be ${checked}, got "${input.value.trim()}"`);
    return null;
  }
  return checked;
}

/**
 * `text` read as the number `input` takes: the number, or a string saying what is allowed ("an
 * integer in [1, 65536]"). The range is the input's `data-limit` entry of the core's table.
 */
export function checkNumber(input, text) {
  const limit = limits.get(input.dataset.limit);
  if (!limit) throw new Error(`#${input.id} has no range in the core's table`);
  const trimmed = String(text).trim();
  const value = Number(trimmed);
  const max = limit.pageMax ?? limit.max;
  const inside = (limit.minOpen ? value > limit.min : value >= limit.min) && (limit.maxOpen ? value < max : value <= max);
  if (trimmed === '' || !Number.isFinite(value) || (limit.integer && !Number.isInteger(value)) || !inside) {
    return `${limit.integer ? 'an integer' : 'a number'} in ${rangeText(limit)}`;
  }
  return value;
}

/** The table as the page holds it (tests/links.mjs keeps the URL fuzzer's copy in step with it). */
export function rangeTable() {
  return [...limits.values()];
}

/**
 * Sets each `data-limit` input's `min`/`max` from the core's table of ranges (the page's cap where
 * it has one), so the page states the same ranges the core checks.
 */
export function applyLimits(table) {
  for (const limit of table) limits.set(limit.id, limit);
  for (const input of document.querySelectorAll('input[data-limit]')) {
    const limit = limits.get(input.dataset.limit);
    if (!limit) throw new Error(`no range named ${input.dataset.limit}`);
    if (input.type === 'number') {
      input.min = String(limit.minOpen && limit.integer ? limit.min + 1 : limit.min);
      input.max = String(limit.pageMax ?? limit.max);
    }
    input.title = `${limit.meaning}: ${rangeText(limit)}`;
  }
}
