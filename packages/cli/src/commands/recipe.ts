import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { GGMLType, GGML_TYPE_INFO, InputError, openGguf, writeFileAtomic } from "@moeq/formats";
import {
  RECIPE_FTYPE,
  checkImatrixNeeds,
  chooseTypes,
  groupTensors,
  quantizableTensors,
  formatRecipe,
  measureGroupCosts,
  quantizeGguf,
  smallestFileBytes,
  type Measurement,
  type RecipeRule,
} from "@moeq/convert";
import { ensureBaseLogits, klDivergence, openEvalModel } from "@moeq/eval";
import { ggmlTypeArg, parseTensorTypeOverrides } from "./quantize.js";

interface RecipeArgs {
  input: string;
  output: string;
  size?: string;
  bpw?: number;
  data: string;
  imatrix?: string;
  types?: string;
  ctx: number;
  chunks: number;
  threads: number;
  report?: string;
  gguf?: string;
  costs?: string;
  json: boolean;
}

const T = GGMLType;
/** Candidate ladders: with an imatrix every i-quant; without one only the types llama-quantize accepts without it. */
export const LADDER_WITH_IMATRIX = [
  T.IQ1_S,
  T.IQ1_M,
  T.IQ2_XXS,
  T.IQ2_XS,
  T.IQ2_S,
  T.Q2_K,
  T.IQ3_XXS,
  T.IQ3_S,
  T.Q3_K,
  T.IQ4_XS,
  T.Q4_K,
  T.Q5_K,
  T.Q6_K,
  T.Q8_0,
];
export const LADDER_WITHOUT_IMATRIX = [T.Q2_K, T.IQ3_S, T.Q3_K, T.IQ4_XS, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_0];

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** "2.7GB" (decimal), "2.5GiB" (binary), "123456" (bytes). */
export function parseByteBudget(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  const unit = m ? UNITS[(m[2] || "b").toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InputError("BAD_SIZE", `--size expects a number with B, KB, MB, GB, KiB, MiB or GiB, got "${s}"`);
  return Math.floor(Number(m[1]) * unit);
}

/** The candidate with the fewest bytes per weight. */
const smallestType = (types: readonly GGMLType[]): GGMLType => {
  const bpw = (t: GGMLType): number => GGML_TYPE_INFO[t].typeSize / GGML_TYPE_INFO[t].blockSize;
  return types.reduce((a, t) => (bpw(t) < bpw(a) ? t : a));
};

/** Every tensor's element count (llama-quantize's bits-per-weight denominator) and the header's bytes. */
async function elementsAndHeader(path: string): Promise<{ nElements: number; headerBytes: number }> {
  const f = await openGguf(path);
  try {
    return { nElements: f.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0), headerBytes: f.dataOffset };
  } finally {
    await f.close();
  }
}

/** A costs file measured with the same settings, or undefined when there is none yet. */
function readCosts(path: string, key: object): Measurement | undefined {
  if (!existsSync(path)) return undefined;
  let doc: { key?: unknown; measurement?: Measurement };
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new InputError("BAD_COSTS", `cannot read costs: ${(e as Error).message}`, { file: path });
  }
  if (JSON.stringify(doc.key) !== JSON.stringify(key) || !doc.measurement) {
    throw new InputError(
      "COSTS_MISMATCH",
      "costs were measured with other settings (input, data, imatrix, types, ctx or chunks); delete the file or match them",
      { file: path },
    );
  }
  return doc.measurement;
}

const typeName = (t: number): string => GGML_TYPE_INFO[t as GGMLType].name.toUpperCase();

