/**
 * GPTQ v1 checkpoints (`moeq gptq`, AutoGPTQ / GPTQModel `checkpoint_format: "gptq"`) in the weight store.
 * A quantized Linear is four tensors, `<module>.{qweight,qzeros,scales,g_idx}`; routed experts are unfused
 * (`…feed_forward.experts.{e}.{gate,up,down}_proj.*`, digest §4.2), possibly with some experts left BF16 as
 * `…experts.{e}.{proj}.weight` [out, in] (BF16, F16 or F32; plain unfused checkpoints load the same way). Each is presented under its GGUF name as an F32 TensorSource that
 * dequantizes on read, w = scale · (q − (stored zero + 1)) exactly as the v1 kernels compute it; the experts of one
 * layer and projection become one 3-D tensor [in, out, E] read per expert. Bits come from the shapes
 * (qweight rows = in · bits / 32).
 */
import { GGMLType, InputError, decodeToFloat32 } from "@moeq/formats";
import type { SafetensorsDType } from "@moeq/formats";
import { unpackGptqV1 } from "@moeq/quant";
import { mapLlama4HfName, stripLanguageModelPrefix } from "../llama4/names.js";
import type { TensorSource } from "./weight-store.js";

/** An HF tensor the name table did not claim (what safetensors-source calls `other`). */
export interface RawTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  read(): Uint8Array;
}

const GPTQ_PARTS = ["qweight", "qzeros", "scales", "g_idx"] as const;
const EXPERT_RE = /^model\.layers\.(\d+)\.feed_forward\.experts\.(\d+)\.(gate|up|down)_proj$/;

function typed<T>(b: Uint8Array, C: { new (buf: ArrayBuffer): T }): T {
  return new C(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** One Linear: its [out × in] f32 weight on demand, and its shape. */
interface LinearSource {
  readonly rows: number;
  readonly cols: number;
  readF32(): Float32Array;
}

function gptqLinear(module: string, other: Map<string, RawTensor>, file: string): LinearSource {
  const part = (p: (typeof GPTQ_PARTS)[number]) => {
    const t = other.get(`${module}.${p}`);
    if (!t) throw new InputError("GPTQ_MISSING", `GPTQ module ${module} has no ${p}`, { file });
    return t;
  };
  const [qw, qz, sc, gi] = GPTQ_PARTS.map(part);
  const cols = gi.shape[0];
  const rows = qw.shape[1];
  const bits = (qw.shape[0] * 32) / cols;
  const groups = sc.shape[0];
  const ok = qw.dtype === "I32" && qz.dtype === "I32" && sc.dtype === "F16" && gi.dtype === "I32" && [2, 3, 4, 8].includes(bits)
    && sc.shape[1] === rows && qz.shape[0] === groups && qz.shape[1] === (rows / 32) * bits;
  if (!ok) {
    throw new InputError("GPTQ_LAYOUT", `GPTQ module ${module} has inconsistent tensors (qweight ${qw.dtype}[${qw.shape}], qzeros ${qz.dtype}[${qz.shape}], scales ${sc.dtype}[${sc.shape}], g_idx ${gi.dtype}[${gi.shape}])`, { file });
  }
  return {
    rows,
    cols,
    readF32: () =>
      unpackGptqV1({ qweight: typed(qw.read(), Int32Array), qzeros: typed(qz.read(), Int32Array), scales: typed(sc.read(), Uint16Array), gIdx: typed(gi.read(), Int32Array) }, rows, cols, bits),
  };
}

function floatLinear(name: string, t: RawTensor, file: string): LinearSource {
  if (!["BF16", "F16", "F32"].includes(t.dtype) || t.shape.length !== 2) throw new InputError("GPTQ_LAYOUT", `unfused expert weight ${name} is ${t.dtype}[${t.shape}], expected BF16/F16/F32 [out, in]`, { file });
  return { rows: t.shape[0], cols: t.shape[1], readF32: () => decodeToFloat32(t.read(), t.dtype as SafetensorsDType) };
}

const bytesOf = (w: Float32Array) => new Uint8Array(w.buffer, w.byteOffset, w.byteLength);

/**
 * Moves every GPTQ module (and unfused BF16 expert weight) out of `other` into `tensors` under its GGUF name.
 * Returns the number of quantized Linears found (0 for a plain BF16 checkpoint).
 */
export function addGptqSources(tensors: Map<string, TensorSource>, other: Map<string, RawTensor>, file: string): number {
  const modules = [...other.keys()].filter((n) => n.endsWith(".qweight")).map((n) => n.slice(0, -".qweight".length));
  const experts = new Map<string, { ne0: number; ne1: number; byExpert: Map<number, LinearSource> }>();
  const addExpert = (module: string, src: LinearSource): boolean => {
    const m = EXPERT_RE.exec(stripLanguageModelPrefix(module));
    if (!m) return false;
    const name = `blk.${m[1]}.ffn_${m[3]}_exps.weight`;
    let set = experts.get(name);
    if (!set) experts.set(name, (set = { ne0: src.cols, ne1: src.rows, byExpert: new Map() }));
    if (set.ne0 !== src.cols || set.ne1 !== src.rows) throw new InputError("GPTQ_LAYOUT", `expert ${module} is [${src.rows}, ${src.cols}], its siblings [${set.ne1}, ${set.ne0}]`, { file });
    set.byExpert.set(Number(m[2]), src);
    return true;
  };
  for (const module of modules) {
    const src = gptqLinear(module, other, file);
    for (const p of GPTQ_PARTS) other.delete(`${module}.${p}`);
    if (addExpert(module, src)) continue;
    const match = mapLlama4HfName(`${module}.weight`);
    if (!match || match.rule.layout !== "plain") throw new InputError("GPTQ_NAME", `GPTQ module ${module} is not a Llama 4 linear layer`, { file });
    const f32 = () => bytesOf(src.readF32());
    tensors.set(match.gguf[0], {
      type: GGMLType.F32,
      ne: [src.cols, src.rows],
      readSlice: f32,
      readRow: (row) => f32().slice(row * src.cols * 4, (row + 1) * src.cols * 4),
    });
  }
  for (const [name, t] of [...other]) {
    const module = name.endsWith(".weight") ? name.slice(0, -".weight".length) : "";
    if (EXPERT_RE.test(stripLanguageModelPrefix(module)) && addExpert(module, floatLinear(name, t, file))) other.delete(name);
  }
  for (const [name, set] of experts) {
    const E = Math.max(...set.byExpert.keys()) + 1;
    tensors.set(name, {
      type: GGMLType.F32,
      ne: [set.ne0, set.ne1, E],
      readSlice: (e) => {
        const src = e === undefined ? undefined : set.byExpert.get(e);
        if (!src) throw new InputError("MISSING_TENSOR", `${name}: expert ${e} is missing from the unfused checkpoint`, { file });
        return bytesOf(src.readF32());
      },
      readRow: () => {
        throw new InputError("BAD_TENSOR_RANK", `expert tensor ${name} has no rows`, { file });
      },
    });
  }
  return modules.length;
}
