/**
 * Per-tensor target types for a llama_ftype, ported from llama.cpp src/llama-quant.cpp
 * (tensor_allows_quantization, llama_tensor_get_type, llama_tensor_get_type_impl, tensor_type_fallback,
 * tensor_requires_imatrix) for the file types moeq supports. Tensors must be visited in llama-quantize's order (see
 * `llamaQuantizeOrder`), because the attn_v bump depends on a running counter.
 */
import { GGMLType, GGML_TYPE_INFO } from "@moeq/formats";
import { LlamaFType, ftypeDefaultType, isQuantizedType } from "./ftype.js";

export interface QuantizeTypeOptions {
  readonly ftype: LlamaFType;
  /** --output-tensor-type */
  readonly outputTensorType?: GGMLType;
  /** --token-embedding-type */
  readonly tokenEmbeddingType?: GGMLType;
  /** --pure: every quantizable tensor at the default type. */
  readonly pure?: boolean;
  /** --tensor-type PATTERN=TYPE, first match wins (std::regex_search semantics). */
  readonly tensorTypes?: readonly { readonly pattern: RegExp; readonly type: GGMLType }[];
  readonly hasImatrix?: boolean;
  /** false = --leave-output-tensor */
  readonly quantizeOutputTensor?: boolean;
}

export interface ModelFacts {
  /** block_count */
  readonly nLayer: number;
  /** expert_count (0 for dense) */
  readonly nExpert: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly arch: string;
}

export interface TensorDesc {
  readonly name: string;
  readonly ne: readonly number[];
  readonly type: GGMLType;
}

type Category =
  | "TOKEN_EMBD"
  | "ATTENTION_Q"
  | "ATTENTION_V"
  | "ATTENTION_K"
  | "ATTENTION_QKV"
  | "ATTENTION_KV_B"
  | "ATTENTION_OUTPUT"
  | "FFN_UP"
  | "FFN_GATE"
  | "FFN_DOWN"
  | "OUTPUT"
  | "OTHER";

function category(name: string): Category {
  if (name === "output.weight") return "OUTPUT";
  if (name === "token_embd.weight" || name === "per_layer_token_embd.weight") return "TOKEN_EMBD";
  if (name.includes("attn_qkv.weight")) return "ATTENTION_QKV";
  if (name.includes("attn_kv_b.weight")) return "ATTENTION_KV_B";
  if (name.includes("attn_v.weight")) return "ATTENTION_V";
  if (name.includes("attn_k.weight")) return "ATTENTION_K";
  if (name.includes("attn_q.weight")) return "ATTENTION_Q";
  if (name.includes("attn_output.weight")) return "ATTENTION_OUTPUT";
  if (name.includes("ffn_up")) return "FFN_UP";
  if (name.includes("ffn_gate")) return "FFN_GATE";
  if (name.includes("ffn_down")) return "FFN_DOWN";
  return "OTHER";
}

const isAttnV = (c: Category): boolean => c === "ATTENTION_V" || c === "ATTENTION_QKV" || c === "ATTENTION_KV_B";

/** ggml_n_dims: trailing 1-sized dims do not count. */
export function nDims(ne: readonly number[]): number {
  let n = ne.length;
  while (n > 1 && ne[n - 1] === 1) n--;
  return n;
}

const NO_QUANT_SUBSTRINGS = [
  "_norm.weight",
  "ffn_gate_inp.weight",
  "ffn_gate_tid2eid.weight",
  "altup",
  "laurel",
  "per_layer_model_proj",
  "ssm_conv1d",
  "shortconv.conv.weight",
  "indexer.k_proj.weight",
  "indexer.q_proj.weight",
  "time_mix_first.weight",
  "time_mix_w0.weight",
  "time_mix_w1.weight",
  "time_mix_w2.weight",
  "time_mix_v0.weight",
  "time_mix_v1.weight",
  "time_mix_v2.weight",
  "time_mix_a0.weight",
  "time_mix_a1.weight",
  "time_mix_a2.weight",
  "time_mix_g1.weight",
  "time_mix_g2.weight",
  "time_mix_decay_w1.weight",
  "time_mix_decay_w2.weight",
  "time_mix_lerp_fused.weight",
  "attn_rel_b.weight",
  ".position_embd",
  "sam.pos_embd",
  "sam.neck.",
  "sam.net_",
  ".rel_pos",
  ".patch_embd",
  ".patch_merger",
  "a.rvq.codebook",
  "mm.a.code_embd",
];

