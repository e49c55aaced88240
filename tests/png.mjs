// Screenshots decoded with pngjs (npm), so the tests can count pixels.
import pngjs from 'pngjs';

/** A PNG's width, height and RGBA pixels (pngjs always decodes to 4 channels). */
export function decodePng(buffer) {
  const { width, height, data } = pngjs.PNG.sync.read(buffer);
  return { width, height, channels: 4, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Fraction of pixels that are neither white nor near-white. */
export function inkedFraction({ width, height, channels, pixels }) {
  let inked = 0;
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = pixels.subarray(i * channels, i * channels + 3);
    if (r < 235 || g < 235 || b < 235) inked++;
  }
  return inked / (width * height);
}
