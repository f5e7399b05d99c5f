/**
 * HF tokenizer files → `tokenizer.*` GGUF keys, as llama.cpp's converter writes them for a BPE ("gpt2")
 * model: conversion/base.py `_set_vocab_gpt2` / `get_vocab_base` and gguf-py vocab.py `SpecialVocab`.
 * Key order follows the converter: model, pre, tokens, token_type, merges, special ids, add_* flags, chat template.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "@moeq/formats";
import { GGUFValueType, type GGUFKV } from "@moeq/formats";
import { kvArr, kvBool, kvStr, kvU32 } from "./gguf-kv.js";

/** gguf TokenType values. */
export enum GGUFTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
  added_tokens?: AddedToken[];
  post_processor?: Record<string, unknown> | null;
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (e) {
    throw new InputError("BAD_JSON", `not valid JSON: ${(e as Error).message}`, { file });
  }
}

/** conversion/base.py does_token_look_special */
function looksSpecial(t: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
    (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<｜") && t.endsWith("｜>")) ||
    (t.startsWith("<unused") && t.endsWith(">"))
  );
}

export interface TokenizerKVOptions {
  /** vocab_size from config.json; ids without a token become "[PAD<i>]" (UNUSED). */
  readonly vocabSize?: number;
  /** tokenizer.ggml.pre; llama.cpp detects "llama4" for Llama 4 by hashing the pre-tokenizer output. */
  readonly pre: string;
}

/** Reads tokenizer.json (+ tokenizer_config.json, config.json, chat_template.*) in `dir` into ordered tokenizer KVs. */
export function tokenizerKVs(dir: string, opts: TokenizerKVOptions): Map<string, GGUFKV> {
  const tokFile = join(dir, "tokenizer.json");
  const tok = readJson<TokenizerJson>(tokFile);
  if (!tok) throw new InputError("NO_TOKENIZER", "tokenizer.json not found (needed for the GGUF vocabulary)", { file: tokFile });
  if (tok.model?.type !== "BPE" || !tok.model.vocab)
    throw new InputError("TOKENIZER_TYPE", `expected a BPE tokenizer, got ${tok.model?.type}`, { file: tokFile });
  const added = tok.added_tokens ?? [];
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(tok.model.vocab)) byId.set(id, t);
  const addedById = new Map<number, AddedToken>();
  for (const a of added) {
    byId.set(a.id, a.content);
    addedById.set(a.id, a);
  }
  const maxId = Math.max(...byId.keys());
  const vocabSize = opts.vocabSize ?? maxId + 1;
  if (maxId >= vocabSize) throw new InputError("VOCAB_SIZE", `token id ${maxId} is not below vocab_size ${vocabSize}`, { file: tokFile });

  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    const t = byId.get(i);
    if (t === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = GGUFTokenType.UNUSED;
      continue;
    }
    const a = addedById.get(i);
    if (a) {
      if (a.special || looksSpecial(t)) {
        tokens[i] = t;
        types[i] = GGUFTokenType.CONTROL;
      } else {
        tokens[i] = t.replaceAll("\u2581", " "); // pre-normalize user-defined spaces (as the converter does)
        types[i] = GGUFTokenType.USER_DEFINED;
      }
    } else {
      tokens[i] = t;
      types[i] = GGUFTokenType.NORMAL;
    }
  }

  const kvs = new Map<string, GGUFKV>();
  kvs.set("tokenizer.ggml.model", kvStr("gpt2"));
  kvs.set("tokenizer.ggml.pre", kvStr(opts.pre));
  kvs.set("tokenizer.ggml.tokens", kvArr(GGUFValueType.STRING, tokens));
  kvs.set("tokenizer.ggml.token_type", kvArr(GGUFValueType.INT32, types));

  const special = specialVocab(dir, tok, added);
  if (special.merges.length) kvs.set("tokenizer.ggml.merges", kvArr(GGUFValueType.STRING, special.merges));
  const idKey: Record<string, string> = {
    bos: "tokenizer.ggml.bos_token_id",
    eos: "tokenizer.ggml.eos_token_id",
    unk: "tokenizer.ggml.unknown_token_id",
    sep: "tokenizer.ggml.seperator_token_id",
    pad: "tokenizer.ggml.padding_token_id",
    mask: "tokenizer.ggml.mask_token_id",
    eot: "tokenizer.ggml.eot_token_id",
    eom: "tokenizer.ggml.eom_token_id",
  };
  for (const [typ, id] of special.ids) if (idKey[typ] && id < vocabSize) kvs.set(idKey[typ], kvU32(id));
  const addKey: Record<string, string> = { bos: "tokenizer.ggml.add_bos_token", eos: "tokenizer.ggml.add_eos_token", sep: "tokenizer.ggml.add_sep_token" };
  for (const [typ, v] of special.add) if (addKey[typ]) kvs.set(addKey[typ], kvBool(v));
  if (typeof special.chatTemplate === "string") kvs.set("tokenizer.chat_template", kvStr(special.chatTemplate));
  return kvs;
}

