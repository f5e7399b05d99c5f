/**
 * The tail both pipelines share (convert HF → GGUF, quantize GGUF → GGUF): every tensor is cut into units,
 * each unit is encoded by the pool, the results are written in tensor order, per-expert errors are summed
 * as they pass, and the run ends in one summary. Each pipeline only says how to read a unit.
 */
import { GGMLType, GGML_TYPE_INFO, type GGUFWriter } from "@moeq/formats";
import { ExpertErrorCollector, writeExpertErrors, type ExpertErrorRow } from "./expert-errors.js";
import type { EncodeJob } from "./encode-rows.js";
import { planUnits, type Unit } from "./tensor-units.js";
import { runOrdered, type EncodePool } from "./work-pool.js";

/** What the pipelines need of a tensor: its name and ggml-order dims. */
export interface UnitTensor {
  readonly name: string;
  readonly ne: readonly number[];
}

/** One unit's work: a job for the pool, or bytes copied through unchanged (`raw`, error 0 by construction). */
export type UnitWork = { readonly job: EncodeJob; readonly raw?: undefined } | { readonly raw: Uint8Array };

export interface WriteUnitsParams<T extends UnitTensor> {
  /** Its tensors already declared and its header written (or a shard's sink for the same calls). */
  readonly writer: Pick<GGUFWriter, "writeTensorData">;
  /** In write order. */
  readonly tensors: readonly T[];
  readonly pool: EncodePool;
  /** Reads and prepares unit `u` of tensor `i`. */
  readonly unitWork: (t: T, i: number, u: Unit) => Promise<UnitWork>;
  readonly maxUnitElements?: number;
  /** Sums per-(tensor, expert) squared errors when set (each job then measures its error). */
  readonly errors?: Pick<ExpertErrorCollector, "add">;
  /** Awaited when tensor `i`'s last bytes are written (before onTensor): e.g. to record it as finished. */
  readonly afterTensor?: (i: number, name: string) => Promise<void>;
  readonly onTensor?: (i: number, n: number, name: string) => void;
}

interface UnitTag {
  readonly last: boolean;
  readonly expert: number;
  readonly n: number;
  readonly raw?: Uint8Array;
}

/** A copied unit still goes through the pool as an empty job, so the write order stays one queue. */
const NO_JOB = (nPerRow: number): EncodeJob => ({ type: GGMLType.F32, data: new Float32Array(0), nrows: 0, nPerRow });

/** Encodes every unit of every tensor through the pool and writes the results in order; returns the data bytes written. */
export async function writeUnitsInOrder<T extends UnitTensor>(p: WriteUnitsParams<T>): Promise<number> {
  const { writer, tensors, errors } = p;
  async function* jobs(): AsyncGenerator<{ job: EncodeJob; tag: UnitTag }> {
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      const units = planUnits(t.ne, p.maxUnitElements);
      for (let k = 0; k < units.length; k++) {
        const u = units[k];
        const tag = { last: k === units.length - 1, expert: u.expert, n: u.nrows * t.ne[0] };
        const work = await p.unitWork(t, i, u);
        if (work.raw) yield { job: NO_JOB(t.ne[0]), tag: { ...tag, raw: work.raw } };
        else yield { job: { ...work.job, measureError: errors !== undefined }, tag };
      }
    }
  }
  let tensorIdx = 0;
  let outBytes = 0;
  await runOrdered(p.pool, jobs(), async (r, tag) => {
    const t = tensors[tensorIdx];
    const bytes = tag.raw ?? r.bytes;
    await writer.writeTensorData(t.name, bytes);
    outBytes += bytes.length;
    errors?.add(t.name, t.ne, tag.expert, tag.raw ? 0 : (r.sumSquaredError ?? 0), tag.n);
    if (tag.last) {
      await p.afterTensor?.(tensorIdx, t.name);
      p.onTensor?.(tensorIdx, tensors.length, t.name);
      tensorIdx++;
    }
  });
  return outBytes;
}

/** The expert-error rows, written to `path` (crash-safe), or undefined when errors were not measured. */
export async function finishExpertErrors(errors: ExpertErrorCollector | undefined, path: string | undefined): Promise<ExpertErrorRow[] | undefined> {
  if (!errors || !path) return undefined;
  const rows = errors.result();
  await writeExpertErrors(path, rows);
  return rows;
}

/** What a pipeline run wrote: each tensor with its type and size, the totals, and the time taken. */
export interface WriteSummary {
  readonly tensors: { name: string; type: string; ne: number[]; bytes: number }[];
  readonly outputBytes: number;
  readonly nElements: number;
  readonly bitsPerWeight: number;
  readonly seconds: number;
}

/** Sums up a finished writer; `tensors` are the source tensors in write order (their ne, not ggml_n_dims'). */
export function writeSummary(writer: GGUFWriter, tensors: readonly UnitTensor[], outputBytes: number, startedAt: number): WriteSummary {
  const nElements = tensors.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
  return {
    tensors: writer.tensors.map((t, i) => ({ name: t.name, type: GGML_TYPE_INFO[t.type].name, ne: [...tensors[i].ne], bytes: t.byteLength })),
    outputBytes,
    nElements,
    bitsPerWeight: (outputBytes * 8) / nElements,
    seconds: (performance.now() - startedAt) / 1000,
  };
}
