/**
 * Llama 4 vision tower + adapter + projector (Transformers' Llama4VisionModel, Llama4VisionPixelShuffleMLP,
 * Llama4MultiModalProjector), in f32:
 *   unfold patches → linear → append CLS last → + positional embedding → LayerNorm pre →
 *   encoder layers (pre-LN, MHA with biases and 2-D RoPE, GELU MLP) → LayerNorm post → drop CLS →
 *   pixel shuffle → fc1, GELU, fc2, GELU → projector linear → text-space rows for the <|patch|> positions.
 */
import { InputError, decodeToFloat32, isSafetensorsDType } from "@moeq/formats";
import { f32Matrix } from "../ops/weight-matrix.js";
import type { WeightMatrix } from "../ops/weight-matrix.js";
import { matmul } from "../ops/matmul.js";
import { softmaxInPlace } from "../ops/elementwise.js";
import { decodeImage, expandImageTokens, preprocessImage } from "./image-processor.js";

/** Vision/projector tensors by their HF name, decoded to f32 (from safetensors or an mmproj GGUF). */
export interface VisionTensors {
  /** Where they come from, for error messages. */
  readonly source: string;
  has(hfName: string): boolean;
  /** torch (row-major, outermost first) shape. */
  shape(hfName: string): readonly number[];
  read(hfName: string): Float32Array;
  /** Releases the file behind them, if any. */
  close?(): void;
}

type RawTensors = ReadonlyMap<string, { dtype: string; shape: readonly number[]; read(): Uint8Array }>;

/** VisionTensors over the non-text tensors of an HF safetensors checkpoint. */
export function safetensorsVisionTensors(raw: RawTensors, source: string): VisionTensors {
  const need = (name: string) => {
    const e = raw.get(name);
    if (!e) throw new InputError("MISSING_TENSOR", `vision tensor ${name} is missing`, { file: source });
    return e;
  };
  return {
    source,
    has: (name) => raw.has(name),
    shape: (name) => need(name).shape,
    read: (name) => {
      const e = need(name);
      if (!isSafetensorsDType(e.dtype)) throw new InputError("SAFETENSORS_DTYPE", `${name} has dtype ${e.dtype}`, { file: source });
      return decodeToFloat32(e.read(), e.dtype);
    },
  };
}

export interface VisionConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly pixelShuffleRatio: number;
  readonly normEps: number;
  readonly ropeTheta: number;
  readonly maxPatches: number;
}

const f = Math.fround;

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit). */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

function geluInPlace(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2));
}

function layerNorm(x: Float32Array, n: number, d: number, w: Float32Array, b: Float32Array, eps: number, out: Float32Array): void {
  for (let t = 0; t < n; t++) {
    const o = t * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[o + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[o + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) out[o + i] = (x[o + i] - mean) * inv * w[i] + b[i];
  }
}

function addBias(x: Float32Array, n: number, bias: Float32Array): void {
  const d = bias.length;
  for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) x[t * d + i] += bias[i];
}

export class VisionEncoder {
  private readonly cache = new Map<string, Float32Array>();
  /** Complex RoPE angles per token (patches then CLS) and rotated pair. */
  private readonly angles: Float32Array;
  readonly tokensPerTile: number;

  constructor(
    readonly config: VisionConfig,
    private readonly tensors: VisionTensors,
    private readonly projector: WeightMatrix,
  ) {
    const side = config.imageSize / config.patchSize;
    this.tokensPerTile = (side * side) / Math.round(1 / config.pixelShuffleRatio ** 2);
    // Llama4VisionRotaryEmbedding: pairs [0, P/2) rotate by (x+1)·ω_k, pairs [P/2, P) by (y+1)·ω_k; CLS angle 0.
    const headDim = config.hiddenSize / config.numHeads;
    const pairs = headDim / 2;
    const freqDim = pairs; // hidden / heads / 2
    const half = pairs / 2;
    const omega = new Float32Array(half);
    for (let k = 0; k < half; k++) omega[k] = f(1 / f(Math.pow(config.ropeTheta, f(f(2 * k) / freqDim))));
    const n = side * side + 1;
    this.angles = new Float32Array(n * pairs);
    for (let p = 0; p < side * side; p++) {
      const x = p % side;
      const y = Math.floor(p / side);
      for (let k = 0; k < half; k++) {
        this.angles[p * pairs + k] = f((x + 1) * omega[k]);
        this.angles[p * pairs + half + k] = f((y + 1) * omega[k]);
      }
    }
  }

