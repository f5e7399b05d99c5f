/**
 * Every byte of a `moeq fp8` output folder, planned before any work: the safetensors files (headers and each
 * tensor's place, as SafetensorsWriter writes them), the index, config.json and the tokenizer / processor files.
 * The work unit (of resuming and of `--shard`) is a plan item: one Linear or expert matrix (its weight, scale and
 * input scale), or one tensor copied unchanged. The folder is seen as its files laid end to end.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { planSafetensorsLayout } from "@moeq/formats";
import type { Fp8Scheme } from "@moeq/quant";
import { HF_SIDE_FILES } from "../output-dir.js";
import type { LinearPlanItem } from "../linear-plan.js";
import type { FixedBytes, OutputPiece } from "../resume/resumable-output.js";
import { fp8OutputTensors } from "./fp8-outputs.js";

/** The shard kind of `moeq fp8 --shard` files (merged into the folder by `moeq merge`). */
export const FP8_SHARD_KIND = "fp8";

export interface Fp8OutputLayout {
  /** The folder's files in order (relative names) and their sizes. */
  readonly files: readonly { readonly name: string; readonly size: number }[];
  /** Headers, index, config and side files. */
  readonly fixed: readonly FixedBytes[];
  /** One per plan item, in plan order. */
  readonly units: readonly { readonly unit: string; readonly pieces: readonly OutputPiece[] }[];
  /** Fixed entries plus pieces: the units of a shard set. */
  readonly totalPieces: number;
  /** The safetensors files, then the index when there is one (relative names). */
  readonly weightFiles: readonly string[];
  /** Tensor data bytes (headers excluded). */
  readonly tensorBytes: number;
}

/** Plans the folder for `items`; `config` is the config.json text to write. */
export function planFp8Output(
  hfDir: string,
  items: readonly LinearPlanItem[],
  scheme: Fp8Scheme,
  staticInputs: boolean,
  maxShardBytes: number,
  config: string,
): Fp8OutputLayout {
  const perItem = items.map((it) => fp8OutputTensors(it, scheme, staticInputs));
  const st = planSafetensorsLayout("model.safetensors", perItem.flat(), { maxShardBytes });
  const files: { name: string; size: number }[] = [];
  const fixed: FixedBytes[] = [];
  let at = 0;
  const starts: number[] = [];
  for (const f of st.files) {
    starts.push(at);
    files.push({ name: f.path, size: f.size });
    fixed.push({ id: `header:${f.path}`, at, bytes: f.header });
    at += f.size;
  }
  const small = (name: string, bytes: Uint8Array): void => {
    files.push({ name, size: bytes.length });
    fixed.push({ id: `file:${name}`, at, bytes });
    at += bytes.length;
  };
  const utf8 = new TextEncoder();
  if (st.index) small(st.index.path, utf8.encode(st.index.text));
  small("config.json", utf8.encode(config));
  for (const name of HF_SIDE_FILES) if (existsSync(join(hfDir, name))) small(name, readFileSync(join(hfDir, name)));
  const place = new Map(st.tensors.map((t) => [t.name, t]));
  let pieces = 0;
  const units = items.map((it, i) => {
    const ps = perItem[i]!.map((o) => {
      const t = place.get(o.name)!;
      return { id: o.name, at: starts[t.file]! + t.offset, length: t.byteLength };
    }).filter((p) => p.length > 0);
    pieces += ps.length;
    return { unit: it.kind === "copy" ? it.src.name : it.base, pieces: ps };
  });
  return {
    files,
    fixed,
    units,
    totalPieces: fixed.length + pieces,
    weightFiles: [...st.files.map((f) => f.path), ...(st.index ? [st.index.path] : [])],
    tensorBytes: st.tensors.reduce((a, t) => a + t.byteLength, 0),
  };
}

/** What the output bytes depend on besides the weights (the same on every machine of a sharded run). */
export function fp8Fingerprint(opts: object, dataFile: string | undefined, layout: Fp8OutputLayout): string {
  const h = createHash("sha256").update(JSON.stringify({ command: "fp8", opts, files: layout.files }));
  for (const f of layout.fixed) h.update(f.bytes);
  if (dataFile) h.update(readFileSync(dataFile));
  return h.digest("hex");
}
