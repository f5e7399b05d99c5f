import { describe, expect, it } from "vitest";
import { addRows, createHessian } from "@moeq/quant";
import { LayerHessians } from "./layer-hessians.js";

function rowsOf(seed: number, n: number, cols: number): Float32Array {
  const r = new Float32Array(n * cols);
  let s = seed;
  for (let i = 0; i < r.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    r[i] = (s / 2 ** 32 - 0.5) * 3;
  }
  return r;
}

describe("LayerHessians", () => {
  it("defers a routed expert's H until it is solved, bit-identical to eager accumulation, and releases it", () => {
    const cols = 8;
    const hs = new LayerHessians(1);
    const eager = createHessian(cols);
    const buf = new Float32Array(64 * cols); // the tap's buffer, reused between events
    for (const [seed, n] of [
      [1, 3],
      [2, 5],
      [3, 12],
      [4, 1],
    ]) {
      const rows = rowsOf(seed, n, cols);
      buf.set(rows);
      hs.tap({ tensor: "blk.1.ffn_gate_exps.weight", expert: 7, rows: buf, nRows: n, nCols: cols });
      buf.fill(NaN);
      addRows(eager, rows, n);
    }
    const g = hs.groupOf("blk.1.ffn_up_exps.weight", 7)!;
    expect(g.n).toBe(21);
    // 20 rows ≥ 2·cols folded early, the last one is still held
    expect(g.acc?.n).toBe(20);
    expect(g.pending.length).toBe(1);
    const acc = hs.accumulator(g);
    expect(acc.n).toBe(21);
    expect(Buffer.from(acc.sum.buffer).equals(Buffer.from(eager.sum.buffer))).toBe(true);
    hs.release(g);
    expect([g.acc, g.pending.length, g.n]).toEqual([null, 0, 21]);
  });

  it("accumulates dense Linears eagerly (their rows are every token)", () => {
    const hs = new LayerHessians(0);
    hs.tap({ tensor: "blk.0.attn_q.weight", rows: rowsOf(9, 4, 4), nRows: 4, nCols: 4 });
    const g = hs.groupOf("blk.0.attn_v.weight")!;
    expect([g.acc?.n, g.pending.length]).toEqual([4, 0]);
  });
});
