// The little of the DOM that web/url-state.js and web/limits.js use, for the URL fuzzer: the page's
// link controls from page-controls.json as menus, number inputs, sliders and checkboxes that take
// values as Chromium's do (a menu takes only one of its options, a number input only a valid
// floating-point number, a slider clamps into its range). jsdom would be more faithful, but jsfuzz
// instruments every file it loads, jsdom included, which makes one run take seconds; the real page
// replays the corpus in tests/links.mjs.

/** HTML's "valid floating-point number". */
const FLOAT = /^-?(\d+|\d*\.\d+)([eE][-+]?\d+)?$/;

class Control extends EventTarget {
  constructor(spec) {
    super();
    this.id = spec.id;
    this.tagName = spec.tag.toUpperCase();
    this.type = spec.type;
    this.min = spec.min;
    this.max = spec.max;
    this.title = '';
    this.dataset = spec.limit ? { limit: spec.limit } : {};
    this.checked = spec.checked;
    this.options = (spec.options ?? []).map((value) => ({ value }));
    this.value = spec.value;
  }

  get value() {
    return this.current;
  }

  set value(text) {
    const value = String(text);
    if (this.tagName === 'SELECT') {
      this.current = this.options.some((o) => o.value === value) ? value : '';
    } else if (this.type === 'number') {
      this.current = FLOAT.test(value) ? value : '';
    } else if (this.type === 'range') {
      const [min, max] = [Number(this.min), Number(this.max)];
      const number = FLOAT.test(value) ? Number(value) : (min + max) / 2;
      this.current = String(Math.min(max, Math.max(min, number)));
    } else {
      this.current = value;
    }
  }
}

/** Installs `document` with the controls of `specs` (the fixture's list). */
export function fakeDocument(specs) {
  const all = specs.map((spec) => new Control(spec));
  const selectors = {
    'form input[id], form select[id], input[form][id]': () => all,
    'input[data-limit]': () => all.filter((el) => el.tagName === 'INPUT' && el.dataset.limit),
  };
  globalThis.document = {
    querySelectorAll(selector) {
      if (!selectors[selector]) throw new Error(`the fake document has no selector ${selector}: add it to tests/fuzz/fake-dom.mjs`);
      return selectors[selector]();
    },
  };
  return all;
}
