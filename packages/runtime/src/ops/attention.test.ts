import { describe, expect, it } from "vitest";
import { attendBatched, attendBlock } from "./attention.js";
import { seeded } from "../test-utils/seeded-floats.js";
import { wasmHost } from "./wasm-host.js";

/** Token-by-token reference: softmax over the visible keys in f64. */
function naive(
  q: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  n: number,
  start: number,
  nh: number,
  nkv: number,
  hd: number,
  chunk: number | null,
): Float32Array {
  const out = new Float32Array(n * nh * hd);
  const group = nh / nkv;
  for (let t = 0; t < n; t++) {
    const pos = start + t;
    const lo = chunk ? Math.floor(pos / chunk) * chunk : 0;
    for (let h = 0; h < nh; h++) {
      const g = Math.floor(h / group);
      const sc: number[] = [];
      for (let k = lo; k <= pos; k++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[t * nh * hd + h * hd + i] * kc[k * nkv * hd + g * hd + i];
        sc.push(d / Math.sqrt(hd));
      }
      const m = Math.max(...sc);
      const e = sc.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = 0; j < e.length; j++) acc += (e[j] / z) * vc[(lo + j) * nkv * hd + g * hd + i];
        out[t * nh * hd + h * hd + i] = acc;
      }
    }
  }
  return out;
}

describe("attendBatched", () => {
  const nh = 4,
    nkv = 2,
    hd = 16;
  for (const [label, n, start, chunk] of [
    ["a long prompt across query blocks, full causal", 300, 0, null],
    ["a long prompt with small chunks", 300, 0, 50],
    ["new tokens after a cached prefix, chunk boundary inside the batch", 40, 90, 100],
    ["one decoded token", 1, 257, 64],
  ] as const) {
    it(`matches token-by-token attention for ${label}`, () => {
      const L = start + n;
      const q = seeded(n * nh * hd, 1);
      const kc = seeded(L * nkv * hd, 2);
      const vc = seeded(L * nkv * hd, 3);
      const out = new Float32Array(n * nh * hd);
      attendBatched(q, kc, vc, out, { n, start, nh, nkv, hd, chunk, roundProbs: false });
      const ref = naive(q, kc, vc, n, start, nh, nkv, hd, chunk);
      let max = 0;
      for (let i = 0; i < out.length; i++) max = Math.max(max, Math.abs(out[i] - ref[i]));
      expect(max).toBeLessThan(1e-5);
    });
  }

  // the WASM path (K/V in cache layout, strided K·Q, gemmVP) against the transposed-V path through matmul
  for (const [n, start, chunk, head] of [
    [130, 0, null, 64],
    [5, 61, 32, 12],
    [1, 258, null, 64],
    [1, 3, null, 20],
  ] as const) {
    for (const roundProbs of [false, true]) {
      it(`the WASM path gives attendBlock's bits: ${n} tokens after ${start}, chunk ${chunk}, head dim ${head}, roundProbs ${roundProbs}`, () => {
        const L = start + n;
        const shape = { n, start, nh, nkv, hd: head, chunk, roundProbs };
        const q = seeded(n * nh * head, 4);
        const kc = seeded(L * nkv * head, 5);
        const vc = seeded(L * nkv * head, 6);
        const out = new Float32Array(n * nh * head);
        const ref = new Float32Array(n * nh * head);
        attendBatched(q, kc, vc, out, shape);
        for (let t0 = 0; t0 < n; t0 += 128) attendBlock(q, kc, vc, ref, shape, t0, Math.min(n, t0 + 128));
        expect(out).toEqual(ref);
      });
    }
  }

  it("reads a K/V cache that lives in the kernel memory in place, with the same bits as a copied one", () => {
    const host = wasmHost();
    expect(host).not.toBeNull();
    const [n, start, hd] = [3, 70, 64];
    const L = start + n;
    const shape = { n, start, nh, nkv, hd, chunk: 32, roundProbs: true };
    const q = seeded(n * nh * hd, 7);
    const kc = seeded(L * nkv * hd, 8);
    const vc = seeded(L * nkv * hd, 9);
    const inMemory = (a: Float32Array): Float32Array => {
      const bytes = host!.allocBytes(a.byteLength)!;
      const view = new Float32Array(bytes.buffer, bytes.byteOffset, a.length);
      view.set(a);
      return view;
    };
    const [kw, vw] = [inMemory(kc), inMemory(vc)];
    const out = new Float32Array(n * nh * hd);
    const ref = new Float32Array(n * nh * hd);
    attendBatched(q, kw, vw, out, shape);
    attendBatched(q, kc, vc, ref, shape);
    expect(out).toEqual(ref);
    for (const a of [kw, vw]) host!.releaseLater(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  });
});
