// A drawing in the link (`#drawn=…`): its points as base64url of little-endian int16 pairs in
// thousandths of the data's units (the core takes drawn points within ±10, so ±10 000 fits), for
// drawings of 10 to 500 points — at most 2 667 characters of link; a larger drawing is left out of
// the link (download it instead). Rounding moves a point by at most 0.0005 in each coordinate.

export const LINK_POINTS = { min: 10, max: 500 };
const SCALE = 1000;
const LIMIT = 10 * SCALE;

/** The link text of the flat `[x, y, …]` drawing, or null when it has too few or too many points. */
export function encodeDrawing(flat) {
  const points = flat.length / 2;
  if (points < LINK_POINTS.min || points > LINK_POINTS.max) return null;
  const bytes = new Uint8Array(flat.length * 2);
  const view = new DataView(bytes.buffer);
  flat.forEach((v, i) => view.setInt16(2 * i, Math.max(-LIMIT, Math.min(LIMIT, Math.round(v * SCALE))), true));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `{ points }` (flat) from link text, or `{ why }` it is not a drawing. */
export function decodeDrawing(text) {
  const most = Math.ceil((LINK_POINTS.max * 4 * 4) / 3);
  if (text.length > most) return { why: `longer than a drawing of ${LINK_POINTS.max} points` };
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return { why: 'not base64url' };
  let binary;
  try {
    binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return { why: 'not base64url' };
  }
  if (binary.length % 4 !== 0) return { why: 'not whole (x, y) pairs' };
  const points = binary.length / 4;
  if (points < LINK_POINTS.min) return { why: `fewer than ${LINK_POINTS.min} points` };
  const view = new DataView(Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer);
  const flat = [];
  for (let i = 0; i < points * 2; i++) {
    const v = view.getInt16(2 * i, true);
    if (Math.abs(v) > LIMIT) return { why: `point ${Math.floor(i / 2)} is outside ±10` };
    flat.push(v / SCALE);
  }
  return { points: flat };
}

/**
 * The drawing as a link setting (web/url-state.js's `registerExtra`): `get()` is the flat list
 * now, `set(points)` replaces it — with a link's drawing, or with none on a reset.
 */
export function drawingExtra(get, set) {
  return {
    read: () => encodeDrawing(get()),
    apply: (text) => {
      const decoded = decodeDrawing(text);
      if (decoded.why) return decoded.why;
      set(decoded.points);
      return null;
    },
    reset: () => {
      if (get().length) set([]);
    },
  };
}
