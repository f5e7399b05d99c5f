// Throughput of the integer block-dot kernel (`qmatmul` in assembly/qdot.ts), default numerics, one thread:
//   node packages/runtime/scripts/kernel-throughput.mjs [kernels-wasm.ts] [--variant relaxed|baseline] [--rows N] [--cols N] [--min-ms N] [--tokens 1,16,256]
// prints GMAC/s (multiply-adds per CPU second, process.cpuUsage) per weight type at 1 and 256 tokens (or --tokens:
// e.g. 16, a routed expert's share of a 256-token prompt), the best of --repeat (3) timings of ≥ --min-ms (200) each
// (the machine is shared: the best run is the one least disturbed). The module is
// read from a kernels-wasm.ts (default: this package's src/ops/kernels-wasm.ts), so an A/B against another build
// needs only that file, e.g. `git show main:packages/runtime/src/ops/kernels-wasm.ts > /tmp/main-kernels.ts`.
// --variant picks the relaxed-SIMD build (the default, where the file has one) or the baseline one.
// Weights are random blocks with sane fp16 scales (speed does not depend on the values); no dist/ needed.
/* global WebAssembly */
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const tokens = opt("--tokens", "1,256").split(",").map(Number);
const rows = Number(opt("--rows", 512));
const cols = Number(opt("--cols", 2048));
const minMs = Number(opt("--min-ms", 200));
const repeat = Number(opt("--repeat", 3));
const variantArg = opt("--variant", undefined);
const file = args[0] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "src", "ops", "kernels-wasm.ts");
// the baseline module first, then (since the relaxed build) the relaxed one
const modules = [...readFileSync(file, "utf8").matchAll(/"([A-Za-z0-9+/=]{100,})"/g)].map((m) => m[1]);
if (!modules.length) throw new Error(`${file}: no base64 module found`);
const variant = variantArg ?? (modules.length > 1 ? "relaxed" : "baseline");
if (variant === "relaxed" && modules.length < 2) throw new Error(`${file}: no relaxed-SIMD module`);
const b64 = variant === "relaxed" ? modules[1] : modules[0];
if (variant === "relaxed") setFlagsFromString("--experimental-wasm-relaxed-simd"); // Node 20 (on by default from Node 22)

const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536, shared: true });
const { instance } = await WebAssembly.instantiate(Buffer.from(b64, "base64"), {
  env: {
    memory,
    abort() {
      throw new Error("wasm abort");
    },
  },
});
const k = instance.exports;

// ggml type id → [block bytes, block values, byte offsets of fp16 scales, vec_dot_type]
const TYPES = {
  Q4_0: [2, 18, 32, [0], "q8_0"],
  Q4_1: [3, 20, 32, [0, 2], "q8_0"],
  Q5_0: [6, 22, 32, [0], "q8_0"],
  Q5_1: [7, 24, 32, [0, 2], "q8_0"],
  Q8_0: [8, 34, 32, [0], "q8_0"],
  Q2_K: [10, 84, 256, [80, 82], "q8_K"],
  Q3_K: [11, 110, 256, [108], "q8_K"],
  Q4_K: [12, 144, 256, [0, 2], "q8_K"],
  Q5_K: [13, 176, 256, [0, 2], "q8_K"],
  Q6_K: [14, 210, 256, [208], "q8_K"],
};

let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);

let top = 1 << 16;
const alloc = (bytes) => {
  const off = top;
  top += Math.ceil(bytes / 64) * 64;
  const need = Math.ceil(top / 65536);
  if (need > memory.buffer.byteLength / 65536) memory.grow(need - memory.buffer.byteLength / 65536);
  return off;
};

const maxTok = Math.max(...tokens);
const xf = alloc(maxTok * cols * 4);
const xq = alloc(maxTok * cols);
const xd = alloc(maxTok * (cols / 32) * 4);
const xb = alloc(maxTok * (cols / 16) * 4);
const x16 = alloc(maxTok * cols * 2);
const out = alloc(maxTok * rows * 4);
const scratch = alloc(k.qmatmulScratchBytes(cols));
const f = new Float32Array(memory.buffer, xf, maxTok * cols);
for (let i = 0; i < f.length; i++) f[i] = rnd() * 2 - 1;

const cpuMs = (u) => (u.user + u.system) / 1000;
console.log(`qmatmul ${rows}×${cols}, 1 thread, default numerics, ${variant} build (${file})`);
console.log(`type  ${tokens.map((n) => `${n} tok GMAC/s`.padStart(16)).join("")}`);
for (const [name, [id, bytes, per, halves, kind]] of Object.entries(TYPES)) {
  const rowBytes = (cols / per) * bytes;
  const w = alloc(rows * rowBytes);
  const u8 = new Uint8Array(memory.buffer, w, rows * rowBytes);
  for (let i = 0; i < u8.length; i++) u8[i] = (rnd() * 256) | 0;
  const dv = new DataView(memory.buffer, w, rows * rowBytes);
  for (let b = 0; b < rows * (cols / per); b++) for (const h of halves) dv.setUint16(b * bytes + h, 0x2000 + ((rnd() * 0x400) | 0), true);
  (kind === "q8_0" ? k.quantizeQ8_0 : k.quantizeQ8_K)(xf, maxTok * cols, xq, xd, xb, x16);
  const rates = [];
  for (const nTok of tokens) {
    const run = () => k.qmatmul(id, w, rowBytes, cols, 0, rows, xq, xd, xb, nTok, out, rows, scratch, x16, 0);
    run(); // warm-up (tier-up)
    let best = 0;
    for (let rep = 0; rep < repeat; rep++) {
      let n = 0;
      const c0 = process.cpuUsage();
      let ms = 0;
      while (ms < minMs) {
        run();
        n++;
        ms = cpuMs(process.cpuUsage(c0));
      }
      best = Math.max(best, (n * nTok * rows * cols) / (ms / 1000) / 1e9);
    }
    rates.push(best);
  }
  console.log(`${name.padEnd(6)}${rates.map((r) => r.toFixed(2).padStart(16)).join("")}`);
}
