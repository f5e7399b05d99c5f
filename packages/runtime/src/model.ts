/**
 * `loadModel`: the public entry point. Opens a GGUF file or an HF safetensors checkpoint (file or directory),
 * builds the config, weight store, tokenizer and (for HF checkpoints with a vision tower) the image encoder.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { InputError, seededRandom } from "@moeq/formats";
import type { Llama4TextConfig } from "./llama4/config.js";
import { llama4ConfigFromGguf, llama4ConfigFromHf } from "./llama4/config.js";
import { Llama4TextModel } from "./llama4/text-model.js";
import type { ActivationTap } from "./llama4/taps.js";
import { WeightStore } from "./store/weight-store.js";
import { openSafetensorsTensors } from "./store/safetensors-source.js";
import { openGgufFile } from "./store/gguf-source.js";
import type { ChatMessage } from "./tokenizer/llama4-tokenizer.js";
import { Llama4Tokenizer } from "./tokenizer/llama4-tokenizer.js";
import { sampleToken } from "./sampling.js";
import type { VisionEncoder, VisionTensors } from "./vision/vision-encoder.js";
import { loadVisionEncoder, loadVisionEncoderFromMmproj, safetensorsVisionTensors } from "./vision/vision-encoder.js";
import { llama4VisionGgufName } from "./llama4/vision-names.js";
import { dequantizeRow } from "./ops/dequant-adapter.js";
import { startKernelThreads } from "./ops/wasm-host.js";
import type { GgufFile } from "./store/gguf-source.js";

export interface LoadModelOptions {
  /** Resident weight bytes kept in the LRU (default 4 GiB). */
  memoryBudgetBytes?: number;
  /**
   * Threads the matmuls split their output rows over, the calling thread included (default: the machine's cores,
   * `os.availableParallelism()`). Fails with THREADS_FAILED when the worker threads cannot start.
   */
  threads?: number;
  /** Override the config.json path of an HF checkpoint (e.g. a variant config). */
  config?: string;
  /**
   * mmproj GGUF with the vision tower for a GGUF model (default: `mmproj-<model file name>` next to it, as
   * `moeq convert` and llama.cpp name it, when that file exists).
   */
  mmproj?: string;
  /**
   * Follow llama.cpp's CPU numerics (f16 KV cache, activations rounded per weight type); default true for GGUF,
   * false for safetensors. `"exact"`: bit-identical to llama.cpp `--no-repack` on x86-64 (≈ 9× slower; see README).
   */
  ggmlNumerics?: boolean | "exact";
}

export interface LogitsOptions {
  /** Raw PNG/JPEG bytes for the prompt's image tokens. */
  image?: Uint8Array;
  /** "last": logits of the last position only ([1 × vocabSize]); default "all". */
  logitsFor?: "all" | "last";
}

export interface GenerateOptions {
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  image?: Uint8Array;
  onToken?: (id: number) => void;
}

export interface Llama4Model {
  readonly config: Llama4TextConfig;
  readonly vocabSize: number;
  readonly nCtxTrain: number;
  readonly bosId: number | null;
  readonly eosIds: number[];
  readonly tokenizer: Llama4Tokenizer;
  tokenize(text: string, opts?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: number[]): string;
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /**
   * Fresh context: logits for every position, row-major [tokens.length × vocabSize] f32. `image`: raw PNG/JPEG
   * bytes; the prompt must already contain the expanded image tokens (see `expandImagePrompt`).
   */
  logits(tokens: number[], opts?: LogitsOptions): Promise<Float32Array>;
  generate(prompt: number[], opts: GenerateOptions): Promise<number[]>;
  /** Text with each `<|image|>` placeholder expanded for `image` (tiles × patch tokens, as processing_llama4.py). */
  expandImagePrompt(text: string, image: Uint8Array): string;
  setTap(tap: ActivationTap | null): void;
  close(): Promise<void>;
}

