// node-llama-cpp (llama.cpp v0.4.0, CPU) as the oracle for the runtime's GGUF forward pass and tokenizer.
// Test-only: no package imports this.
import { getLlama, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import koffi from "koffi";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ggmlBaseLib, llamaBinDir, type KoffiFunction } from "./ggml-lib.js";

let llamaPromise: Promise<Llama> | undefined;

/** One CPU-only llama.cpp instance per test process (no GPU probing, quiet logs). */
export function cpuLlama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  return llamaPromise;
}

export async function loadLlamaCppModel(path: string): Promise<LlamaModel> {
  const llama = await cpuLlama();
  return llama.loadModel({ modelPath: path, gpuLayers: 0 });
}

/**
 * llama.cpp's next-token distribution after every prefix of `tokens` (row t = P(· | tokens[0..t])), each a dense
 * Float64Array over the vocabulary. Uses a fresh context with the default f16 KV cache and flash attention off
 * (the attention path the runtime's `ggmlNumerics` mirrors).
 */
export async function llamaCppNextTokenProbs(model: LlamaModel, tokens: number[], nVocab: number, opts: { threads?: number } = {}): Promise<Float64Array[]> {
  const context = await model.createContext({
    contextSize: Math.max(256, tokens.length + 8),
    batchSize: Math.max(32, tokens.length),
    threads: opts.threads ?? 2,
    flashAttention: false,
  });
  try {
    const seq = context.getSequence();
    const out = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { probabilities: true } }] as const));
    return out.map((o, i) => {
      const probs = o?.next?.probabilities;
      if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
      const row = new Float64Array(nVocab);
      for (const [id, p] of probs) row[id] = p;
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/** llama.cpp's tokenization (no BOS added; special tokens parsed when `special`). */
export function llamaCppTokenize(model: LlamaModel, text: string, special = false): number[] {
  return [...model.tokenize(text, special)];
}

// ---- ggml_mul_mat on the CPU backend, through koffi: the oracle for our quantized matmul numerics ----

interface GgmlMulMatFns {
  init: KoffiFunction;
  newTensor2d: KoffiFunction;
  mulMat: KoffiFunction;
  newTensor3d: KoffiFunction;
  mulMatId: KoffiFunction;
  newGraph: KoffiFunction;
  expand: KoffiFunction;
  data: KoffiFunction;
  free: KoffiFunction;
  compute: KoffiFunction;
  rmsNorm: KoffiFunction;
}
let mulMatFns: GgmlMulMatFns | undefined;

/** The libggml-cpu variant for this CPU's widest vector ISA we can detect (AVX-512 → skylakex, AVX2 → haswell). */
function cpuVariant(): string {
  const flags = readFileSync("/proc/cpuinfo", "utf8");
  if (/\bavx512f\b/.test(flags)) return "libggml-cpu-skylakex.so";
  if (/\bavx2\b/.test(flags)) return "libggml-cpu-haswell.so";
  return "libggml-cpu-x64.so";
}

function ggmlMulMatFns(): GgmlMulMatFns {
  if (!mulMatFns) {
    const base = ggmlBaseLib();
    const cpu = koffi.load(join(llamaBinDir(), cpuVariant()));
    koffi.struct("moeq_ggml_init_params", { mem_size: "size_t", mem_buffer: "void *", no_alloc: "bool" });
    cpu.func("void ggml_cpu_init(void)")();
    mulMatFns = {
      init: base.func("void *ggml_init(moeq_ggml_init_params p)"),
      newTensor2d: base.func("void *ggml_new_tensor_2d(void *ctx, int type, int64_t ne0, int64_t ne1)"),
      mulMat: base.func("void *ggml_mul_mat(void *ctx, void *a, void *b)"),
      newTensor3d: base.func("void *ggml_new_tensor_3d(void *ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2)"),
      mulMatId: base.func("void *ggml_mul_mat_id(void *ctx, void *as, void *b, void *ids)"),
      newGraph: base.func("void *ggml_new_graph(void *ctx)"),
      expand: base.func("void ggml_build_forward_expand(void *g, void *t)"),
      data: base.func("void *ggml_get_data(void *t)"),
      free: base.func("void ggml_free(void *ctx)"),
      compute: cpu.func("int ggml_graph_compute_with_ctx(void *ctx, void *g, int n_threads)"),
      rmsNorm: base.func("void *ggml_rms_norm(void *ctx, void *a, float eps)"),
    };
  }
  return mulMatFns;
}

/** Builds the graph ending in tensor `t`, computes it on one CPU thread and returns its first `n` floats. */
function computeF32(f: GgmlMulMatFns, ctx: unknown, t: unknown, n: number): Float32Array {
  const g = f.newGraph(ctx);
  f.expand(g, t);
  f.compute(ctx, g, 1);
  return new Float32Array(koffi.decode(f.data(t), "float", n) as number[]);
}

/**
 * ggml_mul_mat(W, X) on one CPU thread: W is `rows` rows of `cols` elements of ggml type `type` (encoded bytes),
 * X is `nTok` f32 rows of `cols`. Returns [nTok × rows] f32, like our `matmul`.
 */
export function ggmlMulMat(type: number, weight: Uint8Array, cols: number, rows: number, x: Float32Array, nTok: number): Float32Array {
  const f = ggmlMulMatFns();
  const ctx = f.init({ mem_size: weight.length + 4 * (cols + rows) * nTok + (16 << 20), mem_buffer: null, no_alloc: false });
  try {
    const a = f.newTensor2d(ctx, type, cols, rows);
    const b = f.newTensor2d(ctx, 0 /* F32 */, cols, nTok);
    koffi.encode(f.data(a), "uint8_t", Array.from(weight), weight.length);
    koffi.encode(f.data(b), "float", Array.from(x.subarray(0, cols * nTok)), cols * nTok);
    return computeF32(f, ctx, f.mulMat(ctx, a, b), rows * nTok);
  } finally {
    f.free(ctx);
  }
}

/**
 * ggml_mul_mat_id (llama.cpp's routed-expert matmul) on one CPU thread with one expert and every token routed to it:
 * same arguments and result as `ggmlMulMat`, computed by MUL_MAT_ID's per-output `vec_dot` instead of MUL_MAT's paths.
 */
export function ggmlMulMatId(type: number, weight: Uint8Array, cols: number, rows: number, x: Float32Array, nTok: number): Float32Array {
  const f = ggmlMulMatFns();
  const ctx = f.init({ mem_size: weight.length + 8 * (cols + rows) * nTok + (16 << 20), mem_buffer: null, no_alloc: false });
  try {
    const as = f.newTensor3d(ctx, type, cols, rows, 1);
    const b = f.newTensor3d(ctx, 0 /* F32 */, cols, 1, nTok);
    const ids = f.newTensor2d(ctx, 26 /* I32 */, 1, nTok);
    koffi.encode(f.data(as), "uint8_t", Array.from(weight), weight.length);
    koffi.encode(f.data(b), "float", Array.from(x.subarray(0, cols * nTok)), cols * nTok);
    koffi.encode(f.data(ids), "int32_t", new Array<number>(nTok).fill(0), nTok);
    return computeF32(f, ctx, f.mulMatId(ctx, as, b, ids), rows * nTok);
  } finally {
    f.free(ctx);
  }
}

/** ggml_rms_norm over `n` f32 rows of `d` on one CPU thread (no gain): the oracle for our ggml-order RMSNorm. */
export function ggmlRmsNorm(x: Float32Array, n: number, d: number, eps: number): Float32Array {
  const f = ggmlMulMatFns();
  const ctx = f.init({ mem_size: 8 * n * d + (16 << 20), mem_buffer: null, no_alloc: false });
  try {
    const a = f.newTensor2d(ctx, 0 /* F32 */, d, n);
    koffi.encode(f.data(a), "float", Array.from(x.subarray(0, n * d)), n * d);
    return computeF32(f, ctx, f.rmsNorm(ctx, a, eps), n * d);
  } finally {
    f.free(ctx);
  }
}
