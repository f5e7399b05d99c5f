/**
 * The Llama 4 text forward pass over a WeightStore (GGUF names), batched over prompt tokens, with a KV cache.
 * Follows Transformers' modeling_llama4 and llama.cpp's llama4 graph, which agree:
 *   h = embed(ids);  per layer:  h += Attn(RMSNorm(h));  h += FFN(RMSNorm(h));  logits = RMSNorm(h) · outputᵀ
 * RoPE layers: interleaved RoPE, then weightless RMS qk-norm (when configured), chunked causal attention.
 * NoPE layers: no rotation, query × temperature (when configured), full causal attention.
 * MoE FFN: top-k on raw router logits, sigmoid weight scales the expert INPUT, shared expert added.
 */
import type { Llama4TextConfig } from "./config.js";
import { ropeInvFreq } from "./config.js";
import type { WeightStore } from "../store/weight-store.js";
import { KvCache } from "./kv-cache.js";
import type { ActivationTap } from "./taps.js";
import { roundRowToF16 } from "../ops/half.js";
import { attendBatched } from "../ops/attention.js";
import { ScratchPool } from "../ops/scratch.js";
import { wasmHost } from "../ops/wasm-host.js";
import type { WeightMatrix } from "../ops/weight-matrix.js";
import { forwardNumerics, type ForwardNumerics } from "./numerics.js";
import { fakeQuantizeFp8Activations } from "@moeq/quant";

const f = Math.fround;

export interface ForwardOptions {
  /** Replace the embedding of batch row `positions[i]` by `rows[i·hidden ..]` (image features). */
  readonly embeddingOverrides?: { positions: readonly number[]; rows: Float32Array };
  /** Which batch rows need logits: "all" (default) or "last". */
  readonly logitsFor?: "all" | "last";
  /**
   * Where to write the logits (at least rows × vocab floats; the result is a view of it) instead of a fresh array:
   * generation reuses one buffer, since a fresh array of the vocabulary's size per token was an off-heap allocation
   * that showed in the profile.
   */
  readonly logitsOut?: Float32Array;
  /**
   * Called with each layer's output hidden states [n × hidden] (debugging, layer-wise comparisons). Valid only during
   * the callback (copy to keep).
   */
  readonly onLayerOutput?: (layer: number, hidden: Float32Array) => void;
}

export interface TextModelOptions {
  /**
   * Follow llama.cpp's CPU numerics instead of exact f32 math: activations rounded to each weight's ggml vec_dot
   * type before the matmul (Q8_0 / Q8_K / F16 …), K and V cached as f16, Q rounded to f16 for K·Q and the softmax
   * probabilities rounded to f16 for the V product (non-flash attention with the default f16 KV cache).
   * On for GGUF models so our logits follow llama.cpp's; off for safetensors.
   * `"exact"`: bit-identical to llama.cpp's CPU backend with extra buffer types off (`--no-repack`) on x86-64
   * AVX2/AVX-512 builds — integer-domain Q8_0/Q2_K–Q6_K dot products in the kernels' lane order, tinyBLAS F16/F32
   * order, ggml's rms_norm/rope (glibc sinf/cosf)/soft_max (ggml_v_expf)/swiglu/sigmoid. Much slower (scalar JS, one thread).
   */
  readonly ggmlNumerics?: boolean | "exact";
  /**
   * Threads the matmuls split their output rows over (default 1). The worker threads must be started first with
   * `await startKernelThreads(threads)` (`loadModel` does it).
   */
  readonly threads?: number;
}

/** A decoder layer's GGUF tensor names, built once (the forward pass looks weights up by name every token). */
interface LayerNames {
  readonly attnNorm: string;
  readonly ffnNorm: string;
  readonly q: string;
  readonly k: string;
  readonly v: string;
  readonly o: string;
  readonly gate: string;
  readonly up: string;
  readonly down: string;
  readonly router: string;
  readonly gateShexp: string;
  readonly upShexp: string;
  readonly downShexp: string;
  readonly gateExps: string;
  readonly upExps: string;
  readonly downExps: string;
}

