/**
 * Llama 4 tokenizer + chat template: `@huggingface/tokenizers` over tokenizer.json (or over the same BPE rebuilt
 * from a GGUF vocab: tokens + merges + pre "llama4"), `@huggingface/jinja` for the chat template.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { InputError } from "@moeq/formats";

/** Llama 4's pre-tokenizer split regex (tokenizer.json of the Meta repos; llama.cpp LLAMA_VOCAB_PRE_TYPE_LLAMA4/GPT4O). */
export const LLAMA4_SPLIT_REGEX =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Control-token texts llama.cpp counts as end of generation (the Llama 3/4 ones). */
const END_OF_GENERATION_TEXTS = new Set(["<|end_of_text|>", "<|eot|>", "<|eom|>", "<|eot_id|>", "<|eom_id|>"]);

export type ChatContentPart = { type: "text"; text: string } | { type: "image" };
export interface ChatMessage {
  role: string;
  content: string | ChatContentPart[];
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  [k: string]: unknown;
}
interface TokenizerJsonShape {
  added_tokens?: AddedTokenJson[];
  model: { vocab: Record<string, number>; [k: string]: unknown };
  [k: string]: unknown;
}

export class Llama4Tokenizer {
  private readonly tok: Tokenizer;
  /** Same model without added tokens: encodes special-token strings as plain text (parseSpecial: false). */
  private readonly plainTok: Tokenizer;
  private readonly template: Template | null;
  private readonly idToSpecial = new Map<number, string>();
  private readonly specialToId = new Map<string, number>();
  readonly vocabSize: number;

  constructor(
    json: TokenizerJsonShape,
    private readonly cfg: Record<string, unknown>,
    chatTemplate: string | null,
    readonly bosId: number | null,
    readonly eosIds: number[],
    readonly addBosDefault: boolean,
  ) {
    this.tok = new Tokenizer(json as never, cfg as never);
    this.plainTok = new Tokenizer({ ...json, added_tokens: [] } as never, cfg as never);
    this.template = chatTemplate ? new Template(chatTemplate) : null;
    for (const t of json.added_tokens ?? []) {
      this.idToSpecial.set(t.id, t.content);
      this.specialToId.set(t.content, t.id);
    }
    let max = -1;
    for (const id of Object.values(json.model.vocab)) if (id > max) max = id;
    for (const id of this.idToSpecial.keys()) if (id > max) max = id;
    this.vocabSize = max + 1;
  }