/** tensor_allows_quantization: ≥2-D, ends in "weight", not a norm/router/positional table. */
export function tensorAllowsQuantization(t: TensorDesc, quantizeOutputTensor = true): boolean {
  if (nDims(t.ne) < 2) return false;
  const name = t.name;
  if (!name.endsWith("weight")) return false;
  if (!quantizeOutputTensor && name === "output.weight") return false;
  if (name === "position_embd.weight" || name === "token_types.weight") return false;
  return !NO_QUANT_SUBSTRINGS.some((s) => name.includes(s));
}

const useMoreBits = (i: number, n: number): boolean => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

/** Resolves every tensor's target type, in the order given (llama-quantize's order). */
export function chooseTensorTypes(tensors: readonly TensorDesc[], model: ModelFacts, opts: QuantizeTypeOptions): GGMLType[] {
  const ftype = opts.ftype;
  const defaultType = ftypeDefaultType(ftype);
  const quantizeOutput = opts.quantizeOutputTensor ?? true;
  const cats = tensors.map((t) => category(t.name));
  const nAttnV = cats.filter(isAttnV).length;
  const hasTied = !cats.includes("OUTPUT");
  const nGqa = model.nHeadKv > 0 ? Math.trunc(model.nHead / model.nHeadKv) : 0;
  const nExpert = Math.max(1, model.nExpert);
  let iAttnV = 0;
  let iFfnDown = 0;
  let iFfnGate = 0;
  let iFfnUp = 0;

  const layerOf = (counter: number, name: string): number => {
    if (nExpert > 1) {
      const m = /^blk\.(\d+)\./.exec(name);
      if (!m) throw new Error(`Failed to determine layer for tensor ${name}`);
      const l = Number(m[1]);
      if (l < 0 || l >= model.nLayer) throw new Error(`Bad layer ${l} for tensor ${name}. Must be in [0, ${model.nLayer})`);
      return l;
    }
    return counter;
  };

  const F = LlamaFType;
  const is = (...fs: LlamaFType[]): boolean => fs.includes(ftype);
  /** The very-low-bit file types whose mixture is its own branch of llama_tensor_get_type_impl. */
  const lowBitMix = is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M, F.MOSTLY_IQ1_M);
  const iq2sOrM = is(F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M);

  // llama_tensor_get_type_impl, branch for branch
  const impl = (t: TensorDesc, cat: Category, start: GGMLType): GGMLType => {
    let nt = start;
    const nLayer = model.nLayer;
    const falcon = model.arch === "falcon";
    if (cat === "OUTPUT" || (hasTied && cat === "TOKEN_EMBD")) {
      if (opts.outputTensorType !== undefined) return opts.outputTensorType;
      const qk = GGML_TYPE_INFO[nt].blockSize;
      if (ftype === F.MOSTLY_MXFP4_MOE) nt = GGMLType.Q8_0;
      else if (falcon || t.ne[0] % qk !== 0) nt = GGMLType.Q8_0;
      else if (is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ3_XXS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ2_S, F.MOSTLY_IQ2_M, F.MOSTLY_IQ1_M)) nt = GGMLType.Q5_K;
      else if (nt !== GGMLType.Q8_0) nt = GGMLType.Q6_K;
      return nt;
    }
    if (ftype === F.MOSTLY_MXFP4_MOE) {
      // routed-expert tensors (3-D with more than one expert) → MXFP4, everything else → Q8_0
      return (t.ne[2] ?? 1) > 1 ? GGMLType.MXFP4 : GGMLType.Q8_0;
    }
    if (cat === "TOKEN_EMBD") {
      if (opts.tokenEmbeddingType !== undefined) return opts.tokenEmbeddingType;
      if (is(F.MOSTLY_IQ2_XXS, F.MOSTLY_IQ2_XS, F.MOSTLY_IQ1_S, F.MOSTLY_IQ1_M)) nt = GGMLType.Q2_K;
      else if (iq2sOrM || ftype === F.MOSTLY_IQ3_XXS) nt = GGMLType.IQ3_S;
      else if (is(F.MOSTLY_TQ1_0, F.MOSTLY_TQ2_0)) nt = GGMLType.Q4_K;
      return nt;
    }
    if (lowBitMix) {
      if (isAttnV(cat)) {
        if (nGqa >= 4 || model.nExpert >= 4) nt = GGMLType.Q4_K;
        else nt = iq2sOrM ? GGMLType.IQ3_S : GGMLType.Q2_K;
        iAttnV++;
      } else if (model.nExpert === 8 && cat === "ATTENTION_K") {
        nt = GGMLType.Q4_K;
      } else if (cat === "FFN_DOWN") {
        // a tensor counter against n_layer/8 here, not the layer number
        if (iFfnDown < Math.trunc(nLayer / 8)) nt = iq2sOrM ? GGMLType.IQ3_S : GGMLType.Q2_K;
        iFfnDown++;
      } else if (cat === "ATTENTION_OUTPUT") {
        if (model.nExpert === 8) nt = GGMLType.Q5_K;
        else if (is(F.MOSTLY_IQ1_S, F.MOSTLY_IQ1_M)) nt = GGMLType.IQ2_XXS;
        else if (iq2sOrM) nt = GGMLType.IQ3_S;
      }
      return nt;
    }
    if (isAttnV(cat)) {
      if (ftype === F.MOSTLY_Q2_K) nt = nGqa >= 4 ? GGMLType.Q4_K : GGMLType.Q3_K;
      else if (ftype === F.MOSTLY_Q2_K_S && nGqa >= 4) nt = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_IQ3_XXS) nt = nGqa >= 4 ? GGMLType.Q4_K : !opts.hasImatrix ? GGMLType.IQ3_S : GGMLType.IQ3_XXS;
      else if (is(F.MOSTLY_IQ3_XS, F.MOSTLY_IQ3_S) && nGqa >= 4) nt = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_IQ3_M) nt = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_M) nt = iAttnV < 2 ? GGMLType.Q5_K : GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q3_K_L) nt = GGMLType.Q5_K;
      else if (is(F.MOSTLY_IQ4_NL, F.MOSTLY_IQ4_XS) && nGqa >= 4) nt = GGMLType.Q5_K;
      else if (is(F.MOSTLY_Q4_K_M, F.MOSTLY_Q5_K_M) && useMoreBits(iAttnV, nAttnV)) nt = GGMLType.Q6_K;
      else if (ftype === F.MOSTLY_Q4_K_S && iAttnV < 4) nt = GGMLType.Q5_K;
      // LLM_TYPE_70B only exists for arch llama with 80 layers; never llama4
      if (model.nExpert === 8) nt = GGMLType.Q8_0;
      iAttnV++;
      return nt;
    }
    if (cat === "ATTENTION_K") {
      if (model.nExpert === 8) nt = GGMLType.Q8_0;
      else if (ftype === F.MOSTLY_IQ3_XS) nt = GGMLType.IQ3_XXS;
      else if (ftype === F.MOSTLY_IQ3_XXS) nt = GGMLType.IQ2_S;
      return nt;
    }
    if (cat === "ATTENTION_Q") {
      if (ftype === F.MOSTLY_IQ3_XS) nt = GGMLType.IQ3_XXS;
      else if (ftype === F.MOSTLY_IQ3_XXS) nt = GGMLType.IQ2_S;
      return nt;
    }
    if (cat === "FFN_DOWN") {
      const il = layerOf(iFfnDown, t.name);
      if (ftype === F.MOSTLY_Q2_K) nt = GGMLType.Q3_K;
      else if (ftype === F.MOSTLY_Q2_K_S) {
        if (il < Math.trunc(nLayer / 8)) nt = GGMLType.Q4_K;
      } else if (ftype === F.MOSTLY_IQ3_XXS && !opts.hasImatrix) {
        nt = il < Math.trunc(nLayer / 8) ? GGMLType.Q4_K : GGMLType.Q3_K;
      } else if (ftype === F.MOSTLY_Q3_K_M) {
        nt = il < Math.trunc(nLayer / 16) ? GGMLType.Q5_K : !falcon || useMoreBits(il, nLayer) ? GGMLType.Q4_K : GGMLType.Q3_K;
      } else if (ftype === F.MOSTLY_IQ3_M && (il < Math.trunc(nLayer / 8) || (model.nExpert === 8 && useMoreBits(il, nLayer)))) {
        nt = GGMLType.Q4_K;
      } else if (ftype === F.MOSTLY_Q3_K_L) nt = falcon ? GGMLType.Q4_K : GGMLType.Q5_K;
      else if (ftype === F.MOSTLY_Q4_K_M) {
        if (falcon) nt = il < Math.trunc(nLayer / 16) ? GGMLType.Q6_K : useMoreBits(il, nLayer) ? GGMLType.Q5_K : GGMLType.Q4_K;
        else if (useMoreBits(il, nLayer)) nt = GGMLType.Q6_K;
      } else if (il < Math.trunc(nLayer / 8) && is(F.MOSTLY_IQ4_NL, F.MOSTLY_IQ4_XS) && !opts.hasImatrix) {
        nt = GGMLType.Q5_K;
      } else if (ftype === F.MOSTLY_Q5_K_M && useMoreBits(il, nLayer)) nt = GGMLType.Q6_K;
      else if (ftype === F.MOSTLY_Q4_K_S && !falcon && il < Math.trunc(nLayer / 8)) nt = GGMLType.Q5_K;
      else if (is(F.MOSTLY_Q4_0, F.MOSTLY_Q5_0) && opts.hasImatrix && il < Math.trunc(nLayer / 8)) {
        // guards the first ffn_down layers, only with an imatrix (matches llama-quant.cpp)
        nt = ftype === F.MOSTLY_Q4_0 ? GGMLType.Q4_1 : GGMLType.Q5_1;
      }
      iFfnDown++;
      return nt;
    }
    if (cat === "ATTENTION_OUTPUT") {
      if (!falcon) {
        if (model.nExpert === 8) {
          const bumped = [
            F.MOSTLY_Q2_K,
            F.MOSTLY_IQ3_XS,
            F.MOSTLY_IQ3_XXS,
            F.MOSTLY_Q3_K_S,
            F.MOSTLY_Q3_K_M,
            F.MOSTLY_IQ4_NL,
            F.MOSTLY_Q4_K_S,
            F.MOSTLY_Q4_K_M,
            F.MOSTLY_IQ3_S,
            F.MOSTLY_IQ3_M,
            F.MOSTLY_IQ4_XS,
          ];
          if (bumped.includes(ftype)) nt = GGMLType.Q5_K;
        } else if (ftype === F.MOSTLY_Q2_K) nt = GGMLType.Q3_K;
        else if (ftype === F.MOSTLY_IQ3_XXS) nt = GGMLType.IQ3_S;
        else if (ftype === F.MOSTLY_Q3_K_M) nt = GGMLType.Q4_K;
        else if (ftype === F.MOSTLY_Q3_K_L) nt = GGMLType.Q5_K;
        else if (ftype === F.MOSTLY_IQ3_M) nt = GGMLType.Q4_K;
      } else if (ftype === F.MOSTLY_Q3_K_L) nt = GGMLType.Q4_K;
      return nt;
    }
    if (cat === "ATTENTION_QKV") {
      if (is(F.MOSTLY_Q3_K_M, F.MOSTLY_Q3_K_L, F.MOSTLY_IQ3_M)) nt = GGMLType.Q4_K;
      else if (ftype === F.MOSTLY_Q4_K_M) nt = GGMLType.Q5_K;
      else if (ftype === F.MOSTLY_Q5_K_M) nt = GGMLType.Q6_K;
      return nt;
    }
    if (cat === "FFN_GATE" || cat === "FFN_UP") {
      const il = layerOf(cat === "FFN_GATE" ? iFfnGate : iFfnUp, t.name);
      if (ftype === F.MOSTLY_IQ3_XS && il >= Math.trunc(nLayer / 8) && il < Math.trunc((7 * nLayer) / 8)) nt = GGMLType.IQ3_XXS;
      if (cat === "FFN_GATE") iFfnGate++;
      else iFfnUp++;
      return nt;
    }
    return nt;
  };

  const fallback = (t: TensorDesc, target: GGMLType): GGMLType => {
    const ncols = t.ne[0];
    const qk = GGML_TYPE_INFO[target].blockSize;
    if (ncols % qk === 0) return target;
    let r: GGMLType;
    // prettier-ignore
    switch (target) {
      case GGMLType.Q2_K: case GGMLType.Q3_K: case GGMLType.TQ1_0: case GGMLType.TQ2_0: case GGMLType.Q2_0: r = GGMLType.Q4_0; break;
      case GGMLType.Q4_K: r = GGMLType.Q5_0; break;
      case GGMLType.Q5_K: r = GGMLType.Q5_1; break;
      case GGMLType.Q6_K: r = GGMLType.Q8_0; break;
      case GGMLType.IQ1_S: case GGMLType.IQ1_M: case GGMLType.IQ2_XXS: case GGMLType.IQ2_XS: case GGMLType.IQ2_S:
      case GGMLType.IQ3_XXS: case GGMLType.IQ3_S: case GGMLType.IQ4_XS: r = GGMLType.IQ4_NL; break;
      default:
        if (qk <= 32) { r = target; break; }
        throw new Error(`no tensor type fallback is defined for type ${GGML_TYPE_INFO[target].name}`);
    }
    if (ncols % GGML_TYPE_INFO[r].blockSize !== 0) r = GGMLType.F16;
    return r;
  };

  return tensors.map((t, i) => {
    const cat = cats[i];
    if (!tensorAllowsQuantization(t, quantizeOutput)) return t.type;
    if (opts.tokenEmbeddingType !== undefined && cat === "TOKEN_EMBD") {
      // per_layer_token_embd may be named by --tensor-type; token_embd follows --token-embedding-type
      const named = t.name === "per_layer_token_embd.weight" && (opts.tensorTypes ?? []).some((p) => p.pattern.test(t.name));
      if (!named) return opts.tokenEmbeddingType;
    }
    if (opts.outputTensorType !== undefined && cat === "OUTPUT") return opts.outputTensorType;
    let nt = defaultType;
    if (isQuantizedType(defaultType)) {
      let manual = false;
      for (const p of opts.tensorTypes ?? []) {
        if (p.pattern.test(t.name)) {
          nt = p.type;
          manual = true;
          break;
        }
      }
      if (!manual && !opts.pure) nt = impl(t, cat, nt);
      nt = fallback(t, nt);
    }
    return nt;
  });
}