function layerNames(l: number): LayerNames {
  const b = `blk.${l}.`;
  return {
    attnNorm: `${b}attn_norm.weight`,
    ffnNorm: `${b}ffn_norm.weight`,
    q: `${b}attn_q.weight`,
    k: `${b}attn_k.weight`,
    v: `${b}attn_v.weight`,
    o: `${b}attn_output.weight`,
    gate: `${b}ffn_gate.weight`,
    up: `${b}ffn_up.weight`,
    down: `${b}ffn_down.weight`,
    router: `${b}ffn_gate_inp.weight`,
    gateShexp: `${b}ffn_gate_shexp.weight`,
    upShexp: `${b}ffn_up_shexp.weight`,
    downShexp: `${b}ffn_down_shexp.weight`,
    gateExps: `${b}ffn_gate_exps.weight`,
    upExps: `${b}ffn_up_exps.weight`,
    downExps: `${b}ffn_down_exps.weight`,
  };
}

export class Llama4TextModel {
  readonly cache: KvCache;
  private tap: ActivationTap | null = null;
  /** The op implementations of this model's numerics (chosen once). */
  readonly ops: ForwardNumerics;
  readonly threads: number;
  private readonly scratch = new ScratchPool();
  private readonly names: readonly LayerNames[];

  constructor(
    readonly config: Llama4TextConfig,
    readonly store: WeightStore,
    opts: TextModelOptions = {},
  ) {
    const factors = store.has("rope_freqs.weight") ? store.vector("rope_freqs.weight") : undefined;
    const invFreq = ropeInvFreq(config, factors);
    const thetaScale = Math.fround(Math.pow(Math.fround(config.ropeTheta), Math.fround(-2 / config.headDim)));
    this.cache = new KvCache(config.numLayers, config.numKvHeads * config.headDim, 256, wasmHost());
    const mode = opts.ggmlNumerics === "exact" ? "exact" : opts.ggmlNumerics ? "ggml" : "f32";
    this.threads = opts.threads ?? 1;
    this.names = Array.from({ length: config.numLayers }, (_, l) => layerNames(l));
    // GCC contracts ggml's rotate_pairs into fused multiply-adds (matches layer by layer)
    const ggml = { headDim: config.headDim, thetaScale, factors: factors ?? null, fused: true };
    this.ops = forwardNumerics(mode, { invFreq, ggml }, this.threads);
  }

  get vocabSize(): number {
    return this.store.info("output.weight").ne[1];
  }

  /**
   * Hands the K/V cache's kernel-memory blocks back (the store belongs to the caller). A model dropped without it
   * gives them back once it is garbage-collected.
   */
  close(): void {
    this.cache.close();
  }

  setTap(tap: ActivationTap | null): void {
    this.tap = tap;
  }

  private emit(tensor: string, rows: Float32Array, nRows: number, nCols: number): void {
    this.tap?.({ tensor, rows: rows.subarray(0, nRows * nCols), nRows, nCols });
  }

  private norm(x: Float32Array, weight: Float32Array | null, n: number, d: number, eps: number, out: Float32Array): void {
    this.ops.rmsNorm(x, weight, n, d, eps, out);
  }

  /**
   * The input `w`'s matmul sees: `x` itself, or for FP8 W8A8 weights `x` quantized to E4M3 and back as the serving
   * stack does in front of its FP8 GEMM (static, per-token or per-token-group scales; a scratch copy).
   */
  private matmulInput(w: WeightMatrix, x: Float32Array, n: number): Float32Array {
    if (!w.activations) return x;
    return fakeQuantizeFp8Activations(x, n, w.cols, w.activations, this.scratch.get("fp8_input", n * w.cols));
  }

  private linear(name: string, x: Float32Array, n: number, out: Float32Array, expert?: number): void {
    const w = this.store.matrix(name, expert);
    if (this.tap && expert === undefined) this.emit(name, x, n, w.cols);
    this.ops.matmul(w, this.matmulInput(w, x, n), n, out);
  }

