// llama.cpp's own forward pass through koffi on libllama (node-llama-cpp's prebuilt CPU build), exposing raw
// logits for every position so @moeq/eval's llama-perplexity computation can run on llama.cpp quickly.
// node-llama-cpp itself only hands out per-position probability maps, which is far too slow for 57k tokens.
// Test-only. Struct layouts mirror include/llama.h of the bundled llama.cpp (v0.4.0) field for field.
import koffi from "koffi";
import { llamaBinDir, llamaLib } from "./ggml-lib.js";
import { basename } from "node:path";
import type { EvalModel } from "@moeq/eval";

interface Fns {
  modelDefaults: () => Record<string, unknown>;
  ctxDefaults: () => Record<string, unknown>;
  loadModel: (path: string, p: Record<string, unknown>) => unknown;
  initCtx: (m: unknown, p: Record<string, unknown>) => unknown;
  freeCtx: (c: unknown) => void;
  freeModel: (m: unknown) => void;
  getVocab: (m: unknown) => unknown;
  nVocab: (v: unknown) => number;
  nCtxTrain: (m: unknown) => number;
  bos: (v: unknown) => number;
  addBos: (v: unknown) => boolean;
  tokenize: (v: unknown, text: string, len: number, out: Int32Array | null, max: number, addSpecial: boolean, parseSpecial: boolean) => number;
  toPiece: (v: unknown, t: number, buf: Buffer, len: number, lstrip: number, special: boolean) => number;
  memory: (c: unknown) => unknown;
  memoryClear: (m: unknown, data: boolean) => void;
  batchGetOne: (tokens: Int32Array, n: number) => Record<string, unknown>;
  decode: (c: unknown, b: Record<string, unknown>) => number;
  logits: (c: unknown) => unknown;
}

let fns: Fns | undefined;
function bind(): Fns {
  if (fns) return fns;
  const lib = llamaLib();
  const ggml = koffi.load(`${llamaBinDir()}/libggml.v0.4.0.so`);
  ggml.func("void ggml_backend_load_all_from_path(const char *dir)")(llamaBinDir());
  const MP = koffi.struct("moeq_llama_model_params", {
    devices: "void *",
    tensor_buft_overrides: "void *",
    n_gpu_layers: "int32_t",
    split_mode: "int",
    load_mode: "int",
    lazy_mode: "int",
    main_gpu: "int32_t",
    tensor_split: "void *",
    progress_callback: "void *",
    progress_callback_user_data: "void *",
    kv_overrides: "void *",
    vocab_only: "bool",
    check_tensors: "bool",
    use_extra_bufts: "bool",
    no_host: "bool",
    no_alloc: "bool",
    load_mtp: "bool",
  });
  const CP = koffi.struct("moeq_llama_context_params", {
    n_ctx: "uint32_t",
    n_batch: "uint32_t",
    n_ubatch: "uint32_t",
    n_seq_max: "uint32_t",
    n_rs_seq: "uint32_t",
    n_outputs_max: "uint32_t",
    n_outputs_max_per_seq: "uint32_t",
    n_threads: "int32_t",
    n_threads_batch: "int32_t",
    ctx_type: "int",
    rope_scaling_type: "int",
    pooling_type: "int",
    attention_type: "int",
    flash_attn_type: "int",
    rope_freq_base: "float",
    rope_freq_scale: "float",
    yarn_ext_factor: "float",
    yarn_attn_factor: "float",
    yarn_beta_fast: "float",
    yarn_beta_slow: "float",
    yarn_orig_ctx: "uint32_t",
    defrag_thold: "float",
    cb_eval: "void *",
    cb_eval_user_data: "void *",
    type_k: "int",
    type_v: "int",
    abort_callback: "void *",
    abort_callback_data: "void *",
    embeddings: "bool",
    offload_kqv: "bool",
    no_perf: "bool",
    op_offload: "bool",
    swa_full: "bool",
    kv_unified: "bool",
    samplers: "void *",
    n_samplers: "size_t",
    ctx_other: "void *",
  });
  const B = koffi.struct("moeq_llama_batch", {
    n_tokens: "int32_t",
    token: "int32_t *",
    embd: "float *",
    pos: "int32_t *",
    n_seq_id: "int32_t *",
    seq_id: "void *",
    logits: "int8_t *",
  });
  fns = {
    modelDefaults: lib.func("llama_model_default_params", MP, []),
    ctxDefaults: lib.func("llama_context_default_params", CP, []),
    loadModel: lib.func("llama_model_load_from_file", "void *", ["const char *", MP]),
    initCtx: lib.func("llama_init_from_model", "void *", ["void *", CP]),
    freeCtx: lib.func("void llama_free(void *ctx)"),
    freeModel: lib.func("void llama_model_free(void *model)"),
    getVocab: lib.func("void *llama_model_get_vocab(void *model)"),
    nVocab: lib.func("int32_t llama_vocab_n_tokens(void *vocab)"),
    nCtxTrain: lib.func("int32_t llama_model_n_ctx_train(void *model)"),
    bos: lib.func("int32_t llama_vocab_bos(void *vocab)"),
    addBos: lib.func("bool llama_vocab_get_add_bos(void *vocab)"),
    tokenize: lib.func(
      "int32_t llama_tokenize(void *vocab, const char *text, int32_t len, _Out_ int32_t *tokens, int32_t max, bool add_special, bool parse_special)",
    ),
    toPiece: lib.func("int32_t llama_token_to_piece(void *vocab, int32_t token, _Out_ uint8_t *buf, int32_t len, int32_t lstrip, bool special)"),
    memory: lib.func("void *llama_get_memory(void *ctx)"),
    memoryClear: lib.func("void llama_memory_clear(void *mem, bool data)"),
    batchGetOne: lib.func("llama_batch_get_one", B, ["int32_t *", "int32_t"]),
    decode: lib.func("llama_decode", "int32_t", ["void *", B]),
    logits: lib.func("float *llama_get_logits(void *ctx)"),
  };
  lib.func("void llama_backend_init(void)")();
  if (!process.env.MOEQ_LLAMA_LOG) {
    const LogCb = koffi.proto("void moeq_llama_ppl_log_cb(int level, const char *text, void *ud)");
    lib.func("llama_log_set", "void", [koffi.pointer(LogCb), "void *"])(
      koffi.register(() => {}, koffi.pointer(LogCb)),
      null,
    );
  }
  return fns;
}

