/**
 * Measures each group's KLD cost per candidate type: one GGUF per (group, type) with only that group lowered and
 * every other quantizable tensor kept at its input type (llama-quantize --tensor-type rules through quantizeGguf), scored
 * by the caller's KLD function (the eval package's, on calibration chunks). The bytes come from the written files,
 * so llama-quantize's shape fallbacks and the header are counted exactly.
 */
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { GGMLType, GGML_TYPE_INFO, InputError, openGguf } from "@moeq/formats";
import { quantizeRequiresImatrix } from "@moeq/quant";
import { LlamaFType } from "../ftype.js";
import { readImatrix } from "../imatrix.js";
import { quantizeGguf, type QuantizeSummary } from "../quantize-gguf.js";
import { tensorAllowsQuantization, tensorRequiresImatrix } from "../tensor-type-choice.js";
import { groupTensors, type TensorGroup } from "./groups.js";
import type { GroupOption } from "./choose.js";

/** The nominal file type of the measuring files and of a recipe's output (every quantizable tensor is named by a rule). */
export const RECIPE_FTYPE = LlamaFType.MOSTLY_Q8_0;

export interface MeasureOptions {
  /** F32/F16/BF16 GGUF: the base the KLD is measured against. */
  readonly input: string;
  /** Candidate types (a ladder), any order. */
  readonly types: readonly GGMLType[];
  readonly imatrixPath?: string;
  /** Scratch folder for the measuring files (each is deleted after it is scored). */
  readonly workDir: string;
  readonly threads?: number;
  /** Mean KLD of a GGUF against the base logits. */
  readonly kld: (gguf: string) => Promise<number>;
  readonly onStep?: (done: number, total: number, label: string) => void;
}

export interface GroupMeasurement extends TensorGroup {
  readonly inputBytes: number;
  /** One per candidate type: file bytes of the group, KLD of the file, and cost = KLD − baseline KLD. */
  readonly options: (GroupOption & { readonly kld: number })[];
}

export interface Measurement {
  readonly groups: GroupMeasurement[];
  /** KLD with every tensor at its input type (0 up to the runtime's float order when the base logits come from the input). */
  readonly baselineKld: number;
  /** File bytes that no choice changes: header and non-quantizable tensors (group bytes include their padding). */
  readonly fixedBytes: number;
  readonly inputFileBytes: number;
  readonly nElements: number;
}

