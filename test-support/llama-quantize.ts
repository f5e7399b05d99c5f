// koffi bindings to libllama's llama_model_quantize (the reference for `moeq quantize`). Test-only.
// The params struct mirrors include/llama.h `llama_model_quantize_params` field for field.
import koffi from "koffi";
import { llamaLib } from "./ggml-lib.js";

export interface LlamaQuantizeParams {
  nthread: number;
  ftype: number;
  output_tensor_type: number;
  token_embedding_type: number;
  allow_requantize: boolean;
  quantize_output_tensor: boolean;
  only_copy: boolean;
  pure: boolean;
  keep_split: boolean;
  dry_run: boolean;
  imatrix: unknown;
  kv_overrides: unknown;
  tt_overrides: unknown;
  prune_layers: unknown;
  max_buf_size: number | bigint;
}

let fns:
  | {
      init: () => void;
      defaults: () => LlamaQuantizeParams;
      quantize: (inp: string, out: string, p: LlamaQuantizeParams) => number;
    }
  | undefined;

function bind() {
  if (fns) return fns;
  const lib = llamaLib();
  koffi.struct("llama_model_imatrix_data", { name: "const char *", data: "const float *", size: "size_t" });
  koffi.struct("llama_model_tensor_override", { pattern: "const char *", type: "int" });
  const P = koffi.struct("llama_model_quantize_params", {
    nthread: "int32_t",
    ftype: "int",
    output_tensor_type: "int",
    token_embedding_type: "int",
    allow_requantize: "bool",
    quantize_output_tensor: "bool",
    only_copy: "bool",
    pure: "bool",
    keep_split: "bool",
    dry_run: "bool",
    imatrix: "const llama_model_imatrix_data *",
    kv_overrides: "void *",
    tt_overrides: "const llama_model_tensor_override *",
    prune_layers: "const int32_t *",
    max_buf_size: "size_t",
  });
  const init = lib.func("void llama_backend_init(void)");
  const LogCb = koffi.proto("void moeq_ggml_log_cb(int level, const char *text, void *ud)");
  const log = lib.func("llama_log_set", "void", [koffi.pointer(LogCb), "void *"]);
  const silent = koffi.register(() => {}, koffi.pointer(LogCb));
  const defaults = lib.func("llama_model_quantize_default_params", P, []);
  const quantize = lib.func("uint32_t llama_model_quantize(const char *inp, const char *out, const llama_model_quantize_params *p)");
  fns = {
    init: () => {
      init();
      if (!process.env.MOEQ_LLAMA_LOG) log(silent, null);
    },
    defaults,
    quantize,
  };
  fns.init();
  return fns;
}

export interface ReferenceQuantizeOptions {
  ftype: number;
  nthread?: number;
  pure?: boolean;
  outputTensorType?: number;
  tokenEmbeddingType?: number;
  /** name → mean(x²) values (ne0·n_expert), as llama-quantize passes an imatrix. */
  imatrix?: Map<string, Float32Array>;
  tensorTypes?: { pattern: string; type: number }[];
  /** KV overrides as llama-quantize's CLI passes them (strings, or integers written as u32). */
  kvOverrides?: { key: string; value: string | number }[];
}

/** sizeof(struct llama_model_kv_override): int tag, char key[128], 4 bytes padding, 128-byte union (8-aligned). */
const KV_OVERRIDE_BYTES = 264;

function encodeKvOverrides(items: { key: string; value: string | number }[]): Buffer {
  const b = Buffer.alloc(KV_OVERRIDE_BYTES * (items.length + 1));
  items.forEach((it, i) => {
    const o = i * KV_OVERRIDE_BYTES;
    if (typeof it.value === "number") {
      b.writeInt32LE(0, o); // LLAMA_KV_OVERRIDE_TYPE_INT
      b.writeBigInt64LE(BigInt(it.value), o + 136);
    } else {
      b.writeInt32LE(3, o); // LLAMA_KV_OVERRIDE_TYPE_STR
      b.write(it.value.slice(0, 127), o + 136, "utf8");
    }
    b.write(it.key.slice(0, 127), o + 4, "utf8");
  });
  return b; // the zeroed last entry (key[0] == 0) terminates the list
}

/** Runs llama.cpp's own llama_model_quantize; throws when it reports failure. */
export function referenceQuantize(input: string, output: string, o: ReferenceQuantizeOptions): void {
  const f = bind();
  const p = f.defaults();
  p.nthread = o.nthread ?? 1;
  p.ftype = o.ftype;
  p.pure = o.pure ?? false;
  if (o.outputTensorType !== undefined) p.output_tensor_type = o.outputTensorType;
  if (o.tokenEmbeddingType !== undefined) p.token_embedding_type = o.tokenEmbeddingType;
  if (o.imatrix) {
    const entries = [...o.imatrix].map(([name, data]) => ({ name, data: Array.from(data), size: data.length }));
    entries.push({ name: null as unknown as string, data: null as unknown as number[], size: 0 });
    p.imatrix = entries;
  }
  if (o.kvOverrides) p.kv_overrides = encodeKvOverrides(o.kvOverrides);
  if (o.tensorTypes) p.tt_overrides = [...o.tensorTypes, { pattern: null as unknown as string, type: 0 }];
  const rc = f.quantize(input, output, p);
  if (rc !== 0) throw new Error(`llama_model_quantize failed (${rc}) for ${input}`);
}