/** @moeq/eval's EvalModel backed by llama.cpp, for perplexity: text only (generate takes no image). */
export interface LlamaLogitsModel extends Omit<EvalModel, "generate"> {
  generate(prompt: string, opts: { maxTokens: number }): Promise<string>;
}

/** Backend switches of llama.cpp's loader/context (defaults: llama.cpp's own). */
export interface LlamaLogitsOptions {
  /** `llama_model_params.use_extra_bufts`; false is what llama.cpp's `--no-repack` sets (no CPU repacked/AMX weight layouts). */
  useExtraBufts?: boolean;
  /** `llama_context_params.flash_attn_type`: -1 auto (default), 0 disabled, 1 enabled. */
  flashAttnType?: -1 | 0 | 1;
  /** `llama_context_params.cb_eval` (a koffi-registered `ggml_backend_sched_eval_callback`), for intermediate tensors. */
  cbEval?: unknown;
}

/** Loads a GGUF with llama.cpp (CPU). Each `logits` call runs in a cleared context of size `nCtx`. */
export function openLlamaLogits(path: string, nCtx: number, threads = 2, opts: LlamaLogitsOptions = {}): LlamaLogitsModel {
  const f = bind();
  const mp = f.modelDefaults();
  mp.n_gpu_layers = 0;
  if (opts.useExtraBufts !== undefined) mp.use_extra_bufts = opts.useExtraBufts;
  const model = f.loadModel(path, mp);
  if (!model) throw new Error(`llama.cpp could not load ${path}`);
  const cp = f.ctxDefaults();
  Object.assign(cp, {
    n_ctx: nCtx,
    n_batch: nCtx,
    n_ubatch: nCtx,
    n_seq_max: 1,
    n_threads: threads,
    n_threads_batch: threads,
    embeddings: true,
    pooling_type: 0,
  });
  if (opts.flashAttnType !== undefined) cp.flash_attn_type = opts.flashAttnType;
  if (opts.cbEval !== undefined) cp.cb_eval = opts.cbEval;
  const ctx = f.initCtx(model, cp);
  if (!ctx) {
    f.freeModel(model);
    throw new Error(`llama.cpp could not create a context for ${path}`);
  }
  const vocab = f.getVocab(model);
  const nVocab = f.nVocab(vocab);
  const tokenize = (text: string, opts: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] => {
    const bytes = Buffer.byteLength(text);
    const out = new Int32Array(bytes + 8);
    const n = f.tokenize(vocab, text, bytes, out, out.length, opts.addBos ?? true, opts.parseSpecial ?? false);
    if (n < 0) throw new Error(`llama_tokenize needs ${-n} tokens`);
    return Array.from(out.subarray(0, n));
  };
  const detokenize = (ids: number[]): string => {
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(256);
    for (const t of ids) {
      const n = f.toPiece(vocab, t, buf, buf.length, 0, false);
      if (n > 0) parts.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(parts).toString("utf8");
  };
  const logits = async (tokens: number[]): Promise<Float32Array> => {
    if (tokens.length > nCtx) throw new Error(`${tokens.length} tokens exceed the context of ${nCtx}`);
    f.memoryClear(f.memory(ctx), true);
    const toks = Int32Array.from(tokens);
    const rc = f.decode(ctx, f.batchGetOne(toks, toks.length));
    if (rc !== 0) throw new Error(`llama_decode failed (${rc})`);
    // copy out of llama.cpp's buffer (it is reused by the next decode)
    return new Float32Array(koffi.view(f.logits(ctx), tokens.length * nVocab * 4).slice(0));
  };
  const bosId = f.addBos(vocab) ? f.bos(vocab) : null;
  return {
    name: basename(path),
    vocabSize: nVocab,
    nCtxTrain: f.nCtxTrain(model),
    bosId,
    tokenize,
    detokenize,
    logits,
    async generate(prompt, opts) {
      const ids = tokenize(prompt, { addBos: bosId !== null });
      const out: number[] = [];
      for (let i = 0; i < opts.maxTokens && ids.length + out.length <= nCtx; i++) {
        const all = [...ids, ...out];
        const lg = await logits(all);
        const row = lg.subarray((all.length - 1) * nVocab, all.length * nVocab);
        let best = 0;
        for (let j = 1; j < nVocab; j++) if (row[j] > row[best]) best = j;
        out.push(best);
      }
      return detokenize(out);
    },
    async close() {
      f.freeCtx(ctx);
      f.freeModel(model);
    },
  };
}
