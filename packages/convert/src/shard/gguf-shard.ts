/**
 * A GGUF pipeline's tail, whole or as one shard, resumable either way: the unit of work (of sharding and of
 * resuming) is a tensor. Shards get tensors dealt by estimated compute (tensorCost, LPT assignUnitsToShards). Every run plans the
 * whole file (header, offsets) and builds its bytes in `<out>.partial/` (ResumableOutput): the file itself, or the
 * shard file `<out>.shard-i-of-N` whose units `moeq merge` puts at their planned offsets, byte-identical to the
 * unsharded file. A killed run rerun with the same arguments redoes only the tensors its journal lacks.
 */
import { createHash } from "node:crypto";
import { InputError, ggufPad, type GGUFWriter } from "@moeq/formats";
import { writeUnitsInOrder, type UnitTensor, type WriteUnitsParams } from "../write-units.js";
import { ResumableOutput } from "../resume/resumable-output.js";
import type { ResumeNote } from "../resume/work-dir.js";
import { unitsOfShard, type ShardSpec } from "./shard-spec.js";

/** `--shard`, as a GGUF pipeline takes it: which shard, and what else (besides the planned header) names the inputs. */
export interface GgufShardRun {
  readonly spec: ShardSpec;
  /** Input identity not visible in the header (input sizes, the command), hashed into the fingerprint. */
  readonly inputs: string;
}

/** How a GGUF pipeline run writes: its identity, and `--shard` when given. */
export interface GgufRun {
  /** Input identity not visible in the header (the command, the imatrix), the same on every machine. */
  readonly inputs: string;
  /** Sizes and mtimes of the input files on this machine (inputStamp): a changed input starts a rerun over. */
  readonly localInputs: string;
  readonly shard?: ShardSpec;
  /** Told what the work folder held (units done and in all; whether another run's work was thrown away). */
  readonly onResume?: (note: ResumeNote) => void;
}

/** What writeGgufUnits wrote: data bytes, and the output, complete but not yet under its final name. */
export interface GgufUnitsResult {
  readonly outBytes: number;
  /** Tensors an earlier (killed) run had finished. */
  readonly resumedUnits: number;
  /** `finish()` renames it into place (the output, or its shard file) and returns that path; `discard()` drops it. */
  readonly pending: ResumableOutput;
}

/** Refuses options a shard cannot honour (per-expert errors are summed over the whole run). */
export function checkShardable(shard: ShardSpec | undefined, expertErrorsPath: string | undefined): void {
  if (shard && shard.count > 1 && expertErrorsPath !== undefined) {
    throw new InputError("SHARD_UNSUPPORTED", "--expert-errors cannot be combined with --shard (run it unsharded)");
  }
}

type ErrorAdd = [expert: number, sse: number, n: number];

/** The tensors to write and how (WriteUnitsParams without the writer), and what each costs. */
export type GgufUnitsParams<T extends UnitTensor> = Omit<WriteUnitsParams<T>, "writer"> & {
  /** Estimated ns of one core per tensor (unit-cost.ts tensorCost), in `tensors`' order: what `--shard` deals them by. */
  readonly costs: readonly number[];
};

/**
 * Writes every tensor's units (or, with `run.shard`, this shard's) for `writer.path` (or its shard file) into the
 * resume work folder; the caller then finishes (or discards) `pending`. `writer` is used for planning only.
 */
export async function writeGgufUnits<T extends UnitTensor>(writer: GGUFWriter, p: GgufUnitsParams<T>, run: GgufRun): Promise<GgufUnitsResult> {
  const header = writer.buildHeader();
  const infos = writer.tensors;
  if (p.costs.length !== infos.length) throw new RangeError(`${p.costs.length} tensor costs for ${infos.length} tensors`);
  const mine = run.shard ? unitsOfShard(p.costs, run.shard) : infos.map((_, i) => i);
  const last = infos[infos.length - 1];
  const totalBytes = header.length + (last ? last.offset + ggufPad(last.byteLength, writer.alignment) : 0);
  const out = await ResumableOutput.open({
    output: writer.path,
    files: [{ name: "", size: totalBytes }],
    fixed: [{ id: "header", at: 0, bytes: header }],
    units: mine
      .filter((i) => infos[i].byteLength > 0)
      .map((i) => ({ unit: infos[i].name, pieces: [{ id: infos[i].name, at: header.length + infos[i].offset, length: infos[i].byteLength }] })),
    fingerprint: createHash("sha256").update(header).update(run.inputs).digest("hex"),
    localInputs: run.localInputs,
    shard: run.shard ? { spec: run.shard, kind: "gguf", totalUnits: infos.filter((t) => t.byteLength > 0).length + 1 } : undefined,
    onResume: run.onResume,
  });
  try {
    const todo = mine.filter((i) => !out.isDone(infos[i].name));
    const tensors = todo.map((i) => p.tensors[i]);
    // per-expert errors are kept per tensor (and journaled with it), then summed in tensor order as one run would
    const adds = new Map<string, ErrorAdd[]>();
    const recorder = p.errors && {
      add: (name: string, _ne: readonly number[], expert: number, sse: number, n: number) => {
        const list = adds.get(name) ?? [];
        list.push([expert, sse, n]);
        adds.set(name, list);
      },
    };
    const written = await writeUnitsInOrder<T>({
      ...p,
      writer: { writeTensorData: async (name, bytes) => (bytes.length > 0 ? out.write(name, bytes) : undefined) },
      tensors,
      errors: recorder,
      unitWork: (t, j, u) => p.unitWork(t, todo[j], u),
      afterTensor: async (j, name) => {
        if (infos[todo[j]].byteLength > 0) await out.complete(name, recorder ? (adds.get(name) ?? []) : undefined);
      },
      onTensor: p.onTensor ? (j, _n, name) => p.onTensor!(j, tensors.length, name) : undefined,
    });
    if (p.errors) {
      for (const i of mine) {
        const t = p.tensors[i];
        const list = adds.get(t.name) ?? (out.metaOf(t.name) as ErrorAdd[] | undefined) ?? [];
        for (const [expert, sse, n] of list) p.errors.add(t.name, t.ne, expert, sse, n);
      }
    }
    const pending = new Set(todo);
    const done = mine.filter((i) => !pending.has(i));
    return { outBytes: written + done.reduce((a, i) => a + infos[i].byteLength, 0), resumedUnits: done.length, pending: out };
  } catch (err) {
    await out.discard();
    throw err;
  }
}
