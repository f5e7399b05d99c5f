// Measures the per-type costs `--shard` deals GGUF tensors by (packages/convert/src/shard/unit-cost.ts) and prints
// them as that table's source, next to the table in use and each type's ratio to it. Single thread, one process.
//   quantize: f32 rows → each @moeq/quant type (imatrix where the type requires one), ns per element;
//   decode:   read a unit of each input type from a (page-cached) file, decode to f32, finite check, ns per element;
//   copy:     read a unit and write it to another file unchanged, ns per byte.
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/unit-cost.bench.ts
// Env: MOEQ_BENCH_MS (per task, default 200).
import { it } from "vitest";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import { GGMLType, ggmlTypeName } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, dequantize, firstNonFinite, quantize, quantizeInto, quantizeRequiresImatrix, quantizedSize } from "@moeq/quant";
import { COPY_NS_PER_BYTE, DECODE_NS_PER_ELEMENT, QUANTIZE_NS_PER_ELEMENT } from "../src/shard/unit-cost.js";

const MS = Number(process.env.MOEQ_BENCH_MS ?? 200);
const NROWS = 16;
const N_PER_ROW = 4096;
const N = NROWS * N_PER_ROW;

function rows(): Float32Array {
  // a fixed, roughly Gaussian spread of weight-sized values (sum of uniforms; seeded by a counter)
  const x = new Float32Array(N);
  let s = 12345;
  const u = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  for (let i = 0; i < N; i++) x[i] = 0.02 * (u() + u() + u() + u());
  return x;
}

async function nsPer(count: number, fn: () => void): Promise<number> {
  const bench = new Bench({ time: MS, iterations: 3, warmupTime: 20, warmupIterations: 1 });
  bench.add("task", fn);
  await bench.run();
  const r = bench.getTask("task")?.result;
  if (!r || !("latency" in r)) throw new Error("bench task did not finish");
  return (r.latency.mean * 1e6) / count;
}

const fmt = (v: number): string => (v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

it("per-type costs for --shard (ns per element / byte, one thread)", async () => {
  const load0 = loadavg()[0];
  const src = rows();
  const imatrix = new Float32Array(N_PER_ROW).map((_, i) => 0.5 + ((i * 7919) % 97) / 97);
  const dir = mkdtempSync(join(tmpdir(), "moeq-unit-cost-"));
  try {
    const quantizeNs = new Map<GGMLType, number>();
    for (const type of SUPPORTED_QUANT_TYPES) {
      const out = new Uint8Array(quantizedSize(type, NROWS, N_PER_ROW));
      const im = quantizeRequiresImatrix(type) ? imatrix : null;
      quantizeNs.set(type, await nsPer(N, () => quantizeInto(type, src, 0, NROWS, N_PER_ROW, im, out, 0)));
    }
    const decodeNs = new Map<GGMLType, number>();
    for (const type of SUPPORTED_QUANT_TYPES) {
      const bytes = quantize(type, src, NROWS, N_PER_ROW, quantizeRequiresImatrix(type) ? imatrix : null);
      const path = join(dir, `unit-${ggmlTypeName(type)}`);
      const fd = openSync(path, "w+");
      writeSync(fd, bytes);
      const buf = new Uint8Array(bytes.length);
      const f32 = new Float32Array(N);
      decodeNs.set(
        type,
        await nsPer(N, () => {
          readSync(fd, buf, 0, buf.length, 0);
          dequantize(type, buf, N, 0, f32);
          if (firstNonFinite(f32) >= 0) throw new Error("non-finite");
        }),
      );
      closeSync(fd);
    }
    const copyBytes = 16 << 20;
    const inFd = openSync(join(dir, "copy-in"), "w+");
    writeSync(inFd, new Uint8Array(copyBytes).fill(7));
    const outFd = openSync(join(dir, "copy-out"), "w+");
    const buf = new Uint8Array(copyBytes);
    const copyNs = await nsPer(copyBytes, () => {
      readSync(inFd, buf, 0, copyBytes, 0);
      writeSync(outFd, buf, 0, copyBytes, 0);
    });
    closeSync(inFd);
    closeSync(outFd);

    const table = (m: Map<GGMLType, number>): string => [...m].map(([t, v]) => `  [GGMLType.${ggmlTypeName(t)}]: ${fmt(v)},`).join("\n");
    const ratios = (m: Map<GGMLType, number>, inUse: Readonly<Partial<Record<GGMLType, number>>>): string =>
      [...m].map(([t, v]) => `${ggmlTypeName(t)} ${inUse[t] ? (v / inUse[t]!).toFixed(2) : "–"}`).join(", ");
    console.log(
      [
        `load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
        "QUANTIZE_NS_PER_ELEMENT = {",
        table(quantizeNs),
        "}",
        "DECODE_NS_PER_ELEMENT = {",
        table(decodeNs),
        "}",
        `COPY_NS_PER_BYTE = ${fmt(copyNs)}`,
        `measured ÷ table in use — quantize: ${ratios(quantizeNs, QUANTIZE_NS_PER_ELEMENT)}`,
        `decode: ${ratios(decodeNs, DECODE_NS_PER_ELEMENT)}; copy ${COPY_NS_PER_BYTE ? (copyNs / COPY_NS_PER_BYTE).toFixed(2) : "–"}`,
      ].join("\n"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