  private t(name: string): Float32Array {
    let v = this.cache.get(name);
    if (!v) {
      v = this.tensors.read(name);
      this.cache.set(name, v);
    }
    return v;
  }

  private linear(name: string, x: Float32Array, n: number, outDim: number, inDim: number, bias: boolean): Float32Array {
    const out = new Float32Array(n * outDim);
    matmul(f32Matrix(this.t(`${name}.weight`), outDim, inDim), x, n, out);
    if (bias) addBias(out, n, this.t(`${name}.bias`));
    return out;
  }

  /** Prompt text with every `<|image|>` expanded for this image's tiling. */
  expandPrompt(text: string, image: Uint8Array): string {
    const p = preprocessImage(decodeImage(image), this.config.imageSize, this.config.maxPatches);
    return expandImageTokens(text, [p.aspect], this.tokensPerTile);
  }

  /** Text-space features [tiles·tokensPerTile × textHidden] for an image's PNG/JPEG bytes. */
  encode(image: Uint8Array): Float32Array {
    const p = preprocessImage(decodeImage(image), this.config.imageSize, this.config.maxPatches);
    const per = 3 * this.config.imageSize ** 2;
    const rows: Float32Array[] = [];
    for (let i = 0; i < p.tiles; i++) rows.push(this.encodeTile(p.pixels.subarray(i * per, (i + 1) * per)));
    const d = this.projector.rows;
    const out = new Float32Array(rows.length * this.tokensPerTile * d);
    rows.forEach((r, i) => out.set(r, i * r.length));
    return out;
  }

  private encodeTile(pixels: Float32Array): Float32Array {
    const c = this.config;
    const P = c.patchSize;
    const side = c.imageSize / P;
    const nP = side * side;
    const n = nP + 1;
    const d = c.hiddenSize;
    const kDim = 3 * P * P;
    // Unfold: feature index = channel·P² + ky·P + kx, patches row-major.
    const patches = new Float32Array(nP * kDim);
    for (let py = 0; py < side; py++) {
      for (let px = 0; px < side; px++) {
        const o = (py * side + px) * kDim;
        for (let ch = 0; ch < 3; ch++) {
          for (let ky = 0; ky < P; ky++) {
            for (let kx = 0; kx < P; kx++) {
              patches[o + ch * P * P + ky * P + kx] = pixels[(ch * c.imageSize + py * P + ky) * c.imageSize + px * P + kx];
            }
          }
        }
      }
    }
    let x: Float32Array<ArrayBufferLike> = new Float32Array(n * d);
    matmul(f32Matrix(this.t("vision_model.patch_embedding.linear.weight"), d, kDim), patches, nP, x);
    x.set(this.t("vision_model.class_embedding"), nP * d);
    const pos = this.t("vision_model.positional_embedding_vlm");
    for (let i = 0; i < n * d; i++) x[i] = f(x[i] + pos[i]);
    const tmp = new Float32Array(n * d);
    layerNorm(x, n, d, this.t("vision_model.layernorm_pre.weight"), this.t("vision_model.layernorm_pre.bias"), c.normEps, tmp);
    x = tmp.slice();
    for (let l = 0; l < c.numLayers; l++) x = this.encoderLayer(l, x, n);
    layerNorm(x, n, d, this.t("vision_model.layernorm_post.weight"), this.t("vision_model.layernorm_post.bias"), c.normEps, tmp);
    const feats = this.pixelShuffle(tmp.subarray(0, nP * d), side, d);
    const r = c.pixelShuffleRatio;
    const nOut = nP * r * r;
    const inDim = d / (r * r);
    const projIn = this.t("vision_model.vision_adapter.mlp.fc1.weight").length / inDim;
    const h1 = this.linear("vision_model.vision_adapter.mlp.fc1", feats, nOut, projIn, inDim, false);
    geluInPlace(h1);
    const h2 = this.linear("vision_model.vision_adapter.mlp.fc2", h1, nOut, projIn, projIn, false);
    geluInPlace(h2);
    const out = new Float32Array(nOut * this.projector.rows);
    matmul(this.projector, h2, nOut, out);
    return out;
  }

