// The energy panel: rdMC and unadjusted Langevin on an analytic target, side by side, in the worker.

import { drawEnergy } from './plots.js';

/** Handles the worker's energy messages; returns whether `message` was one. */
export function handleEnergyMessage(message, { $, state, setStatus, setBusy }) {
  switch (message.type) {
    case 'energy-density':
      if (message.preview) {
        // The target alone, before any run (ignored once a run has started).
        if (state.busy) return true;
        state.energy = { target: message.target, density: message, preview: true, grads: 0, done: false };
        for (const id of ['energy-rdmc', 'energy-ula']) drawEnergy($(id), message, null, null, `${message.target}: p ∝ exp(−f); press Run`);
        return true;
      }
      state.energy = { ...state.energy, density: message, grads: 0, done: false, preview: false };
      return true;
    case 'ready':
      setTimeout(() => window.dispatchEvent(new CustomEvent('playground-tab', { detail: state.tab })), 0);
      return false;
    case 'energy-frame': {
      const e = state.energy;
      e.grads = message.grads;
      const label = (name) => `${name}: ${message.grads.toFixed(0)} ∇f evaluations per sample (t = ${message.t.toFixed(2)})`;
      drawEnergy($('energy-rdmc'), e.density, message.rdmc, message.cloud, label('rdMC'));
      drawEnergy($('energy-ula'), e.density, message.ula, null, label('ULA'));
      $('energy-status').textContent = `Running: ${message.grads.toFixed(0)} gradient evaluations per sample so far.`;
      return true;
    }
    case 'energy-done':
      Object.assign(state.energy, { done: true, grads: message.grads, rdmc: message.rdmc, ula: message.ula });
      $('energy-status').textContent = `${message.stopped ? 'Stopped' : 'Done'}: ${message.grads.toFixed(0)} gradient evaluations `
        + 'per sample for each sampler.';
      setStatus('Energy run finished.');
      setBusy(false);
      return true;
    default:
      return false;
  }
}

/** Wires the energy form to the worker; the target's density shows as soon as the view does. */
export function setupEnergy({ $, state, worker, readNumber, clearError, setBusy, setStatus }) {
  const preview = () => {
    if (state.tab === 'energy' && !state.busy && state.ready) worker.postMessage({ type: 'energy-preview', target: $('energy-target').value });
  };
  // On showing the view only while nothing is drawn yet (a run's picture stays); on a new target always.
  window.addEventListener('playground-tab', () => { if (!state.energy?.density) preview(); });
  $('energy-target').addEventListener('change', preview);
  $('energy-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearError();
    const n = readNumber('energy-n');
    const seed = readNumber('energy-seed');
    if (n === null || seed === null) return;
    const target = $('energy-target').value;
    const budget = Number($('energy-budget').value);
    state.energy = { target, grads: 0, done: false };
    setBusy(true);
    setStatus(`Running rdMC and ULA on ${target}…`);
    worker.postMessage({ type: 'energy', target, n, seed, budget });
  });
}