class LoadedModel implements Llama4Model {
  constructor(
    private readonly text: Llama4TextModel,
    readonly tokenizer: Llama4Tokenizer,
    private readonly vision: VisionEncoder | null,
    private readonly imageTokenId: number | undefined,
  ) {}

  get config(): Llama4TextConfig {
    return this.text.config;
  }
  get vocabSize(): number {
    return this.text.vocabSize;
  }
  get nCtxTrain(): number {
    return this.text.config.maxPositionEmbeddings;
  }
  get bosId(): number | null {
    return this.tokenizer.bosId;
  }
  get eosIds(): number[] {
    return this.tokenizer.eosIds;
  }

  tokenize(text: string, opts?: { addBos?: boolean; parseSpecial?: boolean }): number[] {
    return this.tokenizer.encode(text, opts);
  }
  detokenize(ids: number[]): string {
    return this.tokenizer.decode(ids);
  }
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string {
    return this.tokenizer.applyChatTemplate(messages, opts);
  }

  expandImagePrompt(text: string, image: Uint8Array): string {
    return this.needVision().expandPrompt(text, image);
  }

  private needVision(): VisionEncoder {
    if (!this.vision) throw new InputError("NO_VISION", "this model has no vision tower (images need an HF checkpoint with vision_model.*)");
    return this.vision;
  }

  private imageOverrides(tokens: number[], image: Uint8Array | undefined) {
    if (!image) return undefined;
    const rows = this.needVision().encode(image);
    const positions: number[] = [];
    tokens.forEach((t, i) => {
      if (t === this.imageTokenId) positions.push(i);
    });
    const d = this.config.hiddenSize;
    if (positions.length * d !== rows.length) {
      throw new InputError("IMAGE_TOKENS", `prompt has ${positions.length} <|patch|> tokens but the image gives ${rows.length / d} features`);
    }
    return { positions, rows };
  }

  async logits(tokens: number[], opts: LogitsOptions = {}): Promise<Float32Array> {
    if (tokens.length === 0) throw new InputError("EMPTY_PROMPT", "no tokens to evaluate");
    this.text.cache.reset();
    const embeddingOverrides = this.imageOverrides(tokens, opts.image);
    return this.text.forward(tokens, { embeddingOverrides, logitsFor: opts.logitsFor });
  }

  async generate(prompt: number[], opts: GenerateOptions): Promise<number[]> {
    if (prompt.length === 0) throw new InputError("EMPTY_PROMPT", "no prompt tokens");
    this.text.cache.reset();
    const rand = seededRandom(opts.seed ?? 0);
    const embeddingOverrides = this.imageOverrides(prompt, opts.image);
    const logitsOut = new Float32Array(this.text.vocabSize); // one buffer for every step's last-row logits
    let logits = this.text.forward(prompt, { embeddingOverrides, logitsFor: "last", logitsOut });
    const out: number[] = [];
    const eos = new Set(this.eosIds);
    for (let i = 0; i < opts.maxTokens; i++) {
      const id = sampleToken(logits, opts, rand);
      out.push(id);
      opts.onToken?.(id);
      if (eos.has(id) || i === opts.maxTokens - 1) break;
      logits = this.text.forward([id], { logitsFor: "last", logitsOut });
    }
    return out;
  }

  setTap(tap: ActivationTap | null): void {
    this.text.setTap(tap);
  }

  async close(): Promise<void> {
    this.text.store.close();
    this.text.close();
    this.vision?.close();
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new InputError("BAD_JSON", "cannot read JSON", { file: path, cause });
  }
}

