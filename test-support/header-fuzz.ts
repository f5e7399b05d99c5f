/**
 * Seeded fuzzing of file headers (safetensors, GGUF, imatrix): a target makes one hostile file per case from the
 * project's seeded PRNG, and `runFuzz` checks the reader's contract on each: it resolves, or it rejects with a typed
 * `MoeqError` whose message is one short line with no raw control characters, within a per-case time bound and
 * without the heap growing past a bound. Used by the fuzz tests (a small count) and `npm run fuzz` (≥ 10,000).
 */
import { expect } from "vitest";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_MESSAGE_CHARS, MoeqError, openGguf, openSafetensors, seededRandom } from "@moeq/formats";

export type Rnd = () => number;

export interface FuzzTarget {
  readonly name: string;
  /** file name extension, with the dot */
  readonly ext: string;
  /** The bytes of one hostile file, drawn from `rnd` only (so a case is reproducible from its seed). */
  make(rnd: Rnd): Uint8Array;
  /** Opens and reads the file as moeq does (every tensor's bytes where the format has tensors); resolves on success. */
  parse(path: string): Promise<void>;
}

export interface FuzzBounds {
  /** per-case wall time, ms */
  readonly maxCaseMs: number;
  /** heap (JS heap + array buffers) growth over the run's start after any case, bytes */
  readonly maxHeapGrowth: number;
}

export const DEFAULT_FUZZ_BOUNDS: FuzzBounds = { maxCaseMs: 5000, maxHeapGrowth: 512 * 1024 * 1024 };

export interface FuzzFailure {
  readonly caseIndex: number;
  readonly problem: string;
}

export interface FuzzReport {
  readonly target: string;
  readonly cases: number;
  readonly parsed: number;
  /** typed refusals by error code */
  readonly refusedByCode: ReadonlyMap<string, number>;
  readonly failures: readonly FuzzFailure[];
  readonly meanCaseMs: number;
  readonly maxCaseMs: number;
  /** largest heap growth seen after a case, bytes */
  readonly maxHeapGrowth: number;
  /** the process's peak resident set (getrusage ru_maxrss), bytes */
  readonly peakRss: number;
}

const heapNow = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** The message contract: one line, no raw control characters, short (file name + message, each cut to MAX_MESSAGE_CHARS). */
export function messageProblem(message: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(message)) return `raw control character in message ${JSON.stringify(message.slice(0, 200))}`;
  if (message.length > 2 * MAX_MESSAGE_CHARS + 2) return `message of ${message.length} characters`;
  return undefined;
}

/** Runs `cases` cases of `target` (case i draws from seededRandom(seed + i)), writing each file under `dir`. */
export async function runFuzz(target: FuzzTarget, o: { cases: number; seed: number; dir: string; bounds?: FuzzBounds }): Promise<FuzzReport> {
  const bounds = o.bounds ?? DEFAULT_FUZZ_BOUNDS;
  const refusedByCode = new Map<string, number>();
  const failures: FuzzFailure[] = [];
  let parsed = 0;
  let totalMs = 0;
  let maxCaseMs = 0;
  let maxHeapGrowth = 0;
  const heap0 = heapNow();
  for (let i = 0; i < o.cases; i++) {
    const path = join(o.dir, `case-${i}${target.ext}`);
    writeFileSync(path, target.make(seededRandom(o.seed + i)));
    const t0 = performance.now();
    try {
      await target.parse(path);
      parsed++;
    } catch (err) {
      if (!(err instanceof MoeqError)) {
        failures.push({ caseIndex: i, problem: `untyped ${(err as Error)?.name ?? typeof err}: ${String((err as Error)?.message ?? err).slice(0, 300)}` });
      } else {
        refusedByCode.set(err.code, (refusedByCode.get(err.code) ?? 0) + 1);
        const bad = messageProblem(err.message);
        if (bad) failures.push({ caseIndex: i, problem: `${err.code}: ${bad}` });
      }
    }
    const ms = performance.now() - t0;
    totalMs += ms;
    maxCaseMs = Math.max(maxCaseMs, ms);
    if (ms > bounds.maxCaseMs) failures.push({ caseIndex: i, problem: `took ${ms.toFixed(0)} ms` });
    const growth = heapNow() - heap0;
    maxHeapGrowth = Math.max(maxHeapGrowth, growth);
    if (growth > bounds.maxHeapGrowth) failures.push({ caseIndex: i, problem: `heap grew by ${(growth / 2 ** 20).toFixed(0)} MiB` });
    rmSync(path, { force: true });
  }
  return {
    target: target.name,
    cases: o.cases,
    parsed,
    refusedByCode,
    failures,
    meanCaseMs: totalMs / Math.max(1, o.cases),
    maxCaseMs,
    maxHeapGrowth,
    peakRss: process.resourceUsage().maxRSS * 1024,
  };
}