  /** From a HF model directory (tokenizer.json + tokenizer_config.json, config.json for BOS/EOS). */
  static fromHfDir(dir: string): Llama4Tokenizer {
    const tjPath = join(dir, "tokenizer.json");
    if (!existsSync(tjPath)) throw new InputError("NO_TOKENIZER", "tokenizer.json not found", { file: dir });
    const json = JSON.parse(readFileSync(tjPath, "utf8")) as TokenizerJsonShape;
    const cfgPath = join(dir, "tokenizer_config.json");
    const cfg = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>) : {};
    let template = typeof cfg.chat_template === "string" ? cfg.chat_template : null;
    const jinjaPath = join(dir, "chat_template.jinja");
    if (!template && existsSync(jinjaPath)) template = readFileSync(jinjaPath, "utf8");
    const idOf = (s: unknown) => (typeof s === "string" ? ((json.added_tokens ?? []).find((t) => t.content === s)?.id ?? json.model.vocab[s]) : undefined);
    const bosName = typeof cfg.bos_token === "string" ? cfg.bos_token : (cfg.bos_token as { content?: string } | undefined)?.content;
    const bosId = idOf(bosName) ?? null;
    const eos = new Set<number>();
    const gen = join(dir, "generation_config.json");
    const conf = join(dir, "config.json");
    for (const p of [gen, conf]) {
      if (!existsSync(p)) continue;
      const c = JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
      const tc = (c.text_config ?? c) as Record<string, unknown>;
      const e = c.eos_token_id ?? tc.eos_token_id;
      for (const id of Array.isArray(e) ? e : e === undefined ? [] : [e]) eos.add(Number(id));
    }
    const eosName = typeof cfg.eos_token === "string" ? cfg.eos_token : (cfg.eos_token as { content?: string } | undefined)?.content;
    const eosId = idOf(eosName);
    if (eosId !== undefined) eos.add(eosId);
    return new Llama4Tokenizer(json, cfg, template, bosId, [...eos], cfg.add_bos_token !== false);
  }

  /**
   * From GGUF `tokenizer.ggml.*` keys: rebuilds the byte-level BPE that llama.cpp uses for pre "llama4"
   * (control / user-defined tokens become added special tokens).
   */
  static fromGgufMetadata(get: (key: string) => unknown, file: string): Llama4Tokenizer {
    const tokens = get("tokenizer.ggml.tokens") as string[] | undefined;
    const merges = get("tokenizer.ggml.merges") as string[] | undefined;
    const types = get("tokenizer.ggml.token_type") as number[] | undefined;
    if (get("tokenizer.ggml.model") !== "gpt2" || !tokens || !merges) {
      throw new InputError("GGUF_TOKENIZER", `unsupported tokenizer (model "${String(get("tokenizer.ggml.model"))}"; need gpt2 BPE with merges)`, { file });
    }
    const pre = get("tokenizer.ggml.pre");
    if (pre !== "llama4" && pre !== "gpt-4o") {
      throw new InputError("GGUF_TOKENIZER", `unsupported pre-tokenizer "${String(pre)}" (expected llama4)`, { file });
    }
    const vocab: Record<string, number> = {};
    const added: AddedTokenJson[] = [];
    tokens.forEach((t, i) => {
      const ty = types?.[i] ?? 1;
      if (ty === 3 || ty === 4) added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      vocab[t] = i;
    });
    const json: TokenizerJsonShape = {
      version: "1.0",
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: LLAMA4_SPLIT_REGEX }, behavior: "Isolated", invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: "BPE", dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
    };
    const n = (k: string) => {
      const v = get(k);
      return v === undefined ? undefined : Number(v);
    };
    const bosId = n("tokenizer.ggml.bos_token_id") ?? null;
    const eos = new Set<number>();
    for (const k of ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
      const v = n(k);
      if (v !== undefined) eos.add(v);
    }
    // llama.cpp (llama-vocab.cpp) also treats these control tokens as end-of-generation by their text.
    for (const t of added) if (END_OF_GENERATION_TEXTS.has(t.content)) eos.add(t.id);
    const template = get("tokenizer.chat_template");
    const cfg: Record<string, unknown> = {
      bos_token: bosId !== null ? tokens[bosId] : undefined,
      eos_token: eos.size ? tokens[[...eos][0]] : undefined,
    };
    return new Llama4Tokenizer(json, cfg, typeof template === "string" ? template : null, bosId, [...eos], get("tokenizer.ggml.add_bos_token") !== false);
  }

  /** Token ids of `text`; special-token strings are recognised unless parseSpecial is false. BOS prepended when addBos. */
  encode(text: string, opts: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] {
    const t = opts.parseSpecial === false ? this.plainTok : this.tok;
    const ids = [...t.encode(text, { add_special_tokens: false }).ids];
    if ((opts.addBos ?? false) && this.bosId !== null) ids.unshift(this.bosId);
    return ids;
  }

  decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return ""; // tokenizers.js rejects an empty id list
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecial ?? false });
  }

  tokenId(text: string): number | undefined {
    return this.specialToId.get(text);
  }

  specialText(id: number): string | undefined {
    return this.idToSpecial.get(id);
  }

  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.template) throw new InputError("NO_CHAT_TEMPLATE", "the tokenizer has no chat template");
    const name = (v: unknown) => (typeof v === "string" ? v : ((v as { content?: string } | undefined)?.content ?? ""));
    return this.template.render({
      messages,
      bos_token: this.bosId !== null ? (this.idToSpecial.get(this.bosId) ?? name(this.cfg.bos_token)) : "",
      eos_token: name(this.cfg.eos_token),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    });
  }
}