/** llama-quantize's tensor order (llama_model_loader weights_map): layer number (non-block = -1) first, then strcmp of the name. */
export function llamaQuantizeOrder<T extends { readonly name: string }>(tensors: readonly T[]): T[] {
  const layer = (n: string): number => {
    const m = /^blk\.(\d+)\./.exec(n);
    return m ? Number(m[1]) : -1;
  };
  const cmp = (a: string, b: string): number => {
    const ba = Buffer.from(a);
    const bb = Buffer.from(b);
    return Buffer.compare(ba, bb);
  };
  return [...tensors].sort((a, b) => layer(a.name) - layer(b.name) || cmp(a.name, b.name));
}

/**
 * tensor_requires_imatrix: the very-low-bit targets (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS) and Q2_K in a
 * Q2_K_S file, except token_embd / output, which llama-quantize quantizes without one.
 */
export function tensorRequiresImatrix(name: string, target: GGMLType, ftype: LlamaFType): boolean {
  if (name === "token_embd.weight" || name === "per_layer_token_embd.weight" || name === "output.weight") return false;
  // prettier-ignore
  switch (target) {
    case GGMLType.IQ3_XXS:
    case GGMLType.IQ2_XXS:
    case GGMLType.IQ2_XS:
    case GGMLType.IQ2_S:
    case GGMLType.IQ1_M:
    case GGMLType.IQ1_S:
      return true;
    case GGMLType.Q2_K:
      return ftype === LlamaFType.MOSTLY_Q2_K_S;
    default:
      return false;
  }
}