/** A fuzz test's timeout: `npm run fuzz`'s 10,000 safetensors cases take minutes. */
export const FUZZ_TIMEOUT_MS = 1_800_000;

/**
 * Runs a fuzz target in a test: prints the report and expects no failures, a bounded peak RSS (the whole worker's,
 * hostile lengths included), and a corpus that exercises both outcomes with at least `minCodes` distinct refusals.
 */
export async function expectFuzzClean(target: FuzzTarget, o: { cases: number; seed: number; dir: string; minCodes: number }): Promise<void> {
  const report = await runFuzz(target, { cases: fuzzCases(o.cases), seed: o.seed, dir: o.dir });
  console.log(formatFuzzReport(report));
  expect(report.failures).toEqual([]);
  expect(report.peakRss).toBeLessThan(2 ** 31);
  expect(report.parsed).toBeGreaterThan(0);
  expect(report.refusedByCode.size).toBeGreaterThanOrEqual(o.minCodes);
}

/** One line per report: cases, parsed, refused, failures, time per case, heap. */
export function formatFuzzReport(r: FuzzReport): string {
  const refused = [...r.refusedByCode.values()].reduce((a, b) => a + b, 0);
  const codes = [...r.refusedByCode].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`);
  return (
    `${r.target}: ${r.cases} cases, ${r.parsed} parsed, ${refused} refused, ${r.failures.length} failures; ` +
    `${r.meanCaseMs.toFixed(2)} ms/case mean, ${r.maxCaseMs.toFixed(1)} ms max; heap growth ≤ ${(r.maxHeapGrowth / 2 ** 20).toFixed(1)} MiB, ` +
    `peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB\n  codes: ${codes.join(", ")}` +
    (r.failures.length
      ? `\n  failures: ${r.failures
          .slice(0, 20)
          .map((f) => `#${f.caseIndex} ${f.problem}`)
          .join("\n    ")}`
      : "")
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing hostile values

export const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
export const int = (rnd: Rnd, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
/** true with probability p */
export const chance = (rnd: Rnd, p: number): boolean => rnd() < p;

/** 64-bit values that break length and count arithmetic: near 2^64, 2^63, 2^53, 2^32, negative as signed, 0. */
export const EVIL_U64: readonly bigint[] = [
  0n,
  1n,
  0x7fn,
  0xffn,
  0x7fffn,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  1n << 62n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 2n,
  (1n << 64n) - 1n,
];
/** 32-bit values: signed extremes, -1, powers of two. */
export const EVIL_U32: readonly number[] = [0, 1, 2, 31, 32, 39, 40, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** A u64 near an evil value (±3), or near a small real count. */
export function evilU64(rnd: Rnd, real?: number): bigint {
  if (real !== undefined && chance(rnd, 0.3)) return BigInt(Math.max(0, real + int(rnd, -2, 3)));
  const base = pick(rnd, EVIL_U64);
  const v = base + BigInt(int(rnd, -3, 3));
  return BigInt.asUintN(64, v);
}

/** Keys and names a hostile file might hold: control bytes, escape sequences, huge, empty, look-alikes. */
export function evilName(rnd: Rnd, normal: string): string {
  switch (int(rnd, 0, 7)) {
    case 0:
      return normal + "\n\x1b[31mred\x1b[0m\r\x00";
    case 1:
      return normal.repeat(int(rnd, 2000, 40000)); // 40 KB – 1 MB
    case 2:
      return "";
    case 3:
      return String.fromCharCode(...Array.from({ length: int(rnd, 1, 40) }, () => int(rnd, 0, 0x9f)));
    case 4:
      return normal + "\u2028\u0085\u009b";
    case 5:
      return "\ud800" + normal; // lone surrogate (encodes as U+FFFD)
    default:
      return normal;
  }
}

/** Bytes that are not UTF-8: a lone continuation byte, an overlong encoding, a truncated sequence, 0xff. */
export const BAD_UTF8: readonly number[][] = [[0x80], [0xc0, 0xaf], [0xe2, 0x82], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];

// ---------------------------------------------------------------------------------------------------------------
// Byte-level mutations of a valid file

/** One to four generic mutations of `base`: bit flips, evil integers written over the header, truncation, splices. */
export function mutateBytes(rnd: Rnd, base: Uint8Array, headerEnd: number): Uint8Array {
  let b = base.slice();
  const n = int(rnd, 1, 4);
  for (let k = 0; k < n; k++) {
    const at = (): number => (b.length === 0 ? 0 : chance(rnd, 0.85) ? int(rnd, 0, Math.max(0, Math.min(headerEnd, b.length) - 1)) : int(rnd, 0, b.length - 1));
    switch (int(rnd, 0, 6)) {
      case 0:
      case 1: {
        const flips = int(rnd, 1, 8);
        for (let f = 0; f < flips && b.length; f++) b[at()] ^= 1 << int(rnd, 0, 7);
        break;
      }
      case 2: {
        // an evil little-endian integer over a 4- or 8-byte field
        const width = pick(rnd, [4, 8]);
        const p = at();
        const v = width === 8 ? evilU64(rnd) : BigInt(pick(rnd, EVIL_U32));
        for (let i = 0; i < width && p + i < b.length; i++) b[p + i] = Number((v >> BigInt(8 * i)) & 0xffn);
        break;
      }
      case 3:
        b = b.slice(0, at());
        break;
      case 4: {
        // splice in random bytes
        const p = at();
        const ins = Uint8Array.from({ length: int(rnd, 1, 64) }, () => int(rnd, 0, 255));
        b = concat(b.subarray(0, p), ins, b.subarray(p));
        break;
      }
      case 5: {
        // delete a range
        const p = at();
        b = concat(b.subarray(0, p), b.subarray(Math.min(b.length, p + int(rnd, 1, 64))));
        break;
      }
      default: {
        // duplicate a chunk over another place (repeats records: duplicate names, overlapping offsets)
        const from = at();
        const len = int(rnd, 4, 96);
        const chunk = b.slice(from, from + len);
        b.set(chunk.subarray(0, Math.max(0, b.length - at())), Math.min(at(), b.length - Math.min(chunk.length, b.length)));
      }
    }
  }
  return b;
}

/** `n` bytes from `rnd`, four at a time. */
export function randomBytes(rnd: Rnd, n: number): Uint8Array<ArrayBuffer> {
  const words = new Uint32Array(Math.ceil(n / 4));
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(rnd() * 4294967296);
  return new Uint8Array(words.buffer, 0, n);
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Little-endian byte builder for hand-made (hostile) headers. */
export class Bytes {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  private fixed(n: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(n);
    set(new DataView(b.buffer));
    this.bytes(b);
  }
  // prettier-ignore
  u8(v: number): void { this.fixed(1, (d) => d.setUint8(0, v)); }
  // prettier-ignore
  u32(v: number): void { this.fixed(4, (d) => d.setUint32(0, v >>> 0, true)); }
  // prettier-ignore
  i32(v: number): void { this.fixed(4, (d) => d.setInt32(0, v | 0, true)); }
  // prettier-ignore
  f32(v: number): void { this.fixed(4, (d) => d.setFloat32(0, v, true)); }
  // prettier-ignore
  u64(v: bigint): void { this.fixed(8, (d) => d.setBigUint64(0, BigInt.asUintN(64, v), true)); }
  /** GGUF string: u64 byte length + UTF-8 */
  string(v: string): void {
    const b = new TextEncoder().encode(v);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  zeros(n: number): void {
    this.bytes(new Uint8Array(n));
  }
  result(): Uint8Array {
    return concat(...this.parts);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GGUF: a structured generator whose every field may be hostile

/** The GGUF value types' codes (gguf.h) and the ggml type codes the generator draws from. */
const GGUF_SCALAR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12] as const;
const VALID_GGML_TYPES = [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 24, 26, 28, 30] as const;
const GGUF_TYPE_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export interface GgufFlavour {
  /** realistic keys with a value maker each (the generator breaks them some of the time) */
  readonly kvs: readonly [string, (s: Bytes, rnd: Rnd) => void][];
  /** tensor name stems */
  readonly tensorNames: readonly string[];
  /** chance that a tensor is F32 (imatrix files hold only F32) */
  readonly f32Share: number;
}

/** A GGUF file with random, often hostile, counts, strings, values, dims, types and offsets. */
export function hostileGguf(rnd: Rnd, flavour: GgufFlavour, evilRate: number): Uint8Array {
  const evil = (): boolean => chance(rnd, evilRate);
  const s = new Bytes();
  s.bytes(Uint8Array.of(0x47, 0x47, 0x55, 0x46));
  s.u32(evil() ? pick(rnd, [1, 2, 4, 0x03000000, 0xffffffff]) : 3);
  const kvs = flavour.kvs.filter(() => chance(rnd, 0.8));
  const nTensors = int(rnd, 0, 6);
  const alignment = evil() ? pick(rnd, [0, 1, 3, 48, 64, 0x80000000]) : 32;
  const withAlignment = alignment !== 32 || chance(rnd, 0.3);
  const nKv = kvs.length + (withAlignment ? 1 : 0) + (evil() ? int(rnd, 0, 3) : 0);
  s.u64(evil() ? evilU64(rnd, nTensors) : BigInt(nTensors));
  s.u64(evil() ? evilU64(rnd, nKv) : BigInt(nKv));
  const str = (v: string): void => {
    if (evil() && chance(rnd, 0.3)) {
      const bytes = new TextEncoder().encode(v);
      s.u64(evilU64(rnd, bytes.length));
      s.bytes(bytes);
      // eslint-disable-next-line no-dupe-else-if -- evil() draws a fresh number each call
    } else if (evil() && chance(rnd, 0.3)) {
      const bad = pick(rnd, BAD_UTF8);
      const bytes = concat(new TextEncoder().encode(v), Uint8Array.from(bad));
      s.u64(BigInt(bytes.length));
      s.bytes(bytes);
    } else s.string(v);
  };
  const value = (type: number, depth: number): void => {
    if (type === 8) return str(evil() ? evilName(rnd, "value") : "v");
    if (type === 9) {
      const et = evil() ? pick(rnd, [-1, 13, 0x7fffffff, 9, 8]) : pick(rnd, [...GGUF_SCALAR_TYPES, 8]);
      const n = int(rnd, 0, 5);
      s.i32(et);
      s.u64(evil() ? evilU64(rnd, n) : BigInt(n));
      if (depth < 40) for (let i = 0; i < n; i++) value(et, depth + 1);
      return;
    }
    const size = GGUF_TYPE_SIZE[type] ?? 4;
    for (let i = 0; i < size; i++) s.u8(int(rnd, 0, 255));
  };
  for (const [key, make] of kvs) {
    str(evil() ? evilName(rnd, key) : key);
    if (evil()) {
      const t = pick(rnd, [...GGUF_SCALAR_TYPES, 8, 9, 13, -1, 0x7fffffff]);
      s.i32(t);
      value(t, 0);
    } else make(s, rnd);
  }
  if (withAlignment) {
    str("general.alignment");
    s.i32(evil() ? pick(rnd, [0, 1, 5, 8]) : 4);
    s.u32(alignment);
  }
  const ALIGN = 32;
  const real: { size: number }[] = [];
  let offset = 0;
  for (let t = 0; t < nTensors; t++) {
    const stem = pick(rnd, flavour.tensorNames);
    str(evil() ? evilName(rnd, stem) : chance(rnd, 0.1) && t > 0 ? stem : `${stem}.${t}`);
    const nDims = evil() ? pick(rnd, [0, 5, 8, 0x7fffffff, 0xffffffff]) : int(rnd, 1, 3);
    s.u32(nDims);
    const dims: bigint[] = [];
    for (let d = 0; d < Math.min(nDims, 8); d++) dims.push(evil() ? evilU64(rnd, 32) : BigInt(pick(rnd, [1, 2, 4, 32, 256])));
    for (const d of dims) s.u64(d);
    const type = chance(rnd, flavour.f32Share) ? 0 : evil() ? pick(rnd, [-1, 4, 5, 31, 39, 40, 1000]) : pick(rnd, VALID_GGML_TYPES);
    s.i32(type);
    const size = Math.min(4096, Number(dims.reduce((a, b) => a * b, 1n) * 4n));
    real.push({ size });
    s.u64(evil() ? pick(rnd, [evilU64(rnd, offset), BigInt(offset + 1), 0n, BigInt(Math.max(0, offset - ALIGN))]) : BigInt(offset));
    offset += Math.ceil(size / ALIGN) * ALIGN;
  }
  s.zeros((ALIGN - (s.length % ALIGN)) % ALIGN);
  const dataLen = evil() ? int(rnd, 0, offset + 64) : offset;
  const data = new Uint8Array(dataLen);
  const dv = new DataView(data.buffer);
  for (let i = 0; i + 4 <= dataLen; i += 4) dv.setFloat32(i, chance(rnd, 0.05) ? pick(rnd, [NaN, Infinity, -Infinity, -1]) : rnd() * 100, true);
  s.bytes(data);
  return s.result();
}

/** A GGUF target: half the cases structured-hostile, half byte mutations of a well-formed file of the same flavour. */
export function ggufCase(rnd: Rnd, flavour: GgufFlavour): Uint8Array {
  if (chance(rnd, 0.5)) return hostileGguf(rnd, flavour, 0.15);
  const good = hostileGguf(rnd, flavour, 0);
  return mutateBytes(rnd, good, Math.max(24, good.length - 256));
}

// ---------------------------------------------------------------------------------------------------------------
// safetensors: a JSON header whose entries, offsets, length field and metadata may be hostile

const ST_DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"] as const;
const ST_SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

/** A JSON bomb: deep nesting, a huge string or a huge array, all within the 100 MB header limit. */
function jsonBomb(rnd: Rnd): string {
  switch (int(rnd, 0, 3)) {
    case 0: {
      const depth = int(rnd, 1000, 200_000);
      return "[".repeat(depth) + "]".repeat(depth);
    }
    case 1: {
      const depth = int(rnd, 1000, 100_000);
      return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    }
    case 2:
      return JSON.stringify("x".repeat(int(rnd, 1, 8) * 1_000_000));
    default:
      return "[" + "0,".repeat(int(rnd, 100_000, 1_000_000)) + "0]";
  }
}

/** One safetensors file: header JSON text (possibly with duplicate keys, bombs, bad UTF-8) + data, length field maybe lying. */
export function hostileSafetensors(rnd: Rnd, evilRate: number): Uint8Array {
  const evil = (): boolean => chance(rnd, evilRate);
  const entries: string[] = [];
  const n = int(rnd, 0, 5);
  let offset = 0;
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const dtype = evil() ? pick(rnd, ["F4", "", "f32", "I128", 7, null, ["F32"]]) : pick(rnd, ST_DTYPES);
    const shape = evil()
      ? pick(rnd, [[-1], [1.5], ["3"], [2 ** 53], [2 ** 31, 2 ** 31, 4], [[2]], null, 5, [], Array(64).fill(1), [0]])
      : Array.from({ length: int(rnd, 0, 3) }, () => pick(rnd, [1, 2, 3, 8]));
    const count = Array.isArray(shape) && shape.every((d) => typeof d === "number") ? (shape as number[]).reduce((a, b) => a * b, 1) : 1;
    const size = Math.min(1 << 20, count * (ST_SIZE[String(dtype)] ?? 1));
    const offsets = evil()
      ? pick(rnd, [
          [offset, offset + size + 1],
          [0, size],
          [offset + 4, offset + size + 4],
          [-4, size],
          [offset],
          [offset, 2 ** 64],
          [offset, 1.5],
          [size, offset],
          "0-4",
        ])
      : [offset, offset + size];
    offset += size;
    const name = names.length && chance(rnd, 0.05) ? pick(rnd, names) : evil() ? evilName(rnd, `model.layers.${i}.w`) : `model.layers.${i}.w`;
    names.push(name);
    entries.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: offsets })}`);
  }
  if (evil()) entries.push(`"__metadata__":${pick(rnd, ['{"format":"pt"}', '{"a":1}', "[]", "null", jsonBomb(rnd)])}`);
  else if (chance(rnd, 0.5)) entries.push('"__metadata__":{"format":"pt"}');
  if (evil()) entries.push(`"bomb":${jsonBomb(rnd)}`);
  let header = new TextEncoder().encode(`{${entries.join(",")}}`);
  if (evil()) {
    const bad = Uint8Array.from(pick(rnd, BAD_UTF8));
    const at = int(rnd, 1, Math.max(1, header.length - 1));
    header = concat(header.subarray(0, at), bad, header.subarray(at));
  }
  const pad = (8 - (header.length % 8)) % 8;
  header = concat(header, new Uint8Array(pad).fill(0x20));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, evil() ? evilU64(rnd, header.length) : BigInt(header.length), true);
  const dataLen = Math.max(0, evil() ? int(rnd, 0, offset + 16) : offset);
  return concat(len, header, randomBytes(rnd, dataLen));
}

