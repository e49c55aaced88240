// Turns the us-atlas state outlines (TopoJSON, Natural Earth / Census at 1:10m) into the point sets
// the page trains on: for each state, POINTS points spread evenly by length along its boundary
// rings, in a local equirectangular projection (x = longitude · cos(mean latitude)), centred and
// scaled so the outline spans [-2, 2] on its longer side (the STATES data's scale). Writes
// web/data/us-states.json: { "Alabama": [x0, y0, x1, y1, …], … } with 3 decimals.
//   npm ci --prefix tools/us-states && node tools/us-states/make.mjs
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { feature } from 'topojson-client';

const POINTS = 400;
const atlas = JSON.parse(readFileSync(new URL('./node_modules/us-atlas/states-10m.json', import.meta.url)));
const states = feature(atlas, atlas.objects.states).features;

/** The boundary rings of a Polygon or MultiPolygon, as [lon, lat] arrays. */
const rings = (geometry) => (geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat());

const out = {};
for (const state of states.sort((a, b) => a.properties.name.localeCompare(b.properties.name))) {
  const all = rings(state.geometry);
  const lat0 = all.flat().reduce((s, p) => s + p[1], 0) / all.flat().length;
  const k = Math.cos((lat0 * Math.PI) / 180);
  // Longitudes east of 0 (the Aleutians past 180°, the Pacific territories) are taken west of it.
  const project = ([lon, lat]) => [(lon > 0 ? lon - 360 : lon) * k, lat];
  // Segments of every ring, and their total length.
  const segments = all.flatMap((ring) => ring.slice(1).map((p, i) => [project(ring[i]), project(p)]));
  const length = (s) => Math.hypot(s[1][0] - s[0][0], s[1][1] - s[0][1]);
  const total = segments.reduce((s, seg) => s + length(seg), 0);
  const points = [];
  let at = 0;
  let next = 0;
  for (const seg of segments) {
    const l = length(seg);
    while (next <= at + l && points.length < POINTS) {
      const w = l === 0 ? 0 : (next - at) / l;
      points.push([seg[0][0] + w * (seg[1][0] - seg[0][0]), seg[0][1] + w * (seg[1][1] - seg[0][1])]);
      next += total / POINTS;
    }
    at += l;
  }
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [cx, cy] = [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  out[state.properties.name] = points.flatMap(([x, y]) => [+((4 * (x - cx)) / span).toFixed(3), +((4 * (y - cy)) / span).toFixed(3)]);
}
const target = new URL('../../web/data/us-states.json', import.meta.url);
mkdirSync(new URL('.', target), { recursive: true });
writeFileSync(target, JSON.stringify(out));
console.log(`${Object.keys(out).length} states × ${POINTS} points → ${target.pathname}`);