const escapeName = (s: string): string => `^${s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;

/** Refuses candidate types that need an imatrix for some group's tensors when none is given (llama.cpp's message). */
export function checkImatrixNeeds(groups: readonly TensorGroup[], types: readonly GGMLType[], hasImatrix: boolean, file: string): void {
  if (hasImatrix) return;
  for (const t of types) {
    for (const g of groups) {
      const name = g.tensors.find((n) => tensorRequiresImatrix(n, t, RECIPE_FTYPE));
      if (name) {
        throw new InputError(
          "IMATRIX_REQUIRED",
          `this quantization requires an imatrix! (offending tensor: ${name}, target type: ${GGML_TYPE_INFO[t].name}); pass --imatrix or drop it from --types`,
          {
            file,
            details: { tensor: name, type: GGML_TYPE_INFO[t].name },
          },
        );
      }
    }
  }
}

/** The quantizable tensors of a GGUF with their types, in file order. */
export async function quantizableTensors(input: string): Promise<{ name: string; type: GGMLType; ne: number[] }[]> {
  const f = await openGguf(input);
  try {
    return f.tensors
      .filter((t) => tensorAllowsQuantization({ name: t.name, ne: t.shape, type: t.type }))
      .map((t) => ({ name: t.name, type: t.type, ne: [...t.shape] }));
  } finally {
    await f.close();
  }
}

/** Shape-only estimate (a row that is no multiple of the block would fall back to another type; counted as whole blocks). */
const tensorBytes = (type: GGMLType, ne: readonly number[]): number => {
  const info = GGML_TYPE_INFO[type];
  return padded(Math.ceil(ne[0] / info.blockSize) * info.typeSize * ne.slice(1).reduce((a, b) => a * b, 1));
};

/** File bytes that are not quantizable tensor data (header, norms, router), from the input's shapes. */
export async function nonQuantizableBytes(input: string): Promise<number> {
  const tensors = await quantizableTensors(input);
  return tensors.reduce((a, t) => a - tensorBytes(t.type, t.ne), statSync(input).size);
}

/**
 * The smallest file any choice from `types` can give, from the shapes alone (before measuring anything): the input's
 * size with every quantizable tensor at its smallest candidate type.
 */
export async function smallestFileBytes(input: string, types: readonly GGMLType[]): Promise<number> {
  const tensors = await quantizableTensors(input);
  return tensors.reduce((a, t) => a + Math.min(...types.map((ty) => tensorBytes(ty, t.ne))), await nonQuantizableBytes(input));
}

export async function measureGroupCosts(opts: MeasureOptions): Promise<Measurement> {
  const tensors = await quantizableTensors(opts.input);
  const inputType = new Map(tensors.map((t) => [t.name, t.type]));
  const groups = groupTensors(tensors.map((t) => t.name));
  checkImatrixNeeds(groups, opts.types, opts.imatrixPath !== undefined, opts.input);
  let done = 0;

  const run = async (
    label: string,
    lowered: TensorGroup | undefined,
    type: GGMLType | undefined,
  ): Promise<{ s: QuantizeSummary; fileBytes: number; kld: number }> => {
    const rules = tensors.map((t) => ({
      pattern: new RegExp(escapeName(t.name)),
      type: lowered && type !== undefined && lowered.tensors.includes(t.name) ? type : inputType.get(t.name)!,
    }));
    const out = join(opts.workDir, `measure-${done}.gguf`);
    try {
      const s = await quantizeGguf(opts.input, out, { ftype: RECIPE_FTYPE, imatrixPath: opts.imatrixPath, threads: opts.threads, tensorTypes: rules });
      const kld = await opts.kld(out);
      opts.onStep?.(++done, total, label);
      return { s, fileBytes: statSync(out).size, kld };
    } finally {
      rmSync(out, { force: true });
    }
  };
  const groupBytes = (s: QuantizeSummary, g: TensorGroup): number =>
    s.tensors.filter((t) => g.tensors.includes(t.name)).reduce((a, t) => a + padded(t.bytes), 0);

  // ggml's IQ1_S/IQ1_M/IQ2_XXS/IQ2_XS codecs need an imatrix row for every tensor (token_embd never has one)
  const imatrixNames = opts.imatrixPath ? new Set((await readImatrix(opts.imatrixPath)).entries.keys()) : new Set<string>();
  const candidates = (g: TensorGroup): GGMLType[] => opts.types.filter((t) => !quantizeRequiresImatrix(t) || g.tensors.every((n) => imatrixNames.has(n)));
  const total = 1 + groups.reduce((a, g) => a + candidates(g).length, 0);
  const base = await run("baseline", undefined, undefined);
  const measured: GroupMeasurement[] = [];
  for (const g of groups) {
    const options: GroupMeasurement["options"][number][] = [];
    const types = candidates(g);
    if (types.length === 0)
      throw new InputError("RECIPE_NO_TYPE", `no candidate type can quantize ${g.key} without an imatrix entry for it`, {
        file: opts.imatrixPath ?? opts.input,
      });
    for (const t of types) {
      const r = await run(`${g.key} ${GGML_TYPE_INFO[t].name}`, g, t);
      options.push({ type: t, bytes: groupBytes(r.s, g), kld: r.kld, cost: Math.max(0, r.kld - base.kld) });
    }
    measured.push({ ...g, inputBytes: groupBytes(base.s, g), options });
  }
  const fixedBytes = base.fileBytes - measured.reduce((a, g) => a + g.inputBytes, 0);
  return { groups: measured, baselineKld: base.kld, fixedBytes, inputFileBytes: base.s.inputBytes, nElements: base.s.nElements };
}

/** GGUF tensor data is aligned to 32 bytes (general.alignment default). */
const padded = (n: number): number => Math.ceil(n / 32) * 32;
