// GPTQ against an independent PyTorch implementation (fixtures/tools/gptq_ref.py, written from the paper and the
// digest) on the same W and H: a dense FFN gate, an attention q_proj and a routed expert's gate of the fixture,
// with H gathered from the runtime's taps over validation text. Both sides run in float64; the integer codes may
// differ only where a value sits on a rounding boundary and the two summation orders fall on different sides (±1).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, openSafetensorsTensors, makeWeightMatrix, decodeRow } from "@moeq/runtime";
import type { GptqOptions, GptqResult } from "@moeq/quant";
import { gptqQuantize, hessianOf, groupCount } from "@moeq/quant";
import { LayerHessians } from "./layer-hessians.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const fx = join(root, "fixtures/tiny-llama4");
const referee = join(root, "fixtures/tools/gptq_ref.py");

interface Target {
  readonly label: string;
  readonly tensor: string;
  readonly expert?: number;
  W: Float32Array;
  H: Float64Array;
  rows: number;
  cols: number;
}
const targets: Target[] = [];
let work: string;

/** f32 rows of a fixture weight in the [out × in] layout. */
async function weight(tensor: string, expert?: number): Promise<{ W: Float32Array; rows: number; cols: number }> {
  const st = await openSafetensorsTensors(fx);
  try {
    const src = st.tensors.get(tensor)!;
    const m = makeWeightMatrix(src.type, src.ne[0], src.ne[1], src.readSlice(expert));
    const W = new Float32Array(m.rows * m.cols);
    for (let r = 0; r < m.rows; r++) decodeRow(m, r, W.subarray(r * m.cols, (r + 1) * m.cols));
    return { W, rows: m.rows, cols: m.cols };
  } finally {
    st.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "moeq-gptq-ref-"));
  const model = await loadModel(fx);
  const layer0 = new LayerHessians(0);
  const layer1 = new LayerHessians(1);
  model.setTap((ev) => {
    layer0.tap(ev);
    layer1.tap(ev);
  });
  const text = readFileSync(join(root, "fixtures/data/brown-validation.txt"), "utf8").slice(0, 6000);
  const ids = model.tokenize(text);
  for (let i = 0; i + 128 <= Math.min(ids.length, 1024); i += 128) await model.logits(ids.slice(i, i + 128));
  await model.close();
  const busiest = [...layer1.groups.values()].filter((g) => g.expert !== undefined && g.tensors[0].includes("gate")).sort((a, b) => b.n - a.n)[0];
  const picks: [string, string, number | undefined, LayerHessians][] = [
    ["dense ffn_gate (layer 0)", "blk.0.ffn_gate.weight", undefined, layer0],
    ["attention q (layer 1)", "blk.1.attn_q.weight", undefined, layer1],
    [`expert ${busiest.expert} gate (layer 1, ${busiest.n} routed tokens)`, "blk.1.ffn_gate_exps.weight", busiest.expert, layer1],
  ];
  for (const [label, tensor, expert, hs] of picks) {
    const { W, rows, cols } = await weight(tensor, expert);
    targets.push({ label, tensor, expert, W, rows, cols, H: hessianOf(hs.accumulator(hs.groupOf(tensor, expert)!)) });
  }
}, 300_000);

afterAll(() => {
  if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  else console.log("WORK", work);
});

const settings: GptqOptions[] = [
  { bits: 4, groupSize: 128, sym: false },
  { bits: 4, groupSize: 128, sym: false, actOrder: true },
  { bits: 4, groupSize: 64, sym: true, actOrder: true, staticGroups: true },
  { bits: 3, groupSize: 128, sym: false },
  { bits: 2, groupSize: 32, sym: true, actOrder: true },
  { bits: 8, groupSize: -1, sym: false },
];

describe("GPTQ vs the torch referee on fixture Hessians", () => {
  it("gives the same codes (±1 where they differ), scales within 1e-6 and the same g_idx", () => {
    const jobs: { dir: string; t: Target; o: GptqOptions; ours: GptqResult }[] = [];
    settings.forEach((o, si) =>
      targets.forEach((t, ti) => {
        const dir = join(work, `job-${si}-${ti}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          join(dir, "job.json"),
          JSON.stringify({
            rows: t.rows,
            cols: t.cols,
            bits: o.bits,
            group_size: o.groupSize,
            sym: o.sym,
            act_order: !!o.actOrder,
            static_groups: !!o.staticGroups,
            damp: 0.01,
            block_size: 128,
          }),
        );
        writeFileSync(join(dir, "W.f32"), new Uint8Array(t.W.buffer));
        writeFileSync(join(dir, "H.f64"), new Uint8Array(t.H.buffer));
        const ours = gptqQuantize(t.W, t.H, t.rows, t.cols, o);
        writeFileSync(join(dir, "ours.u8"), ours.codes);
        jobs.push({ dir, t, o, ours });
      }),
    );
    const py = spawnSync("/usr/bin/python3", [referee, ...jobs.map((j) => j.dir)], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
    expect(py.status, py.stderr).toBe(0);
    const lines: string[] = [];
    let equal = 0,
      total = 0;
    for (const { dir, t, o, ours } of jobs) {
      const read = <T>(f: string, C: { new (b: ArrayBuffer): T }) => {
        const b = readFileSync(join(dir, f));
        return new C(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      };
      const codes = read("codes.u8", Uint8Array);
      const scales = read("scales.f64", Float64Array);
      const zeros = read("zeros.i32", Int32Array);
      const gIdx = read("g_idx.i32", Int32Array);
      let same = 0,
        worst = 0;
      for (let i = 0; i < codes.length; i++) {
        const d = Math.abs(codes[i] - ours.codes[i]);
        if (d === 0) same++;
        worst = Math.max(worst, d);
      }
      equal += same;
      total += codes.length;
      expect(worst, `${t.label} ${JSON.stringify(o)}`).toBeLessThanOrEqual(1);
      expect(same / codes.length).toBeGreaterThan(0.999);
      expect(scales.length).toBe(groupCount(t.cols, o.groupSize) * t.rows);
      let scaleOff = 0,
        zeroOff = 0;
      for (let i = 0; i < scales.length; i++) {
        if (Math.abs(scales[i] - ours.scales[i]) > 1e-6 * Math.abs(scales[i])) scaleOff++;
        if (zeros[i] !== ours.zeros[i]) zeroOff++;
      }
      expect(scaleOff).toBe(0);
      expect(zeroOff).toBe(0);
      expect(Array.from(ours.gIdx)).toEqual(Array.from(gIdx));
      const ref = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { loss: number; damp: number };
      expect(ours.loss).toBeCloseTo(ref.loss, 6);
      lines.push(
        `${t.label}, ${o.bits}-bit g${o.groupSize}${o.actOrder ? " act-order" : ""}${o.staticGroups ? " static" : ""}${o.sym ? " sym" : ""}: ${same}/${codes.length} codes equal, loss ${ours.loss.toPrecision(6)} vs ${ref.loss.toPrecision(6)}`,
      );
    }
    console.log(`${lines.join("\n")}\nall: ${equal}/${total} = ${(equal / total).toFixed(6)} of codes equal`);
  }, 300_000);
});
