// The line under the samples once a run is done: its grader NLL (or, for a drawing, the NLL under
// a KDE of it), its network evaluations, how many landed on the requested state, and the
// side-by-side run's numbers.

export const STATES = ['Michigan', 'Idaho', 'Ohio', 'Oklahoma', 'Wisconsin'];

/** "N network evaluations", with what a surrogate start saved against the sampler's whole grid. */
function evaluations({ nfe, fullNfe }) {
  const saved = fullNfe != null && fullNfe > nfe ? ` (${fullNfe - nfe} of the grid's ${fullNfe} saved by the surrogate start)` : '';
  return `${nfe} network evaluations${saved}`;
}

/** The text for a 'sampled' message; `drawn` when the model was trained on a drawing. */
export function sampledSummary(message, drawn) {
  return (drawn
    ? `NLL of these ${message.x.length / 2} samples under a KDE of your drawing (${message.rule}, ${evaluations(message)}): ${message.nll.toFixed(3)}`
    : `Grader NLL of these ${message.x.length / 2} samples (${message.rule}, ${evaluations(message)}): `
    + `${message.nll.toFixed(3)} (the data itself: 2.152)`)
    + (message.onTarget === null ? '' : `; ${(100 * message.onTarget).toFixed(1)}% landed on the requested `
      + `${message.label === 5 ? 'states' : STATES[message.label]} (nearest data point)`)
    + (message.second ? `. Side by side, ${message.second.rule} from the same noise: ${message.second.nll.toFixed(3)} `
      + `(${message.second.nfe} network evaluations)` : '');
}
