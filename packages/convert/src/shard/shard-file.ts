/**
 * The shard file one `--shard i/N` run writes and `moeq merge` reads: a self-describing container of finished
 * output units. Layout (little-endian):
 *
 *   "MOEQSHRD" u32 version u32 0 | unit payloads, back to back | manifest JSON (utf-8) | u64 manifest bytes | "MOEQEND\0"
 *
 * The manifest sits at the end so a shard streams its units as they finish; a file cut short loses its trailer and
 * is refused as truncated. The manifest carries a fingerprint of the inputs and options, so shards of different
 * runs refuse to merge, and a CRC32 per unit, so a corrupted payload is caught while merging.
 */
import { open, type FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { AtomicFileWriter, InputError } from "@moeq/formats";
import { shardLabel, type ShardSpec } from "./shard-spec.js";

const HEAD_MAGIC = Buffer.from("MOEQSHRD", "latin1");
const TAIL_MAGIC = Buffer.from("MOEQEND\0", "latin1");
export const SHARD_FILE_VERSION = 1;
const HEAD_BYTES = 16;
const TAIL_BYTES = 16;
const MAX_MANIFEST_BYTES = 256 << 20;
/** Read size when copying unit payloads. */
export const COPY_CHUNK_BYTES = 8 << 20;

/**
 * Kinds whose units sit at byte offsets `at` of one output of `totalBytes` ("gguf", and "fp8" whose folder is its
 * files laid end to end); in the others ("imatrix", "safetensors") `at` is the unit's place in the merge order and
 * the merger builds the output from the payloads.
 */
const PLACED_KINDS: ReadonlySet<string> = new Set(["gguf", "fp8"]);

/** One finished unit: where its bytes go in the merged output, and where they lie in the shard file. */
export interface ShardUnit {
  /** Unit id (a tensor name, or "header"). */
  readonly id: string;
  /** Byte offset in the merged output (placed kinds), or the unit's place in the merge order. */
  readonly at: number;
  readonly length: number;
  readonly crc32: number;
  /** Byte offset of the payload in the shard file. */
  readonly payload: number;
}

/** What a shard says about itself. */
export interface ShardManifest {
  /** Which merger assembles it ("gguf": one file of units at fixed offsets, zero padding between). */
  readonly kind: string;
  /** Hex digest of inputs + options; every shard of one run has the same. */
  readonly fingerprint: string;
  readonly index: number;
  readonly count: number;
  /** Units of the whole job (all shards together). */
  readonly totalUnits: number;
  /** Size of the merged output. */
  readonly totalBytes: number;
  readonly units: readonly ShardUnit[];
}

/** `<out>.shard-i-of-N`: where shard i of N of the output `out` is written. */
export function shardFilePath(output: string, s: ShardSpec): string {
  return `${output}.shard-${s.index}-of-${s.count}`;
}

/** Bytes before a shard file's first payload. */
export const SHARD_HEAD_BYTES = HEAD_BYTES;

/** A shard file's first SHARD_HEAD_BYTES: magic and version. */
export function shardFileHead(): Buffer {
  const magic = Buffer.alloc(HEAD_BYTES);
  HEAD_MAGIC.copy(magic, 0);
  magic.writeUInt32LE(SHARD_FILE_VERSION, 8);
  return magic;
}

/** What follows a shard file's payloads: the manifest JSON, its length and the end marker. */
export function shardFileTail(manifest: ShardManifest): Buffer {
  const json = Buffer.from(JSON.stringify(manifest), "utf8");
  const tail = Buffer.alloc(TAIL_BYTES);
  tail.writeBigUInt64LE(BigInt(json.length), 0);
  TAIL_MAGIC.copy(tail, 8);
  return Buffer.concat([json, tail]);
}

/** Streams units into a shard file (temp name, renamed into place by `finish`). */
export class ShardFileWriter {
  private readonly units: ShardUnit[] = [];
  private pos = HEAD_BYTES;

  private constructor(
    private readonly file: AtomicFileWriter,
    private readonly head: Omit<ShardManifest, "units">,
  ) {}

  static async open(path: string, head: Omit<ShardManifest, "units">): Promise<ShardFileWriter> {
    const file = await AtomicFileWriter.open(path);
    await file.write(shardFileHead());
    return new ShardFileWriter(file, head);
  }

  /** Appends bytes of unit `id`, which go at `at` in the merged output (consecutive calls for one id extend it). */
  async add(id: string, at: number, bytes: Uint8Array): Promise<void> {
    const last = this.units[this.units.length - 1];
    if (last && last.id === id && last.at + last.length === at) {
      this.units[this.units.length - 1] = { ...last, length: last.length + bytes.length, crc32: crc32(bytes, last.crc32) };
    } else {
      this.units.push({ id, at, length: bytes.length, crc32: crc32(bytes), payload: this.pos });
    }
    await this.file.write(bytes);
    this.pos += bytes.length;
  }

  async finish(): Promise<void> {
    await this.file.write(shardFileTail({ ...this.head, units: this.units }));
    await this.file.commit();
  }

  async abort(): Promise<void> {
    await this.file.abort();
  }
}

function bad(code: string, path: string, message: string): InputError {
  return new InputError(code, message, { file: path });
}

function isUnit(u: unknown): u is ShardUnit {
  if (typeof u !== "object" || u === null) return false;
  const r = u as Record<string, unknown>;
  const nat = (v: unknown): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  return typeof r.id === "string" && nat(r.at) && nat(r.length) && nat(r.crc32) && nat(r.payload);
}

/** Reads and checks a shard file's manifest (InputError naming the file on anything malformed or truncated). */
export async function readShardManifest(path: string): Promise<ShardManifest> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    if (size < HEAD_BYTES + TAIL_BYTES) throw bad("SHARD_TRUNCATED", path, `shard file is truncated (${size} bytes)`);
    const head = Buffer.alloc(HEAD_BYTES);
    await fh.read(head, 0, HEAD_BYTES, 0);
    if (!head.subarray(0, 8).equals(HEAD_MAGIC)) throw bad("SHARD_BAD_MAGIC", path, "not a moeq shard file (bad magic)");
    const version = head.readUInt32LE(8);
    if (version !== SHARD_FILE_VERSION) throw bad("SHARD_VERSION", path, `shard file version ${version} is not supported (expected ${SHARD_FILE_VERSION})`);
    const tail = Buffer.alloc(TAIL_BYTES);
    await fh.read(tail, 0, TAIL_BYTES, size - TAIL_BYTES);
    if (!tail.subarray(8).equals(TAIL_MAGIC)) throw bad("SHARD_TRUNCATED", path, "shard file is truncated (no end marker; was its run killed?)");
    const n = tail.readBigUInt64LE(0);
    if (n > BigInt(Math.min(MAX_MANIFEST_BYTES, size - HEAD_BYTES - TAIL_BYTES)))
      throw bad("SHARD_BAD_MANIFEST", path, `manifest length ${n} does not fit the file`);
    const json = Buffer.alloc(Number(n));
    await fh.read(json, 0, json.length, size - TAIL_BYTES - json.length);
    let m: unknown;
    try {
      m = JSON.parse(json.toString("utf8"));
    } catch {
      throw bad("SHARD_BAD_MANIFEST", path, "manifest is not valid JSON");
    }
    return checkManifest(m, path, size - TAIL_BYTES - json.length);
  } finally {
    await fh.close();
  }
}

