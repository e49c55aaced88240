// What the page tests share: the Chromium launch (WebGPU on SwiftShader, or none), the page's
// observable state, and a deliberately broken weights file.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const url = process.env.PLAYGROUND_URL ?? 'http://127.0.0.1:8000/';
export const cliWeights = process.env.CLI_WEIGHTS_URL; // a denoiser.safetensors the CLI wrote, if any
export const cliClassifier = process.env.CLI_CLASSIFIER_URL; // and a classifier.safetensors
export const screenshots = new URL('./screenshots/', import.meta.url);
mkdirSync(screenshots, { recursive: true });

const ALWAYS = ['--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const WEBGPU = ['--enable-unsafe-webgpu', '--use-vulkan=swiftshader', '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader'];

async function launch(webgpu) {
  // Playwright adds its own --enable-features; Chromium keeps only the last, so we pass one list.
  const features = webgpu ? ['--enable-features=Vulkan,WebGPU'] : [];
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...ALWAYS, ...(webgpu ? WEBGPU : ['--disable-gpu']), ...features],
    ignoreDefaultArgs: ['--enable-features'],
  });
}

export const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify({ ...window.playground, samples: null, frames: null })));

export async function waitIdle(page, timeout) {
  await page.waitForFunction(() => window.playground && window.playground.ready && !window.playground.busy, null, { timeout, polling: 250 });
}

/** A syntactically valid safetensors file whose only tensor has the wrong name and shape. */
export function wrongShapeSafetensors() {
  const header = JSON.stringify({ 'layers.0.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } });
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, Buffer.from(header), Buffer.alloc(16)]);
}

/** A browser and page for one run: console errors collected, `log` prefixed with `tag` and the
 * seconds since the start. Pages prefer reduced motion (the first screen's animation then shows one
 * still frame) unless `motion` is set. */
export async function openPage(webgpu, tag, { motion = false } = {}) {
  const browser = await launch(webgpu);
  const reducedMotion = motion ? 'no-preference' : 'reduce';
  const page = await browser.newPage({ viewport: { width: 760, height: 1400 }, reducedMotion });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const started = Date.now();
  const log = (what) => console.log(`[${tag}] ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return { browser, page, consoleErrors, log };
}

/** Opens view `name`'s tab (states, energy, mnist): controls in other tabs are hidden. */
export async function openTab(page, name) {
  await page.click(`#tab-${name}`);
}

/**
 * Presses "Load the pre-trained models" and waits for the shipped denoiser and classifier (or an
 * error after the `errorsBefore` already shown), then for the page to be idle; asserts no new error.
 */
export async function loadPretrained(page, errorsBefore = 0) {
  await page.click('#load-pretrained');
  await page.waitForFunction((k) => (window.playground.loaded?.includes('states-denoiser')
    && window.playground.classifierLoaded?.includes('states-classifier')) || window.playground.errors.length > k, errorsBefore, { timeout: 60_000 });
  await waitIdle(page, 30_000);
  const { errors } = await state(page);
  if (errors.length > errorsBefore) throw new Error(`loading the pre-trained models: ${errors.slice(errorsBefore).join('; ')}`);
}