  private encoderLayer(l: number, x: Float32Array, n: number): Float32Array<ArrayBufferLike> {
    const c = this.config;
    const d = c.hiddenSize;
    const pre = `vision_model.model.layers.${l}`;
    const xn = new Float32Array(n * d);
    layerNorm(x, n, d, this.t(`${pre}.input_layernorm.weight`), this.t(`${pre}.input_layernorm.bias`), c.normEps, xn);
    const q = this.linear(`${pre}.self_attn.q_proj`, xn, n, d, d, true);
    const k = this.linear(`${pre}.self_attn.k_proj`, xn, n, d, d, true);
    const v = this.linear(`${pre}.self_attn.v_proj`, xn, n, d, d, true);
    const nh = c.numHeads;
    const hd = d / nh;
    const pairs = hd / 2;
    for (const m of [q, k]) {
      for (let t = 0; t < n - 1; t++) {
        for (let i = 0; i < pairs; i++) {
          const a = this.angles[t * pairs + i];
          const cs = f(Math.cos(a));
          const sn = f(Math.sin(a));
          for (let h = 0; h < nh; h++) {
            const p = t * d + h * hd + 2 * i;
            const re = m[p];
            const im = m[p + 1];
            m[p] = f(re * cs) - f(im * sn);
            m[p + 1] = f(re * sn) + f(im * cs);
          }
        }
      }
    }
    const att = new Float32Array(n * d);
    const scores = new Float64Array(n);
    const scale = 1 / Math.sqrt(hd);
    for (let h = 0; h < nh; h++) {
      for (let t = 0; t < n; t++) {
        const qo = t * d + h * hd;
        for (let j = 0; j < n; j++) {
          const ko = j * d + h * hd;
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[qo + i] * k[ko + i];
          scores[j] = s * scale;
        }
        softmaxInPlace(scores, n);
        for (let i = 0; i < hd; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += scores[j] * v[j * d + h * hd + i];
          att[qo + i] = s;
        }
      }
    }
    const o = this.linear(`${pre}.self_attn.o_proj`, att, n, d, d, true);
    const h1 = new Float32Array(n * d);
    for (let i = 0; i < n * d; i++) h1[i] = f(x[i] + o[i]);
    layerNorm(h1, n, d, this.t(`${pre}.post_attention_layernorm.weight`), this.t(`${pre}.post_attention_layernorm.bias`), c.normEps, xn);
    const m1 = this.linear(`${pre}.mlp.fc1`, xn, n, c.intermediateSize, d, true);
    geluInPlace(m1);
    const m2 = this.linear(`${pre}.mlp.fc2`, m1, n, d, c.intermediateSize, true);
    for (let i = 0; i < n * d; i++) h1[i] = f(h1[i] + m2[i]);
    return h1;
  }

  /** pixel_shuffle: the reference's view/permute steps on [side, side, C] with ratio r. */
  private pixelShuffle(x: Float32Array, side: number, ch: number): Float32Array {
    const r = this.config.pixelShuffleRatio;
    // view [h, w·r, c/r] → permute(1,0,2) → [w·r, h, c/r]
    const a = side;
    const b = side * r;
    const cc = ch / r;
    const s1 = new Float32Array(x.length);
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) s1.set(x.subarray((i * b + j) * cc, (i * b + j + 1) * cc), (j * a + i) * cc);
    // view [h·r, w·r, c/r²] → permute(1,0,2)
    const a2 = side * r;
    const b2 = side * r;
    const c2 = ch / (r * r);
    const s2 = new Float32Array(x.length);
    for (let i = 0; i < a2; i++) for (let j = 0; j < b2; j++) s2.set(s1.subarray((i * b2 + j) * c2, (i * b2 + j + 1) * c2), (j * a2 + i) * c2);
    return s2;
  }

  close(): void {
    this.cache.clear();
    this.tensors.close?.();
  }
}