function checkManifest(m: unknown, path: string, payloadEnd: number): ShardManifest {
  const r = (typeof m === "object" && m !== null ? m : {}) as Record<string, unknown>;
  const nat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (typeof r.kind !== "string" || typeof r.fingerprint !== "string" || !nat(r.index) || !nat(r.count) || !nat(r.totalUnits) || !nat(r.totalBytes)) {
    throw bad("SHARD_BAD_MANIFEST", path, "manifest lacks kind, fingerprint, index, count, totalUnits or totalBytes");
  }
  if (r.count < 1 || r.index < 1 || r.index > r.count) throw bad("SHARD_BAD_MANIFEST", path, `manifest says shard ${r.index}/${r.count}`);
  if (!Array.isArray(r.units) || !r.units.every(isUnit)) throw bad("SHARD_BAD_MANIFEST", path, "manifest units are malformed");
  for (const u of r.units) {
    if (u.payload < HEAD_BYTES || u.payload + u.length > payloadEnd || (PLACED_KINDS.has(r.kind) && u.at + u.length > r.totalBytes)) {
      throw bad("SHARD_BAD_MANIFEST", path, `unit ${JSON.stringify(u.id.slice(0, 80))} points outside the file or the output`);
    }
  }
  return r as unknown as ShardManifest;
}