interface SpecialVocabResult {
  merges: string[];
  ids: Map<string, number>;
  add: Map<string, boolean>;
  chatTemplate: string | undefined;
}

type TokenizerConfig = Record<string, unknown>;

/** gguf-py SpecialVocab(load_merges=True) for the parts a Llama-style BPE checkpoint uses. */
function specialVocab(dir: string, tok: TokenizerJson, added: AddedToken[]): SpecialVocabResult {
  const types: string[] = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  let merges: string[] = [];
  const m = tok.model?.merges;
  if (Array.isArray(m) && m.length) {
    if (typeof m[0] === "string") merges = m as string[];
    else merges = (m as [string, string][]).map((pair) => pair.map((p) => p.replaceAll(" ", "\u0120")).join(" "));
  }
  const tcFile = join(dir, "tokenizer_config.json");
  const tc = readJson<TokenizerConfig>(tcFile);
  const contentOf = (v: unknown): string | undefined =>
    typeof v === "string"
      ? v
      : v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string"
        ? (v as { content: string }).content
        : undefined;
  let specialBos = contentOf(tc?.bos_token);
  let specialEos = contentOf(tc?.eos_token);
  const specialCls = contentOf(tc?.cls_token);
  const pp = tok.post_processor;
  if (pp) {
    const procs = (Array.isArray((pp as { processors?: unknown }).processors) ? (pp as { processors: Record<string, unknown>[] }).processors : [pp]) as Record<
      string,
      unknown
    >[];
    for (const proc of procs) {
      if (proc.type === "RobertaProcessing") {
        add.set("bos", true);
        add.set("eos", true);
        add.set("sep", true);
        continue;
      }
      if (proc.type !== "TemplateProcessing") continue;
      const single = (proc.single ?? []) as { SpecialToken?: { id?: string } }[];
      if (single.length > 1) {
        const first = single[0].SpecialToken?.id;
        if (first) {
          if (!tc) specialBos = first;
          else if (first !== specialBos && first !== specialCls && !specialBos) {
            tc.bos_token = first;
            specialBos = first;
          }
          add.set("bos", first === specialBos || first === specialCls);
        }
        const last = single[single.length - 1].SpecialToken?.id;
        if (last) {
          if (!tc) specialEos = last;
          else if (last !== specialEos) {
            if (!types.includes("eot")) {
              types.push("eot");
              tc.eot_token = specialEos;
            } else if (!types.includes("eom")) {
              types.push("eom");
              tc.eom_token = specialEos;
            }
            tc.eos_token = last;
            specialEos = last;
          }
          add.set("eos", last === specialEos);
        }
      }
    }
  }
  let chatTemplate: string | undefined;
  if (tc) {
    const jinja = join(dir, "chat_template.jinja");
    const cjson = join(dir, "chat_template.json");
    let alt: string | undefined;
    if (existsSync(jinja)) alt = readFileSync(jinja, "utf8");
    else if (existsSync(cjson)) alt = readJson<{ chat_template?: string }>(cjson)?.chat_template;
    const ct = "chat_template" in tc ? tc.chat_template : alt;
    if (typeof ct === "string") chatTemplate = ct;
    for (const typ of types) {
      const a = tc[`add_${typ}_token`];
      if (typeof a === "boolean") add.set(typ, a);
      const content = contentOf(tc[`${typ}_token`]);
      if (content === undefined) continue;
      const hit = added.find((t) => t.content === content);
      if (hit && hit.id >= 0 && !ids.has(typ)) ids.set(typ, hit.id);
    }
  }
  const cfg = readJson<Record<string, unknown>>(join(dir, "config.json"));
  if (cfg) {
    for (const typ of types) {
      let v = cfg[`${typ}_token_id`];
      if (v === undefined && cfg.text_config && typeof cfg.text_config === "object") v = (cfg.text_config as Record<string, unknown>)[`${typ}_token_id`];
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && !ids.has(typ)) ids.set(typ, v);
    }
  }
  return { merges, ids, add, chatTemplate };
}
