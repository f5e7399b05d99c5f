/**
 * One interface over GGUF and (sharded) safetensors weights, presenting GGUF tensor names and ggml layouts.
 * Tensors (and single experts of 3-D expert tensors) are read positionally when first used and kept in a
 * byte-budgeted LRU; quantized data stays quantized.
 */
import { InputError, ggmlRowBytes } from "@moeq/formats";
import type { GGMLType } from "@moeq/formats";
import type { Fp8ActivationScheme } from "@moeq/quant";
import { ByteLru } from "./lru.js";
import type { WeightMatrix } from "../ops/weight-matrix.js";
import { makeWeightMatrix } from "../ops/weight-matrix.js";
import { dequantizeRow } from "../ops/dequant-adapter.js";
import { wasmHost } from "../ops/wasm-host.js";

/** Where a tensor's bytes come from. `ne` is in ggml order: [row length, rows, experts?]. */
export interface TensorSource {
  readonly type: GGMLType;
  readonly ne: readonly number[];
  /** Encoded 2-D slice: the whole matrix, or expert `expert` of a 3-D tensor. */
  readSlice(expert: number | undefined): Uint8Array;
  /** Encoded row `row` of a 2-D tensor (embedding lookups). */
  readRow(row: number): Uint8Array;
  /** Optional: the activation quantization (FP8 W8A8) applied in front of the slice's matmul. */
  activations?(expert: number | undefined): Fp8ActivationScheme | undefined;
  /** Optional: reads the slice `readSlice` would return straight into `dst` (its exact length). */
  readSliceInto?(expert: number | undefined, dst: Uint8Array): void;
}

export interface WeightStoreOptions {
  /** Bytes of decoded-or-raw weights kept resident (default 4 GiB). */
  memoryBudgetBytes?: number;
}

export class WeightStore {
  private readonly cache: ByteLru<WeightMatrix>;
  private readonly vectors = new Map<string, Float32Array>();

  constructor(
    /** The file or directory the weights come from (for error messages). */
    readonly source: string,
    private readonly tensors: ReadonlyMap<string, TensorSource>,
    opts: WeightStoreOptions = {},
    private readonly onClose: () => void = () => {},
  ) {
    const host = wasmHost();
    // Matrices live in the kernels' shared memory; a dropped one is freed after the forward pass using it.
    this.cache = new ByteLru(opts.memoryBudgetBytes ?? 4 * 1024 ** 3, (m) => {
      if (host?.holds(m.data)) host.releaseLater(m.data);
    });
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  private need(name: string): TensorSource {
    const t = this.tensors.get(name);
    if (!t) throw new InputError("MISSING_TENSOR", `tensor ${name} is missing`, { file: this.source, details: { tensor: name } });
    return t;
  }

  info(name: string): { type: GGMLType; ne: readonly number[] } {
    const t = this.need(name);
    return { type: t.type, ne: t.ne };
  }

  /** A 2-D weight [ne1 rows × ne0 cols], or expert `expert` of a 3-D expert tensor. */
  matrix(name: string, expert?: number): WeightMatrix {
    const key = expert === undefined ? name : this.expertKey(name, expert);
    return this.cache.get(key, () => {
      const t = this.need(name);
      if (expert !== undefined && (t.ne.length !== 3 || expert < 0 || expert >= t.ne[2])) {
        throw new InputError("BAD_EXPERT", `tensor ${name} (ne ${t.ne.join("×")}) has no expert ${expert}`, { file: this.source });
      }
      if (expert === undefined && t.ne.length > 2 && t.ne.slice(2).some((d) => d !== 1)) {
        throw new InputError("BAD_TENSOR_RANK", `tensor ${name} has ne ${t.ne.join("×")}, expected 2-D`, { file: this.source });
      }
      const m = makeWeightMatrix(t.type, t.ne[0], t.ne[1] ?? 1, readIntoKernelMemory(t, expert));
      const activations = t.activations?.(expert);
      return { value: activations ? { ...m, activations } : m, bytes: m.data.byteLength };
    });
  }

  /** A 1-D tensor (norm gains, rope factors) decoded to f32; cached outside the budget (they are tiny). */
  vector(name: string): Float32Array {
    let v = this.vectors.get(name);
    if (!v) {
      const t = this.need(name);
      const n = t.ne.reduce((a, b) => a * b, 1);
      v = new Float32Array(n);
      dequantizeRow(t.type, t.readSlice(undefined), 0, n, v);
      this.vectors.set(name, v);
    }
    return v;
  }

  /** The LRU key of one expert of `name`, built once (the forward pass asks for experts every token). */
  private expertKey(name: string, expert: number): string {
    if (!Number.isInteger(expert) || expert < 0) return `${name}#${expert}`;
    let keys = this.expertKeys.get(name);
    if (!keys) this.expertKeys.set(name, (keys = []));
    return (keys[expert] ??= `${name}#${expert}`);
  }
  private readonly expertKeys = new Map<string, string[]>();

  /** Decodes rows `ids` of a 2-D tensor (token embeddings) into `out` [ids.length × ne0]. */
  gatherRows(name: string, ids: readonly number[], out: Float32Array): void {
    const t = this.need(name);
    const cols = t.ne[0];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= t.ne[1]) {
        throw new InputError("BAD_TOKEN", `token id ${id} is outside ${name}'s ${t.ne[1]} rows`, { file: this.source });
      }
      dequantizeRow(t.type, t.readRow(id), 0, cols, out.subarray(i * cols, (i + 1) * cols));
    }
  }

  get residentBytes(): number {
    return this.cache.usedBytes;
  }

  close(): void {
    this.cache.clear();
    this.vectors.clear();
    this.onClose();
  }
}

/**
 * A tensor slice placed in the WASM kernels' shared memory (read straight there when the source can), so the
 * kernels and their worker threads use the file's blocks in place; a plain copy when that memory is full or absent.
 */
function readIntoKernelMemory(t: TensorSource, expert: number | undefined): Uint8Array {
  const host = wasmHost();
  if (!host) return t.readSlice(expert);
  if (t.readSliceInto) {
    const rowBytes = ggmlRowBytes(t.type, t.ne[0]);
    const bytes = rowBytes * (t.ne[1] ?? 1) * (expert === undefined ? t.ne.slice(2).reduce((a, b) => a * b, 1) : 1);
    const dst = host.allocBytes(bytes);
    if (dst) {
      t.readSliceInto(expert, dst);
      return dst;
    }
    return t.readSlice(expert);
  }
  const src = t.readSlice(expert);
  const dst = host.allocBytes(src.byteLength);
  if (!dst) return src;
  dst.set(src);
  return dst;
}