/** VisionTensors over an mmproj GGUF: HF names mapped to `v.*` / `mm.*`, any stored type decoded to f32. */
function mmprojVisionTensors(g: GgufFile): VisionTensors {
  const sources = g.sources();
  const find = (hf: string) => {
    const name = llama4VisionGgufName(hf);
    return name === undefined ? undefined : sources.get(name);
  };
  const need = (hf: string) => {
    const t = find(hf);
    if (!t) throw new InputError("MISSING_TENSOR", `mmproj has no tensor for ${hf} (${llama4VisionGgufName(hf) ?? "unmapped"})`, { file: g.path });
    return t;
  };
  return {
    source: g.path,
    close: () => g.close(),
    has: (hf) => find(hf) !== undefined,
    shape: (hf) => [...need(hf).ne].reverse(),
    read: (hf) => {
      const t = need(hf);
      const n = t.ne.reduce((a, b) => a * b, 1);
      const out = new Float32Array(n);
      dequantizeRow(t.type, t.readSlice(undefined), 0, n, out);
      return out;
    },
  };
}

async function loadMmprojVision(modelPath: string, explicit: string | undefined): Promise<VisionEncoder | null> {
  const path = explicit ?? join(dirname(modelPath), `mmproj-${basename(modelPath)}`);
  if (!existsSync(path)) {
    if (explicit) throw new InputError("NOT_FOUND", "mmproj file not found", { file: explicit });
    return null;
  }
  const g = await openGgufFile(path);
  try {
    return loadVisionEncoderFromMmproj((k) => g.get(k), mmprojVisionTensors(g));
  } catch (err) {
    g.close();
    throw err;
  }
}

export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<Llama4Model> {
  if (!existsSync(path)) throw new InputError("NOT_FOUND", "no such file or directory", { file: path });
  const threads = opts.threads ?? availableParallelism();
  await startKernelThreads(threads);
  const isDir = statSync(path).isDirectory();
  if (!isDir && path.endsWith(".gguf")) {
    const gguf = await openGgufFile(path);
    try {
      const get = (k: string) => gguf.get(k);
      const sources = gguf.sources();
      const out = sources.get("output.weight") ?? sources.get("token_embd.weight");
      if (!out) throw new InputError("MISSING_TENSOR", "no output.weight or token_embd.weight", { file: path });
      if (!sources.has("output.weight")) sources.set("output.weight", out); // tied embeddings, as llama.cpp falls back
      const config = llama4ConfigFromGguf(get, path, out.ne[1]);
      const store = new WeightStore(path, sources, opts, () => gguf.close());
      const tokenizer = Llama4Tokenizer.fromGgufMetadata(get, path);
      const vision = await loadMmprojVision(path, opts.mmproj);
      return new LoadedModel(
        new Llama4TextModel(config, store, { ggmlNumerics: opts.ggmlNumerics ?? true, threads }),
        tokenizer,
        vision,
        tokenizer.tokenId("<|patch|>"),
      );
    } catch (err) {
      gguf.close();
      throw err;
    }
  }
  const dir = isDir ? path : dirname(path);
  const configPath = opts.config ?? join(dir, "config.json");
  if (!existsSync(configPath)) throw new InputError("NO_CONFIG", "config.json not found next to the weights", { file: configPath });
  const configJson = readJson(configPath) as Record<string, unknown>;
  const config = llama4ConfigFromHf(configJson, configPath);
  const st = await openSafetensorsTensors(path, { quantizationConfig: configJson.quantization_config });
  try {
    const store = new WeightStore(path, st.tensors, opts, () => st.close());
    const tokenizer = Llama4Tokenizer.fromHfDir(dir);
    const imageTokenId = typeof configJson.image_token_index === "number" ? configJson.image_token_index : tokenizer.tokenId("<|patch|>");
    const preprocessorPath = join(dir, "preprocessor_config.json");
    const preprocessor = existsSync(preprocessorPath) ? (readJson(preprocessorPath) as Record<string, unknown>) : null;
    const vision = loadVisionEncoder(configJson, configPath, safetensorsVisionTensors(st.other, path), preprocessor);
    return new LoadedModel(new Llama4TextModel(config, store, { ggmlNumerics: opts.ggmlNumerics ?? false, threads }), tokenizer, vision, imageTokenId);
  } catch (err) {
    st.close();
    throw err;
  }
}
