// What the sampling canvas draws under the particles at the reverse process's time t: the data's
// own p_t, the classifier's prediction map, the score field and the particles' trails, each behind
// its toggle.

const $ = (id) => document.getElementById(id);

/** The prediction map computed for the largest t' ≤ t (maps arrive every few steps of t). */
export function mapAt(state, t) {
  if (!$('show-map').checked || t === null) return null;
  const times = Object.keys(state.maps).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return state.maps[Math.max(...times)];
}

/** The score field computed for the largest t' ≤ t, when the toggle is on. */
export function fieldAt(state, t) {
  if (!$('show-field').checked || t === null) return null;
  const times = Object.keys(state.fields).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return state.fields[Math.max(...times)];
}

/** The positions of the run (`key`: 'x', or 'xB' for the side-by-side one) at every frame from the
 * start down to t, when the trails toggle is on. */
export function trailsAt(state, t, key) {
  if (!$('show-trails').checked || t === null || !state.frames?.length) return null;
  const frames = state.frames.filter((f) => f.t >= t && f[key]).map((f) => f[key]);
  return frames.length > 1 ? frames : null;
}

/** The data's p_t heat map computed for the largest t' ≤ t, when the toggle is on. */
export function densityAt(state, t) {
  if (!$('show-density').checked || t === null) return null;
  const times = Object.keys(state.densities).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return state.densities[Math.max(...times)];
}
