// Test helper: a deterministic PNG for the vision tests. Not part of the package build.
import { PNG } from "pngjs";

/** PNG bytes of a `width`×`height` RGBA image whose byte i is (37·i) mod 251: varied, never flat, same every run. */
export function patternPng(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 37) % 251;
  return new Uint8Array(PNG.sync.write(png));
}