/** A safetensors target case: structured-hostile or byte mutations of a well-formed file. */
export function safetensorsCase(rnd: Rnd): Uint8Array {
  if (chance(rnd, 0.5)) return hostileSafetensors(rnd, 0.15);
  const good = hostileSafetensors(rnd, 0);
  const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
  return mutateBytes(rnd, good, 8 + headerLen);
}

// ---------------------------------------------------------------------------------------------------------------
// Targets of @moeq/formats

const kvString =
  (v: string) =>
  (s: Bytes): void => {
    s.i32(8);
    s.string(v);
  };
const kvUint32 =
  (v: number) =>
  (s: Bytes): void => {
    s.i32(4);
    s.u32(v);
  };
const kvStringArray =
  (vs: string[]) =>
  (s: Bytes): void => {
    s.i32(9);
    s.i32(8);
    s.u64(BigInt(vs.length));
    for (const v of vs) s.string(v);
  };

/** A model GGUF's keys and tensor names (llama4 layout). */
export const MODEL_GGUF_FLAVOUR: GgufFlavour = {
  kvs: [
    ["general.architecture", kvString("llama4")],
    ["general.name", kvString("tiny")],
    ["llama4.block_count", kvUint32(2)],
    ["llama4.expert_count", kvUint32(4)],
    ["tokenizer.ggml.tokens", kvStringArray(["<s>", "a", "b"])],
  ],
  tensorNames: ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_up_exps.weight", "output_norm.weight"],
  f32Share: 0.3,
};

export const GGUF_TARGET: FuzzTarget = {
  name: "GGUF header",
  ext: ".gguf",
  make: (rnd) => ggufCase(rnd, MODEL_GGUF_FLAVOUR),
  async parse(path) {
    const f = await openGguf(path);
    try {
      for (const t of f.tensors) await f.readTensorBytes(t.name);
    } finally {
      await f.close();
    }
  },
};

export const SAFETENSORS_TARGET: FuzzTarget = {
  name: "safetensors header",
  ext: ".safetensors",
  make: safetensorsCase,
  async parse(path) {
    const f = await openSafetensors(path);
    try {
      for (const name of f.tensors.keys()) await f.readBytes(name);
    } finally {
      await f.close();
    }
  },
};

/** The case count of a fuzz test: MOEQ_FUZZ_CASES when set (`npm run fuzz`), else `fallback` (npm test). */
export function fuzzCases(fallback: number): number {
  const v = Number(process.env.MOEQ_FUZZ_CASES);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}