  /**
   * Runs `tokens` at positions [cache.length, cache.length + n), appends their K/V to the cache and returns
   * logits (row-major [rows × vocab]) for all rows or only the last one.
   */
  forward(tokens: readonly number[], opts: ForwardOptions = {}): Float32Array {
    const cfg = this.config;
    const n = tokens.length;
    const d = cfg.hiddenSize;
    const start = this.cache.length;
    const host = wasmHost();
    if (host) {
      if (this.threads > host.workerCount + 1)
        throw new Error(`${this.threads} threads requested but ${host.workerCount + 1} started: await startKernelThreads(${this.threads}) first`);
      host.collect(); // weights the store evicted during the previous pass are no longer in use
    }
    this.cache.ensure(start + n);
    // hidden states and the final norm in reused buffers: a fresh typed array of more than 64 bytes is an off-heap
    // allocation, which the profile showed per generated token (the logits, handed to the caller, stay fresh)
    const h = this.scratch.get("hidden", n * d);
    this.store.gatherRows("token_embd.weight", tokens, h);
    const ov = opts.embeddingOverrides;
    if (ov) for (let i = 0; i < ov.positions.length; i++) h.set(ov.rows.subarray(i * d, (i + 1) * d), ov.positions[i] * d);

    this.forwardLayers(h, 0, cfg.numLayers, opts.onLayerOutput);
    this.cache.length = start + n;

    const first = opts.logitsFor === "last" ? n - 1 : 0;
    const rows = n - first;
    const hn = this.scratch.get("final_norm", rows * d);
    this.norm(h.subarray(first * d), this.store.vector("output_norm.weight"), rows, d, cfg.rmsNormEps, hn);
    const vocab = this.vocabSize;
    const logits = opts.logitsOut ? opts.logitsOut.subarray(0, rows * vocab) : new Float32Array(rows * vocab);
    if (logits.length < rows * vocab) throw new RangeError(`forward: logitsOut holds ${logits.length} floats, need ${rows}×${vocab}`);
    this.linear("output.weight", hn, rows, logits);
    return logits;
  }

  /**
   * Runs decoder layers [from, to) in place on `h` (n rows of hidden states) for tokens at positions
   * [cache.length, cache.length + n), appending their K/V to those layers' caches; the cache length is left as it
   * is (forward advances it). Layer-wise calibration (GPTQ) advances cached hidden states one layer at a time.
   */
  forwardLayers(h: Float32Array, from: number, to: number, onLayerOutput?: (layer: number, hidden: Float32Array) => void): void {
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const n = h.length / d;
    const start = this.cache.length;
    this.cache.ensure(start + n);
    const xn = this.scratch.get("layer_norm", n * d);
    const tmp = this.scratch.get("layer_out", n * d);
    for (let l = from; l < to; l++) {
      const names = this.names[l];
      this.norm(h, this.store.vector(names.attnNorm), n, d, cfg.rmsNormEps, xn);
      this.attention(l, xn, n, start, tmp);
      for (let i = 0; i < n * d; i++) h[i] = h[i] + tmp[i]; // the f32 store rounds the sum
      this.norm(h, this.store.vector(names.ffnNorm), n, d, cfg.rmsNormEps, xn);
      if (cfg.moeLayers[l]) this.moe(l, xn, n, tmp);
      else this.mlp(names.gate, names.up, names.down, xn, n, tmp);
      for (let i = 0; i < n * d; i++) h[i] = h[i] + tmp[i];
      onLayerOutput?.(l, h);
    }
  }

