// What the sampling canvas draws under the particles at the reverse process's time t: the data's
// own p_t, the classifier's prediction map, the score field and the particles' trails, each behind
// its toggle.

const $ = (id) => document.getElementById(id);

/** Of a run's `computed` overlays (keyed by the t they were computed at, every few steps of t), the
 * one for the largest t' ≤ t, when toggle `id` is on. */
function latestAt(id, computed, t) {
  if (!$(id).checked || t === null) return null;
  const times = Object.keys(computed).map(Number).filter((m) => m <= t);
  if (!times.length) return null;
  return computed[Math.max(...times)];
}

/** The classifier's prediction map. */
export const mapAt = (state, t) => latestAt('show-map', state.maps, t);

/** The score field. */
export const fieldAt = (state, t) => latestAt('show-field', state.fields, t);

/** The data's p_t heat map. */
export const densityAt = (state, t) => latestAt('show-density', state.densities, t);

/** The positions of the run (`key`: 'x', or 'xB' for the side-by-side one) at every frame from the
 * start down to t, when the trails toggle is on. */
export function trailsAt(state, t, key) {
  if (!$('show-trails').checked || t === null || !state.frames?.length) return null;
  const frames = state.frames.filter((f) => f.t >= t && f[key]).map((f) => f[key]);
  return frames.length > 1 ? frames : null;
}
