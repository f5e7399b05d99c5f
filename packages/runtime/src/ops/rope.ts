/**
 * Interleaved-pair RoPE (Meta / GGML "NORM" style): pair i of a head is (x[2i], x[2i+1]), rotated by pos·ω_i.
 * Angles and rotation in f32, as Transformers' `apply_rotary_emb` (view_as_complex on adjacent pairs) does.
 */
import { libmCosf, libmSinf } from "./libm-sincosf.js";

const f = Math.fround;

/** Rotates `nHeads` heads of `headDim` at `x[off..]` for position `pos`. */
export function ropeInPlace(x: Float32Array, off: number, nHeads: number, headDim: number, pos: number, invFreq: Float32Array): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = f(pos * invFreq[i]);
    const c = f(Math.cos(angle));
    const s = f(Math.sin(angle));
    for (let h = 0; h < nHeads; h++) {
      const p = off + h * headDim + 2 * i;
      const a = x[p];
      const b = x[p + 1];
      x[p] = f(a * c) - f(b * s);
      x[p + 1] = f(a * s) + f(b * c);
    }
  }
}

/**
 * ggml's CPU rope (GGML_ROPE_TYPE_NORMAL, no YaRN): θ starts at the position and is multiplied by
 * theta_scale = powf(base, −2/n_dims) in f32 from pair to pair, divided by the pair's `rope_freqs` factor, then
 * glibc's cosf/sinf; the rotation x0·cos − x1·sin, x0·sin + x1·cos is computed as compiled (the products contracted into
 * a fused multiply-add when `fused`).
 */
export interface GgmlRope {
  readonly headDim: number;
  /** powf(base, −2/n_dims) in f32. */
  readonly thetaScale: number;
  /** `rope_freqs.weight` (llama3 scaling), or null. */
  readonly factors: Float32Array | null;
  /** Whether the compiled rotation contracts its products into fused multiply-adds. */
  readonly fused: boolean;
}

/** Cached cos/sin rows per rope and position: every RoPE layer rotates Q and K at the same positions. */
const angleCache = new WeakMap<GgmlRope, Map<number, Float32Array>>();
/** Positions kept per rope before the cache starts over (bounds its memory: 2¹⁶ × head_dim floats at most). */
const MAX_CACHED_POSITIONS = 1 << 16;

/** cos θᵢ then sin θᵢ of `pos` for each pair i, as ggml computes θ (f32 recurrence, factor division, glibc cosf/sinf). */
function ggmlAngles(pos: number, rope: GgmlRope): Float32Array {
  let byPos = angleCache.get(rope);
  if (!byPos) angleCache.set(rope, (byPos = new Map()));
  let cs = byPos.get(pos);
  if (cs) return cs;
  const { headDim, thetaScale, factors } = rope;
  const half = headDim / 2;
  cs = new Float32Array(headDim);
  let theta = f(pos);
  for (let i = 0; i < half; i++) {
    const t = factors ? f(theta / factors[i]) : theta;
    cs[i] = libmCosf(t);
    cs[half + i] = libmSinf(t);
    theta = f(theta * thetaScale);
  }
  if (byPos.size >= MAX_CACHED_POSITIONS) byPos.clear();
  byPos.set(pos, cs);
  return cs;
}

/** Rotates `nHeads` heads of `x` starting at `off`, for position `pos` (one constant `rope` per model). */
export function ropeGgmlInPlace(x: Float32Array, off: number, nHeads: number, pos: number, rope: GgmlRope): void {
  const { headDim, fused } = rope;
  const half = headDim / 2;
  const cs = ggmlAngles(pos, rope);
  for (let i = 0; i < half; i++) {
    const c = cs[i];
    const s = cs[half + i];
    for (let h = 0; h < nHeads; h++) {
      const p = off + h * headDim + 2 * i;
      const a = x[p];
      const b = x[p + 1];
      if (fused) {
        x[p] = f(a * c - f(b * s));
        x[p + 1] = f(a * s + f(b * c));
      } else {
        x[p] = f(a * c) - f(b * s);
        x[p + 1] = f(a * s) + f(b * c);
      }
    }
  }
}