  private attention(l: number, xn: Float32Array, n: number, start: number, out: Float32Array): void {
    const cfg = this.config;
    const hd = cfg.headDim;
    const nh = cfg.numHeads;
    const nkv = cfg.numKvHeads;
    const qDim = nh * hd;
    const kvDim = nkv * hd;
    const q = this.scratch.get("q", n * qDim);
    const k = this.scratch.get("k", n * kvDim);
    const v = this.scratch.get("v", n * kvDim);
    const names = this.names[l];
    this.linear(names.q, xn, n, q);
    this.linear(names.k, xn, n, k);
    this.linear(names.v, xn, n, v);
    const useRope = cfg.ropeLayers[l];
    for (let t = 0; t < n; t++) {
      const pos = start + t;
      if (useRope) {
        this.ops.rope(q, t * qDim, nh, hd, pos);
        this.ops.rope(k, t * kvDim, nkv, hd, pos);
      } else if (cfg.attnTemperatureTuning) {
        const scale = f(Math.log(Math.floor((pos + 1) / cfg.floorScale) + 1) * cfg.attnScale + 1);
        if (scale !== 1) for (let i = t * qDim; i < (t + 1) * qDim; i++) q[i] = f(q[i] * scale);
      }
    }
    if (useRope && cfg.useQkNorm) {
      // Weightless RMS norm per head, after RoPE (Llama4TextL2Norm / llama.cpp ggml_rms_norm): every token's heads
      // are rows of hd, normed all at once.
      this.norm(q, null, n * nh, hd, cfg.rmsNormEps, q);
      this.norm(k, null, n * nkv, hd, cfg.rmsNormEps, k);
    }
    const kc = this.cache.k[l];
    const vc = this.cache.v[l];
    if (this.ops.f16Attention) {
      roundRowToF16(q.subarray(0, n * qDim));
      roundRowToF16(k.subarray(0, n * kvDim), kc, start * kvDim);
      roundRowToF16(v.subarray(0, n * kvDim), vc, start * kvDim);
    } else {
      kc.set(k, start * kvDim);
      vc.set(v, start * kvDim);
    }

    const attnOut = this.scratch.get("attn", n * qDim);
    attendBatched(q, kc, vc, attnOut, {
      n,
      start,
      nh,
      nkv,
      hd,
      chunk: useRope ? cfg.attentionChunkSize : null,
      roundProbs: this.ops.f16Attention,
      ggmlOrder: this.ops.ggmlAttentionOrder,
      threads: this.threads,
    });
    this.linear(names.o, attnOut, n, out);
  }

  /** SwiGLU MLP: down(silu(gate·x) ⊙ up·x). */
  private mlp(gateName: string, upName: string, downName: string, x: Float32Array, n: number, out: Float32Array, expert?: number): void {
    const ff = this.store.matrix(gateName, expert).rows;
    const g = this.scratch.get("ffn_gate", n * ff);
    const u = this.scratch.get("ffn_up", n * ff);
    this.linear(gateName, x, n, g, expert);
    this.linear(upName, x, n, u, expert);
    this.ops.swiglu(g, u, n * ff);
    this.linear(downName, g, n, out, expert); // linear() taps the down projection's input once
  }