/**
 * Builds the encoder from an HF config.json when the checkpoint has a vision tower; null for text-only checkpoints.
 * `preprocessor` is the parsed preprocessor_config.json when there is one (max_patches, tile size).
 */
export function loadVisionEncoder(
  configJson: Record<string, unknown>,
  configPath: string,
  tensors: VisionTensors,
  preprocessor: Record<string, unknown> | null,
): VisionEncoder | null {
  const vc = configJson.vision_config as Record<string, number> | undefined;
  if (!vc || !tensors.has("vision_model.patch_embedding.linear.weight")) return null;
  const maxPatches = typeof preprocessor?.max_patches === "number" ? preprocessor.max_patches : 16;
  const size = preprocessor?.size as { height?: number; width?: number } | undefined;
  if (size?.height !== undefined && (size.height !== vc.image_size || size.width !== vc.image_size)) {
    throw new InputError("CONFIG_MISMATCH", `preprocessor size ${size.height}×${size.width} differs from vision image_size ${vc.image_size}`, {
      file: configPath,
    });
  }
  const cfg: VisionConfig = Object.freeze({
    hiddenSize: vc.hidden_size,
    intermediateSize: vc.intermediate_size,
    numLayers: vc.num_hidden_layers,
    numHeads: vc.num_attention_heads,
    imageSize: vc.image_size,
    patchSize: vc.patch_size,
    pixelShuffleRatio: vc.pixel_shuffle_ratio,
    normEps: vc.norm_eps ?? 1e-5,
    ropeTheta: vc.rope_theta ?? 10000,
    maxPatches,
  });
  return new VisionEncoder(cfg, tensors, projectorOf(tensors));
}

function projectorOf(tensors: VisionTensors): WeightMatrix {
  const name = "multi_modal_projector.linear_1.weight";
  if (!tensors.has(name)) throw new InputError("MISSING_TENSOR", `${name} is missing`, { file: tensors.source });
  const [rows, cols] = tensors.shape(name);
  return f32Matrix(tensors.read(name), rows, cols);
}

/**
 * Builds the encoder from an mmproj GGUF's `clip.*` keys (projector_type llama4). The vision RoPE base is not stored
 * there; Llama 4 uses 10000.
 */
export function loadVisionEncoderFromMmproj(get: (key: string) => unknown, tensors: VisionTensors): VisionEncoder {
  const file = tensors.source;
  const num = (key: string, fallback?: number): number => {
    const v = get(key);
    if (typeof v === "number") return v;
    if (fallback !== undefined) return fallback;
    throw new InputError("GGUF_MISSING_KEY", `mmproj has no "${key}"`, { file });
  };
  if (get("general.architecture") !== "clip" || get("clip.projector_type") !== "llama4") {
    throw new InputError(
      "MMPROJ_UNSUPPORTED",
      `not a Llama 4 mmproj (architecture ${String(get("general.architecture"))}, projector ${String(get("clip.projector_type"))})`,
      { file },
    );
  }
  const cfg: VisionConfig = Object.freeze({
    hiddenSize: num("clip.vision.embedding_length"),
    intermediateSize: num("clip.vision.feed_forward_length"),
    numLayers: num("clip.vision.block_count"),
    numHeads: num("clip.vision.attention.head_count"),
    imageSize: num("clip.vision.image_size"),
    patchSize: num("clip.vision.patch_size"),
    pixelShuffleRatio: 1 / num("clip.vision.projector.scale_factor"),
    normEps: num("clip.vision.attention.layer_norm_epsilon", 1e-5),
    ropeTheta: 10000,
    maxPatches: 16,
  });
  return new VisionEncoder(cfg, tensors, projectorOf(tensors));
}
