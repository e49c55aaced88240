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
  const text = input.value.trim();
  const value = Number(text);
  const limit = limits.get(input.dataset.limit);
  if (!limit) throw new Error(`#${id} has no range in the core's table`);
  const max = limit.pageMax ?? limit.max;
  const inside = (limit.minOpen ? value > limit.min : value >= limit.min) && (limit.maxOpen ? value < max : value <= max);
  const name = input.closest('label')?.firstChild?.textContent.trim() || id;
  if (text === '' || !Number.isFinite(value) || (limit.integer && !Number.isInteger(value)) || !inside) {
    showError(`${name} must be ${limit.integer ? 'an integer' : 'a number'} in ${rangeText(limit)}, got "${text}"`);
    return null;
  }
  return value;
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