export const recipeCommand: CommandModule<object, RecipeArgs> = {
  command: "recipe <input>",
  describe:
    "measure each tensor group's KLD cost per type on calibration text, then choose per-tensor types for a size budget (llama-quantize --tensor-type rules)",
  builder: (y: Argv) =>
    y
      .positional("input", { type: "string", demandOption: true, describe: "F32/F16/BF16 GGUF (the KLD base)" })
      .option("output", {
        alias: "o",
        type: "string",
        demandOption: true,
        describe: "recipe file: PATTERN=TYPE lines (moeq quantize --recipe, llama-quantize --tensor-type-file)",
      })
      .option("size", { type: "string", describe: "file size budget, e.g. 2.7GB or 2.5GiB" })
      .option("bpw", { type: "number", describe: "budget in bits per weight (file bytes × 8 / elements, as llama-quantize prints)" })
      .option("data", { type: "string", demandOption: true, describe: "calibration text (the KLD chunks)" })
      .option("imatrix", { type: "string", describe: "importance matrix (GGUF imatrix or legacy .dat) for every quantization" })
      .option("types", { type: "string", describe: "comma-separated candidate types (default: a ladder from IQ1_S, or Q2_K without an imatrix, to Q8_0)" })
      .option("ctx", { type: "number", default: 512, describe: "KLD context length" })
      .option("chunks", { type: "number", default: 8, describe: "calibration chunks per measurement" })
      .option("threads", { type: "number", default: 1, describe: "runtime and quantize threads" })
      .option("report", { type: "string", describe: "JSON report (default: <output>.json)" })
      .option("gguf", { type: "string", describe: "keep the verifying quantized GGUF here (default: a temp file, deleted)" })
      .option("costs", {
        type: "string",
        describe:
          "measured costs (JSON): reused when the file exists and was measured with the same input, data, imatrix, types, ctx and chunks; written otherwise",
      })
      .option("json", { type: "boolean", default: false, describe: "print the report's summary as JSON on stdout" }) as unknown as Argv<RecipeArgs>,
  handler: async (a) => {
    if ((a.size === undefined) === (a.bpw === undefined)) throw new InputError("BAD_BUDGET", "give exactly one of --size and --bpw");
    if (a.bpw !== undefined && !(a.bpw > 0)) throw new InputError("BAD_BUDGET", `--bpw must be positive, got ${a.bpw}`);
    for (const [k, v] of [
      ["ctx", a.ctx],
      ["chunks", a.chunks],
      ["threads", a.threads],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new InputError("BAD_ARG", `--${k} must be a positive integer, got ${v}`);
    }
    const types = a.types ? a.types.split(",").map((s) => ggmlTypeArg("--types", s.trim())) : a.imatrix ? LADDER_WITH_IMATRIX : LADDER_WITHOUT_IMATRIX;
    const work = mkdtempSync(join(tmpdir(), "moeq-recipe-"));
    const log = (s: string): void => void process.stderr.write(s);
    try {
      const { nElements, headerBytes } = await elementsAndHeader(a.input);
      // --bpw counts tensor data as llama-quantize's bpw does; the file adds the header and unquantized tensors
      const budget = a.size !== undefined ? parseByteBudget(a.size) : Math.floor((a.bpw! * nElements) / 8) + headerBytes;
      const tensors = await quantizableTensors(a.input);
      checkImatrixNeeds(groupTensors(tensors.map((t) => t.name)), types, a.imatrix !== undefined, a.input);
      const smallest = await smallestFileBytes(a.input, types);
      if (budget < smallest)
        throw new InputError(
          "BUDGET_TOO_SMALL",
          `budget ${budget} bytes is below the smallest possible file (${smallest} bytes, every quantizable tensor at ${typeName(smallestType(types))})`,
          { file: a.input },
        );

      const basePath = join(work, "base.kld");
      await ensureBaseLogits(basePath, { data: a.data, ctx: a.ctx, chunks: a.chunks }, () => openEvalModel(a.input, { threads: a.threads }));
      const kld = async (gguf: string): Promise<number> => {
        const m = await openEvalModel(gguf, { threads: a.threads });
        try {
          return (await klDivergence(m, basePath, { chunks: a.chunks })).kldMean.value;
        } finally {
          await m.close();
        }
      };
      const costsKey = {
        input: resolve(a.input),
        data: resolve(a.data),
        imatrix: a.imatrix ? resolve(a.imatrix) : null,
        types: types.map(typeName),
        ctx: a.ctx,
        chunks: a.chunks,
      };
      let meas = a.costs ? readCosts(a.costs, costsKey) : undefined;
      if (!meas) {
        meas = await measureGroupCosts({
          input: a.input,
          types,
          imatrixPath: a.imatrix,
          workDir: work,
          threads: a.threads,
          kld,
          onStep: (d, n, label) => log(`recipe: measured ${d}/${n} ${label}\n`),
        });
        if (a.costs) await writeFileAtomic(a.costs, JSON.stringify({ key: costsKey, measurement: meas }) + "\n");
      }
      const choice = chooseTypes(
        meas.groups.map((g) => g.options),
        budget - meas.fixedBytes,
      );
      if (!choice)
        throw new InputError(
          "BUDGET_TOO_SMALL",
          `budget ${budget} bytes is below the smallest possible file (${meas.fixedBytes + meas.groups.reduce((s, g) => s + Math.min(...g.options.map((o) => o.bytes)), 0)} bytes)`,
          { file: a.input },
        );
      const rules: RecipeRule[] = meas.groups.map((g, i) => ({ pattern: g.pattern, type: g.options[choice.picks[i]].type as GGMLType }));
      const recipeText = formatRecipe(rules);
      await writeFileAtomic(a.output, recipeText);

      // verify: quantize with the recipe's rules (parsed as --tensor-type would parse them) and measure
      const gguf = a.gguf ?? join(work, "recipe.gguf");
      const q = await quantizeGguf(a.input, gguf, {
        ftype: RECIPE_FTYPE,
        imatrixPath: a.imatrix,
        threads: a.threads,
        tensorTypes: parseTensorTypeOverrides(recipeText.split(/\s+/).filter(Boolean)),
      });
      const measuredKld = await kld(gguf);
      const fileBytes = statSync(gguf).size;
      const report = {
        input: a.input,
        recipe: a.output,
        data: a.data,
        ctx: a.ctx,
        chunks: a.chunks,
        imatrix: a.imatrix ?? null,
        budgetBytes: budget,
        predictedBytes: meas.fixedBytes + choice.bytes,
        fileBytes,
        bitsPerWeight: q.bitsPerWeight,
        baselineKld: meas.baselineKld,
        predictedKld: meas.baselineKld + choice.predictedKld,
        measuredKld,
        groups: meas.groups.map((g, i) => ({
          group: g.key,
          pattern: g.pattern,
          type: typeName(g.options[choice.picks[i]].type),
          bytes: g.options[choice.picks[i]].bytes,
          cost: g.options[choice.picks[i]].cost,
          measured: g.options.map((o) => ({ type: typeName(o.type), bytes: o.bytes, kld: o.kld })),
        })),
      };
      await writeFileAtomic(a.report ?? `${a.output}.json`, JSON.stringify(report, null, 1) + "\n");
      const summary = {
        recipe: a.output,
        budgetBytes: budget,
        fileBytes,
        bitsPerWeight: Number(q.bitsPerWeight.toFixed(4)),
        predictedKld: report.predictedKld,
        measuredKld,
      };
      if (a.json) process.stdout.write(JSON.stringify(summary) + "\n");
      else
        log(
          `moeq: wrote ${a.output}: ${fileBytes} bytes (budget ${budget}), ${q.bitsPerWeight.toFixed(3)} bpw, KLD predicted ${report.predictedKld.toFixed(6)} measured ${measuredKld.toFixed(6)}\n`,
        );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
