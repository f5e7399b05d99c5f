/**
 * An output whose every byte is planned up front (a GGUF file, a safetensors folder), built through a resume work
 * folder (ResumeWorkDir) either in place or as one `--shard i/N` shard file:
 *
 * - whole: the image holds the output's files at their final sizes; each piece goes at its final offset, and the
 *   image is renamed to the output when every unit is in;
 * - shard: the image is the shard file (shard-file.ts layout): head, then this shard's fixed bytes (shard 1 only)
 *   and pieces back to back at planned payload offsets, then on completion the manifest and end marker.
 *
 * The output is seen as its files laid end to end; `at` is a byte offset in that sequence.
 */
import { createHash } from "node:crypto";
import { statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ResumeWorkDir, type PlannedRange, type ResumeNote } from "./work-dir.js";
import { SHARD_HEAD_BYTES, shardFileHead, shardFilePath, shardFileTail, type ShardManifest, type ShardUnit } from "../shard/shard-file.js";
import type { ShardSpec } from "../shard/shard-spec.js";

/** Bytes of the output that are known before any work (headers, small files): written by every run. */
export interface FixedBytes {
  readonly id: string;
  readonly at: number;
  readonly bytes: Uint8Array;
}

/** One piece of a work unit: `length` bytes at `at` of the output (never across a file boundary). */
export interface OutputPiece {
  readonly id: string;
  readonly at: number;
  readonly length: number;
}

export interface ResumableOutputPlan {
  /** The final output: a file (one entry in `files`, named "") or a folder. */
  readonly output: string;
  readonly files: readonly { readonly name: string; readonly size: number }[];
  readonly fixed: readonly FixedBytes[];
  /** This process's units (all of them, or its shard's), in the order they are written. */
  readonly units: readonly { readonly unit: string; readonly pieces: readonly OutputPiece[] }[];
  /** Hex digest of the arguments and inputs (the shard manifest's fingerprint: the same on every machine). */
  readonly fingerprint: string;
  /** Input identity of this machine (sizes, mtimes), added to the resume key only. */
  readonly localInputs: string;
  readonly shard?: { readonly spec: ShardSpec; readonly kind: string; readonly totalUnits: number; readonly extra?: Record<string, unknown> };
  readonly onResume?: (note: ResumeNote) => void;
}

const SHARD_IMAGE = "shard";

/** Where the output's files start in the end-to-end sequence. */
function fileStarts(files: ResumableOutputPlan["files"]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const f of files) {
    starts.push(at);
    at += f.size;
  }
  return starts;
}

/** The output being built (see the file comment). */
export class ResumableOutput {
  private constructor(
    private readonly plan: ResumableOutputPlan,
    private readonly work: ResumeWorkDir,
    private readonly ranges: ReadonlyMap<string, PlannedRange>,
    private readonly payloadEnd: number,
  ) {}

  /** Plans the image, opens (or resumes) the work folder and writes the fixed bytes. */
  static async open(plan: ResumableOutputPlan): Promise<ResumableOutput> {
    const starts = fileStarts(plan.files);
    const place = (p: OutputPiece): PlannedRange => {
      let f = plan.files.length - 1;
      while (f > 0 && starts[f]! > p.at) f--;
      return { id: p.id, file: plan.files[f]!.name || "out", pos: p.at - starts[f]!, length: p.length };
    };
    const ranges = new Map<string, PlannedRange>();
    const units = new Map<string, PlannedRange[]>();
    let files: { name: string; size: number }[];
    let payloadEnd = 0;
    if (plan.shard) {
      let pos = SHARD_HEAD_BYTES;
      const next = (p: OutputPiece): PlannedRange => {
        const r = { id: p.id, file: SHARD_IMAGE, pos, length: p.length };
        pos += p.length;
        return r;
      };
      if (plan.shard.spec.index === 1) for (const f of plan.fixed) ranges.set(f.id, next({ ...f, length: f.bytes.length }));
      for (const u of plan.units) units.set(u.unit, u.pieces.map(next));
      payloadEnd = pos;
      files = [{ name: SHARD_IMAGE, size: pos }];
    } else {
      for (const f of plan.fixed) ranges.set(f.id, place({ ...f, length: f.bytes.length }));
      for (const u of plan.units) units.set(u.unit, u.pieces.map(place));
      files = plan.files.map((f) => ({ name: f.name || "out", size: f.size }));
    }
    for (const rs of units.values()) for (const r of rs) ranges.set(r.id, r);
    const key = createHash("sha256")
      .update(JSON.stringify({ fingerprint: plan.fingerprint, local: plan.localInputs, shard: plan.shard ? plan.shard.spec : null }))
      .digest("hex");
    const work = await ResumeWorkDir.open(plan.shard ? shardFilePath(plan.output, plan.shard.spec) : plan.output, {
      fingerprint: key,
      files,
      units,
      // errors name the file of a folder output as the user will see it
      nameOf: plan.shard || plan.files[0]?.name === "" ? undefined : (file) => join(plan.output, file),
      onResume: plan.onResume,
    });
    const out = new ResumableOutput(plan, work, ranges, payloadEnd);
    try {
      if (plan.shard) await work.writeAt(SHARD_IMAGE, 0, shardFileHead());
      for (const f of plan.fixed) {
        const r = ranges.get(f.id);
        if (r) await work.writeAt(r.file, r.pos, f.bytes);
      }
    } catch (err) {
      await work.discard();
      throw err;
    }
    return out;
  }

