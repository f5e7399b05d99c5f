/** Seeded test rows for the codec tests and bench: the distributions ggml's quantizers find hard. */
import { GGMLType, bf16ToF32, f32ToBf16, seededRandom } from "@moeq/formats";

/**
 * The grid i-quants, tested in ggml-codecs.test.ts (and the convert file-type tests) only: ggml builds their
 * neighbour tables in every process that uses them (about a minute of C on a busy 2-core machine), and past ~1e6
 * their float32 neighbour distances overflow and ggml aborts (GGML_ASSERT(grid_index >= 0)) where we throw, so the
 * magnitude sweep and the fixture-weights pass leave them out.
 */
export const GRID_IQUANT_TYPES: ReadonlySet<GGMLType> = new Set([
  GGMLType.IQ1_S,
  GGMLType.IQ1_M,
  GGMLType.IQ2_XXS,
  GGMLType.IQ2_XS,
  GGMLType.IQ2_S,
  GGMLType.IQ3_XXS,
  GGMLType.IQ3_S,
]);

/** Floats in [0, 1) from the project's seeded PRNG (mulberry32, @moeq/formats). */
export const rng: (seed: number) => () => number = seededRandom;

function gaussian(r: () => number): number {
  const u = 1 - r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function studentT(r: () => number, df: number): number {
  let chi2 = 0;
  for (let i = 0; i < df; i++) chi2 += gaussian(r) ** 2;
  return gaussian(r) / Math.sqrt(chi2 / df);
}

/** v rounded to bfloat16 (formats' conversion, round to nearest even). */
const toBf16 = (v: number): number => bf16ToF32(f32ToBf16(v));

export type Distribution = (r: () => number, i: number, n: number) => number;

/** Named generators; each is sampled per element (i = index in the row, n = row length). */
export const DISTRIBUTIONS: Readonly<Record<string, Distribution>> = {
  gaussian: (r) => gaussian(r),
  "gaussian-0.02": (r) => 0.02 * gaussian(r),
  "student-t3": (r) => studentT(r, 3),
  cauchy: (r) => Math.tan(Math.PI * (r() - 0.5)),
  "many-zeros": (r) => (r() < 0.7 ? 0 : gaussian(r)),
  "all-zero": () => 0,
  // ±0 mixed: C's strict comparisons keep the first zero's sign for min/max
  "signed-zeros": (r) => (r() < 0.5 ? -0 : 0),
  // every |x| equal: the first index of the largest |x| decides the sign of the scale
  "sign-ties": (r) => (r() < 0.5 ? -0.5 : 0.5),
  constant: () => 0.37,
  "constant-negative": () => -2.5,
  "large-1e4": (r) => 1e4 * gaussian(r),
  "tiny-1e-6": (r) => 1e-6 * gaussian(r),
  // float32 subnormal range: d = max/-8 is subnormal and 1/d overflows to inf in the legacy ref paths
  "subnormal-1e-39": (r) => 1e-39 * gaussian(r),
  // fp16 overflow: the stored scales become inf
  "huge-1e6": (r) => 1e6 * gaussian(r),
  "all-positive": (r) => Math.abs(gaussian(r)) + 0.1,
  "all-negative": (r) => -Math.abs(gaussian(r)) - 0.5,
  "bf16-rounded": (r) => toBf16(0.05 * gaussian(r)),
  outliers: (r) => (r() < 0.01 ? 100 : 1) * gaussian(r),
  "quarter-steps": (r) => Math.round(4 * gaussian(r)) / 4,
  "block-scales": (r, i) => gaussian(r) * 10 ** (((i >> 5) % 7) - 3),
};

/** nrows × nPerRow float32 values drawn from `dist` with a fixed seed. */
export function makeRows(dist: Distribution, nrows: number, nPerRow: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(nrows * nPerRow);
  for (let i = 0; i < out.length; i++) out[i] = dist(r, i % nPerRow, nPerRow);
  return out;
}

/** A positive importance matrix (log-normal, spanning a few decades) of nPerRow values. */
export function makeImatrix(nPerRow: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(nPerRow);
  for (let i = 0; i < nPerRow; i++) out[i] = Math.exp(1.5 * gaussian(r));
  return out;
}

/** "" when equal, else the number of differing blocks and the first differing byte. */
export function describeMismatch(ours: Uint8Array, ref: Uint8Array, blockBytes: number): string {
  if (ours.length !== ref.length) return `length ${ours.length} != ${ref.length}`;
  let first = -1;
  let badBlocks = 0;
  for (let b = 0; b < ref.length; b += blockBytes) {
    let bad = false;
    for (let k = b; k < b + blockBytes; k++) {
      if (ours[k] !== ref[k]) {
        if (first < 0) first = k;
        bad = true;
      }
    }
    if (bad) badBlocks++;
  }
  if (first < 0) return "";
  return `${badBlocks}/${ref.length / blockBytes} blocks differ; first at byte ${first} (block ${Math.floor(first / blockBytes)}, +${first % blockBytes}): ours 0x${ours[first].toString(16)} ggml 0x${ref[first].toString(16)}`;
}

/** "" when the float32 bit patterns are equal, else the count and the first differing element. */
export function describeFloatMismatch(ours: Float32Array, ref: Float32Array): string {
  const a = new Uint32Array(ours.buffer, ours.byteOffset, ours.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`;
  let first = -1;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) return "";
  return `${count}/${a.length} values differ; first at ${first}: ours ${ours[first]} ggml ${ref[first]}`;
}