/** A shard file and its manifest. */
export interface ShardFile {
  readonly path: string;
  readonly manifest: ShardManifest;
}

/**
 * Checks that `files` are exactly one complete run: one kind and fingerprint, one count N, each index 1…N once,
 * every unit of the job present once. InputError (exit 2, one line) naming the offending file otherwise.
 * Shared by every merger (GGUF, safetensors, calibration outputs).
 */
export function checkShardSet(files: readonly ShardFile[]): void {
  if (files.length === 0) throw new InputError("SHARD_MISSING", "no shard files given");
  const first = files[0];
  const seen = new Map<number, string>();
  for (const f of files) {
    const m = f.manifest;
    if (m.kind !== first.manifest.kind) throw bad("SHARD_MIXED", f.path, `shard is of kind ${m.kind}, but ${first.path} is ${first.manifest.kind}`);
    if (m.fingerprint !== first.manifest.fingerprint || m.count !== first.manifest.count || m.totalUnits !== first.manifest.totalUnits) {
      throw bad("SHARD_MIXED", f.path, `shard comes from a different run than ${first.path} (inputs or options differ)`);
    }
    const other = seen.get(m.index);
    if (other !== undefined) throw bad("SHARD_DUPLICATE", f.path, `shard ${shardLabel(m)} is given twice (also ${other})`);
    seen.set(m.index, f.path);
  }
  const missing: number[] = [];
  for (let i = 1; i <= first.manifest.count; i++) if (!seen.has(i)) missing.push(i);
  if (missing.length > 0) {
    const list = missing.slice(0, 10).join(", ") + (missing.length > 10 ? ", …" : "");
    throw new InputError("SHARD_MISSING", `missing shard${missing.length > 1 ? "s" : ""} ${list} of ${first.manifest.count} (have ${files.length})`);
  }
  const ids = new Set<string>();
  for (const f of files) {
    for (const u of f.manifest.units) {
      if (ids.has(u.id)) throw bad("SHARD_DUPLICATE", f.path, `unit ${JSON.stringify(u.id.slice(0, 80))} appears in two shards`);
      ids.add(u.id);
    }
  }
  if (ids.size !== first.manifest.totalUnits) {
    throw new InputError("SHARD_MISSING", `the shards hold ${ids.size} of ${first.manifest.totalUnits} units (a shard run did not finish?)`);
  }
}

/** Copies one unit's payload from `fh` to `write`, checking its CRC32; `chunk` is the reusable read buffer. */
export async function copyUnit(
  fh: FileHandle,
  path: string,
  u: ShardUnit,
  write: (b: Uint8Array) => Promise<void>,
  chunk: Buffer = Buffer.alloc(COPY_CHUNK_BYTES),
): Promise<void> {
  let crc = 0;
  for (let done = 0; done < u.length;) {
    const n = Math.min(chunk.length, u.length - done);
    const { bytesRead } = await fh.read(chunk, 0, n, u.payload + done);
    if (bytesRead !== n) throw bad("SHARD_TRUNCATED", path, `unit ${JSON.stringify(u.id.slice(0, 80))} is cut short`);
    const part = chunk.subarray(0, n);
    crc = crc32(part, crc);
    await write(part);
    done += n;
  }
  if (crc !== u.crc32) throw bad("SHARD_CORRUPT", path, `unit ${JSON.stringify(u.id.slice(0, 80))} fails its CRC32 check`);
}

/** One unit's whole payload in memory, its CRC32 checked (units a merger decodes rather than copies). */
export async function readUnit(fh: FileHandle, path: string, u: ShardUnit): Promise<Buffer> {
  const out = Buffer.alloc(u.length);
  let pos = 0;
  await copyUnit(fh, path, u, async (b) => {
    out.set(b, pos);
    pos += b.length;
  });
  return out;
}