  /** MoE FFN: shared expert + Σ over routed experts of expert(sigmoid(logit) · x), top-k on raw logits. */
  private moe(l: number, xn: Float32Array, n: number, out: Float32Array): void {
    const cfg = this.config;
    const d = cfg.hiddenSize;
    const E = cfg.numExperts;
    const k = cfg.expertsPerToken;
    const names = this.names[l];
    const logits = this.scratch.get("router", n * E); // [n, E]
    this.linear(names.router, xn, n, logits);
    // Route: each token's top-k experts (slot t·k + j), then the slots grouped by expert in token order (a counting
    // sort): expert e's tokens are order[first[e] .. first[e + 1]) with their sigmoid weights at the same places.
    const nk = n * k;
    const ints = this.intScratch(2 * nk + E + 1);
    const picks = ints.subarray(0, nk);
    const first = ints.subarray(nk, nk + E + 1).fill(0);
    const order = ints.subarray(nk + E + 1, 2 * nk + E + 1);
    const pickWeights = this.scratch.get("route_weights", nk);
    const weights = this.scratch.get("route_weights_by_expert", nk);
    for (let t = 0; t < n; t++) {
      const r = t * E;
      for (let j = 0; j < k; j++) {
        let best = -1;
        for (let e = 0; e < E; e++) {
          let taken = false;
          for (let i = 0; i < j; i++) taken ||= picks[t * k + i] === e;
          if (taken) continue;
          if (best < 0 || logits[r + e] > logits[r + best]) best = e;
        }
        picks[t * k + j] = best;
        pickWeights[t * k + j] = this.ops.sigmoid(logits[r + best]); // an f32 value: stored exactly
        first[best + 1]++;
      }
    }
    for (let e = 0; e < E; e++) first[e + 1] += first[e];
    for (let slot = 0; slot < nk; slot++) {
      const e = picks[slot];
      const at = first[e]++; // first[e] ends at expert e's end = expert e + 1's start
      order[at] = (slot / k) | 0;
      weights[at] = pickWeights[slot];
    }
    this.mlp(names.gateShexp, names.upShexp, names.downShexp, xn, n, out);
    const acc = this.scratch.get("moe_acc", n * d).fill(0);
    for (let e = 0; e < E; e++) {
      const s0 = e === 0 ? 0 : first[e - 1];
      const m = first[e] - s0;
      if (m === 0) continue;
      const xin = this.scratch.get("expert_in", m * d); // [m, d] router-scaled inputs
      for (let i = 0; i < m; i++) {
        const src = order[s0 + i] * d;
        const w = weights[s0 + i];
        for (let c = 0; c < d; c++) xin[i * d + c] = f(xn[src + c] * w);
      }
      const ye = this.scratch.get("expert_out", m * d);
      this.expertMlp(names, e, xin, m, ye, order, weights, s0);
      for (let i = 0; i < m; i++) {
        const dst = order[s0 + i] * d;
        for (let c = 0; c < d; c++) acc[dst + c] = f(acc[dst + c] + ye[i * d + c]);
      }
    }
    for (let i = 0; i < n * d; i++) out[i] = f(out[i] + acc[i]);
  }

  /** A reused Int32Array of at least `n` values (the router's bookkeeping). */
  private intScratch(n: number): Int32Array {
    if (this.ints.length < n) this.ints = new Int32Array(Math.max(n, 2 * this.ints.length));
    return this.ints;
  }
  private ints = new Int32Array(0);

  /** Expert `e`'s MLP over its `m` rows; its tokens and router weights are order / weights [s0, s0 + m) (for taps). */
  private expertMlp(names: LayerNames, e: number, xin: Float32Array, m: number, out: Float32Array, order: Int32Array, weights: Float32Array, s0: number): void {
    const gateName = names.gateExps;
    const upName = names.upExps;
    const downName = names.downExps;
    const gw = this.store.matrix(gateName, e);
    const ff = gw.rows;
    const g = this.scratch.get("expert_gate", m * ff);
    const u = this.scratch.get("expert_up", m * ff);
    const tap = this.tap;
    const tokenIndex = tap ? order.slice(s0, s0 + m) : undefined;
    const routerWeight = tap ? weights.slice(s0, s0 + m) : undefined;
    if (tap) {
      tap({ tensor: gateName, expert: e, rows: xin, nRows: m, nCols: gw.cols, tokenIndex, routerWeight });
      tap({ tensor: upName, expert: e, rows: xin, nRows: m, nCols: gw.cols, tokenIndex, routerWeight });
    }
    const uw: WeightMatrix = this.store.matrix(upName, e);
    const dw: WeightMatrix = this.store.matrix(downName, e);
    this.ops.expertMatmul(gw, this.matmulInput(gw, xin, m), m, g);
    this.ops.expertMatmul(uw, this.matmulInput(uw, xin, m), m, u);
    this.ops.swiglu(g, u, m * ff);
    if (tap) tap({ tensor: downName, expert: e, rows: g, nRows: m, nCols: ff, tokenIndex, routerWeight });
    this.ops.expertMatmul(dw, this.matmulInput(dw, g, m), m, out);
  }
}
