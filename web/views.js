// Views as tabs over one display. Each view (a `role="tabpanel"`) is a display — its canvases — and a
// control bar of collapsible groups; the STATES display shows the live demo (web/arrival.js) until
// the visitor acts in its control bar, then their own model's samples. `?view=…` opens a view (and,
// with `?embed`, shows only that view's panels, marked `data-view`); choosing a tab writes it back,
// so "Copy link" reproduces the view as well as the settings.

/** The views a link can name, and the tab each lives in. */
export const VIEWS = ['arrival', 'states', 'energy', 'mnist'];
const TAB_OF = { arrival: 'states', states: 'states', energy: 'energy', mnist: 'mnist' };
const TABS = ['states', 'energy', 'mnist'];

const tabButton = (name) => document.getElementById(`tab-${name}`);

/** Shows tab `name`'s view and hides the others (`state.tab` follows). */
function selectTab(state, name, { focus = false } = {}) {
  for (const other of TABS) {
    const selected = other === name;
    const button = tabButton(other);
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    document.getElementById(`view-${other}`).hidden = !selected;
  }
  if (focus) tabButton(name).focus();
  state.tab = name;
  window.dispatchEvent(new CustomEvent('playground-tab', { detail: name }));
}

/** What the STATES display shows: `live` (the shipped model sampling) or `samples` (the visitor's). */
export function showDisplay(state, which) {
  document.getElementById('live-display').hidden = which !== 'live';
  document.getElementById('samples-display').hidden = which !== 'samples';
  document.getElementById('show-live').setAttribute('aria-pressed', String(which === 'live'));
  document.getElementById('show-samples').setAttribute('aria-pressed', String(which === 'samples'));
  state.display = which;
}

/** Writes the chosen view into the address (`?view=…`; the default STATES tab writes none). */
function recordView(name) {
  const url = new URL(location.href);
  if (name === 'states') url.searchParams.delete('view');
  else url.searchParams.set('view', name);
  history.replaceState(null, '', url.href);
}

/**
 * Reads `?view=…` and opens that view; with `?embed`, only its panels are shown. Returns a notice for
 * an unknown view (the default view is shown then).
 */
export function showView(state) {
  const params = new URLSearchParams(location.search);
  const view = params.get('view');
  state.view = null;
  selectTab(state, 'states');
  showDisplay(state, 'live');
  if (view === null) return null;
  if (!VIEWS.includes(view)) return `view=${view.slice(0, 40)} (not one of ${VIEWS.join(', ')})`;
  state.view = view;
  if (params.has('embed')) {
    for (const el of document.querySelectorAll('[data-view]')) el.classList.toggle('off-view', el.dataset.view !== view);
  }
  selectTab(state, TAB_OF[view]);
  if (view === 'states') showDisplay(state, 'samples');
  return null;
}

/**
 * The tabs (click, or the arrow keys, Home and End, as WAI-ARIA's tabs pattern has them) and the
 * STATES display's switch; acting in the STATES control bar turns its display to the samples.
 */
export function setupViews(state) {
  for (const name of TABS) {
    tabButton(name).addEventListener('click', () => {
      selectTab(state, name);
      recordView(name);
    });
  }
  document.querySelector('[role=tablist]').addEventListener('keydown', (event) => {
    const at = TABS.indexOf(state.tab);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const name = TABS[(next + TABS.length) % TABS.length];
    selectTab(state, name, { focus: true });
    recordView(name);
  });
  document.getElementById('show-live').addEventListener('click', () => showDisplay(state, 'live'));
  document.getElementById('show-samples').addEventListener('click', () => showDisplay(state, 'samples'));
  const bar = document.querySelector('#view-states .control-bar');
  // Not on a text field's change: that fires on blur, between a button's press and release, and
  // the display's new height would move the button away from under the pointer.
  const toSamples = (event) => {
    const { target, type } = event;
    if (!event.isTrusted) return; // a link's settings being applied, not the visitor
    const field = type === 'change' && target.tagName === 'INPUT' && ['text', 'number'].includes(target.type);
    if (!field && (type !== 'click' || target.closest('button'))) showDisplay(state, 'samples');
  };
  for (const type of ['change', 'submit', 'click']) bar.addEventListener(type, toSamples);
}