  /** Whether `unit` was finished by an earlier run (skip its work). */
  isDone(unit: string): boolean {
    return this.work.isDone(unit);
  }

  /** What `complete` recorded with a unit an earlier run finished. */
  metaOf(unit: string): unknown {
    return this.work.metaOf(unit);
  }

  /** Appends bytes of piece `id` (its bytes arrive in order). */
  async write(id: string, bytes: Uint8Array): Promise<void> {
    await this.work.write(id, bytes);
  }

  /** Records a finished unit (durably: bytes first, then its journal line). */
  async complete(unit: string, meta?: unknown): Promise<void> {
    await this.work.complete(unit, meta);
  }

  /** Seals the image and renames it into place: the output, or the shard file. Returns the path written. */
  async finish(): Promise<string> {
    const { plan, work } = this;
    await work.seal();
    if (!plan.shard) {
      const single = plan.files.length === 1 && plan.files[0]!.name === "";
      await work.commit(plan.output, single ? "out" : undefined);
      return plan.output;
    }
    const units: ShardUnit[] = [];
    const fixed = plan.shard.spec.index === 1 ? plan.fixed : [];
    for (const f of fixed) units.push({ id: f.id, at: f.at, length: f.bytes.length, crc32: crc32(f.bytes), payload: this.ranges.get(f.id)!.pos });
    for (const u of plan.units) {
      for (const p of u.pieces) units.push({ id: p.id, at: p.at, length: p.length, crc32: work.crcOfRange(p.id)!, payload: this.ranges.get(p.id)!.pos });
    }
    const total = plan.files.reduce((a, f) => a + f.size, 0);
    const manifest: ShardManifest = {
      kind: plan.shard.kind,
      fingerprint: plan.fingerprint,
      index: plan.shard.spec.index,
      count: plan.shard.spec.count,
      totalUnits: plan.shard.totalUnits,
      totalBytes: total,
      ...plan.shard.extra,
      units,
    };
    await work.appendSealed(SHARD_IMAGE, this.payloadEnd, shardFileTail(manifest));
    const path = shardFilePath(plan.output, plan.shard.spec);
    await work.commit(path, SHARD_IMAGE);
    return path;
  }

  /** Removes the work folder (after a failure). */
  async discard(): Promise<void> {
    await this.work.discard();
  }
}

/** Sizes and mtimes of `paths` (a folder: its files, by name): a machine-local identity of a run's inputs. */
export function inputStamp(paths: readonly (string | undefined)[]): string {
  const parts: string[] = [];
  for (const p of paths) {
    if (p === undefined) continue;
    const s = statSync(p);
    if (!s.isDirectory()) {
      parts.push(`${p}:${s.size}:${s.mtimeMs}`);
      continue;
    }
    for (const name of readdirSync(p).sort()) {
      if (!/\.(safetensors|json)$/.test(name)) continue;
      const f = statSync(join(p, name));
      if (f.isFile()) parts.push(`${name}:${f.size}:${f.mtimeMs}`);
    }
  }
  return parts.join("\n");
}
