/**
 * The resume state of a long writer (`convert`, `quantize`, `fp8`): `<output>.partial/` next to the output holds
 *
 *   lock           the pid of the run that holds it (a second live run is refused; a dead one's lock is taken over)
 *   key.json       a fingerprint of the arguments and inputs; a run with another one starts over (and says so)
 *   image/         the output being built, every file at its final size, each unit's bytes at their final offsets
 *   journal.jsonl  one line per finished unit: its byte ranges with their CRC32 (and what the summary needs of it)
 *
 * A unit's bytes are fsynced before its journal line is appended (and the journal is fsynced), so a SIGKILL at any
 * point leaves every journaled unit intact; a rerun checks each journaled range's CRC32 and redoes only the rest.
 * The output appears under its final name only when every unit is in: the image is renamed into place, then the
 * folder removed. A run that fails (bad input, full disk) removes the folder, so nothing is left behind.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open, rename, rmdir, truncate, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { EnvironmentError, fsyncDir, isProcessAlive, noRoomError, writeFileAtomicSync } from "@moeq/formats";

/** Where one piece of a unit goes: `file` (relative to the image folder) at byte `pos`, `length` bytes. */
export interface PlannedRange {
  readonly id: string;
  readonly file: string;
  readonly pos: number;
  readonly length: number;
}

/** A finished range as the journal records it. */
export interface DoneRange extends PlannedRange {
  readonly crc32: number;
}

interface JournalLine {
  readonly unit: string;
  readonly ranges: readonly DoneRange[];
  readonly meta?: unknown;
}

/** What a run found in its work folder. */
export interface ResumeNote {
  readonly dir: string;
  /** Units already finished (skipped by this run) and units in all. */
  readonly done: number;
  readonly total: number;
  /** The folder held another run's work (other arguments or inputs), which was thrown away. */
  readonly restarted: boolean;
}

export interface WorkDirPlan {
  /** Hex digest of everything the output bytes depend on. */
  readonly fingerprint: string;
  /** The image's files (relative names) and their sizes. */
  readonly files: readonly { readonly name: string; readonly size: number }[];
  /** Every unit and its ranges. */
  readonly units: ReadonlyMap<string, readonly PlannedRange[]>;
  /** The path the user knows an image file by, for errors (default: the output). */
  readonly nameOf?: (file: string) => string;
  /** Told what was found (always, so a caller can report "resuming: K/N units done"). */
  readonly onResume?: (note: ResumeNote) => void;
}

const KEY = "key.json";
const LOCK = "lock";
const JOURNAL = "journal.jsonl";
const IMAGE = "image";
const VERIFY_CHUNK = 8 << 20;

/** `<output>.partial`: the work folder of `output`. */
export function workDirPath(output: string): string {
  return `${resolve(output)}.partial`;
}

/** Takes `<dir>/lock`, or refuses when a live process holds it. */
async function takeLock(dir: string, output: string): Promise<void> {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw noRoomError(err, output);
    }
    const pid = Number(readFileSync(path, "utf8").trim());
    // our own pid in it is a killed run's (pids repeat across container restarts)
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
      throw new EnvironmentError("OUTPUT_BUSY", `another moeq run (pid ${pid}) is writing this output; wait for it, or remove ${path} if it is gone`, {
        file: output,
      });
    }
    rmSync(path, { force: true }); // a killed run's lock
  }
  throw new EnvironmentError("OUTPUT_BUSY", `could not take ${path}: another run keeps taking it`, { file: output });
}

function sameRange(a: PlannedRange, b: PlannedRange): boolean {
  return a.id === b.id && a.file === b.file && a.pos === b.pos && a.length === b.length;
}

/** A resumable output's work folder (see the file comment). */
export class ResumeWorkDir {
  private readonly handles = new Map<string, FileHandle>();
  private readonly done = new Map<string, JournalLine>();
  private readonly crcs = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private readonly ranges = new Map<string, PlannedRange>();
  private journal: FileHandle | undefined;

  private constructor(
    readonly output: string,
    readonly dir: string,
    private readonly plan: WorkDirPlan,
  ) {
    for (const rs of plan.units.values()) for (const r of rs) this.ranges.set(r.id, r);
  }

  /** Opens (creating, resuming or starting over) the work folder of `output` for a run with `plan`. */
  static async open(output: string, plan: WorkDirPlan): Promise<ResumeWorkDir> {
    const dir = workDirPath(output);
    mkdirSync(dir, { recursive: true });
    await takeLock(dir, output);
    const w = new ResumeWorkDir(output, dir, plan);
    try {
      await w.load();
    } catch (err) {
      await w.discard();
      throw err;
    }
    return w;
  }

  /** The image folder (the output's files under their final relative names). */
  get image(): string {
    return join(this.dir, IMAGE);
  }

  private async load(): Promise<void> {
    const key = JSON.stringify({ version: 1, fingerprint: this.plan.fingerprint });
    let old: string | undefined;
    try {
      old = readFileSync(join(this.dir, KEY), "utf8");
    } catch {
      old = undefined;
    }
    const restarted = old !== undefined && old !== key;
    if (old !== key) {
      for (const name of readdirSync(this.dir)) if (name !== LOCK) rmSync(join(this.dir, name), { recursive: true, force: true });
      writeFileAtomicSync(join(this.dir, KEY), key);
    }
    mkdirSync(this.image, { recursive: true });
    for (const f of this.plan.files) {
      const path = join(this.image, f.name);
      mkdirSync(dirname(path), { recursive: true });
      if (!existsSync(path)) writeFileSync(path, "");
      if (statSync(path).size !== f.size) await truncate(path, f.size).catch((err: unknown) => Promise.reject(noRoomError(err, this.nameOf(f.name))));
    }
    if (!restarted && old !== undefined) await this.readJournal();
    this.journal = await open(join(this.dir, JOURNAL), "a");
    this.plan.onResume?.({ dir: this.dir, done: this.done.size, total: this.plan.units.size, restarted });
  }

  /** Loads the journal's lines whose ranges match the plan and whose bytes pass their CRC32. */
  private async readJournal(): Promise<void> {
    let text: string;
    try {
      text = readFileSync(join(this.dir, JOURNAL), "utf8");
    } catch {
      return;
    }
    const end = text.lastIndexOf("\n") + 1;
    if (end < text.length) await truncate(join(this.dir, JOURNAL), Buffer.byteLength(text.slice(0, end))); // drop a torn line
    for (const raw of text.slice(0, end).split("\n")) {
      let line: JournalLine;
      try {
        line = JSON.parse(raw) as JournalLine; // a torn last line (killed mid-append) does not parse
      } catch {
        continue;
      }
      const planned = this.plan.units.get(line.unit);
      if (!planned || !Array.isArray(line.ranges) || planned.length !== line.ranges.length) continue;
      if (!planned.every((r, i) => sameRange(r, line.ranges[i]!))) continue;
      let intact = true;
      for (const r of line.ranges) if ((await this.crcOf(r)) !== r.crc32) intact = false;
      if (intact) this.done.set(line.unit, line);
    }
  }

  private async handle(file: string): Promise<FileHandle> {
    let fh = this.handles.get(file);
    if (!fh) this.handles.set(file, (fh = await open(join(this.image, file), "r+")));
    return fh;
  }

  private async crcOf(r: PlannedRange): Promise<number> {
    const fh = await this.handle(r.file);
    const buf = Buffer.alloc(Math.min(VERIFY_CHUNK, r.length));
    let crc = 0;
    for (let done = 0; done < r.length;) {
      const n = Math.min(buf.length, r.length - done);
      const { bytesRead } = await fh.read(buf, 0, n, r.pos + done);
      if (bytesRead !== n) return -1;
      crc = crc32(buf.subarray(0, n), crc);
      done += n;
    }
    return crc;
  }

  /** Whether `unit` was finished by an earlier run. */
  isDone(unit: string): boolean {
    return this.done.has(unit);
  }

  /** What `complete` recorded for a unit finished by an earlier run. */
  metaOf(unit: string): unknown {
    return this.done.get(unit)?.meta;
  }

  /** The CRC32 of a finished range (from the journal, or of the bytes this run wrote). */
  crcOfRange(id: string): number | undefined {
    for (const line of this.done.values()) for (const r of line.ranges) if (r.id === id) return r.crc32;
    return undefined;
  }

  /** Writes raw bytes at `pos` of image file `file` (headers and other bytes that are not a unit's). */
  async writeAt(file: string, pos: number, bytes: Uint8Array): Promise<void> {
    const fh = await this.handle(file);
    try {
      for (let off = 0; off < bytes.length;) off += (await fh.write(bytes, off, bytes.length - off, pos + off)).bytesWritten;
    } catch (err) {
      throw noRoomError(err, this.nameOf(file));
    }
  }

  /** Appends bytes of range `id` after the ones written before (the range's bytes arrive in order). */
  async write(id: string, bytes: Uint8Array): Promise<void> {
    const r = this.ranges.get(id);
    if (!r) throw new Error(`range ${id} is not planned`);
    const at = this.written.get(id) ?? 0;
    if (at + bytes.length > r.length) throw new Error(`range ${id} takes ${r.length} bytes; got ${at + bytes.length}`);
    await this.writeAt(r.file, r.pos + at, bytes);
    this.written.set(id, at + bytes.length);
    this.crcs.set(id, crc32(bytes, this.crcs.get(id) ?? 0));
  }

  /** Records `unit` as finished: its ranges' bytes are fsynced, then its journal line appended and fsynced. */
  async complete(unit: string, meta?: unknown): Promise<void> {
    const planned = this.plan.units.get(unit);
    if (!planned) throw new Error(`unit ${unit} is not planned`);
    const ranges: DoneRange[] = planned.map((r) => {
      if ((this.written.get(r.id) ?? 0) !== r.length) throw new Error(`unit ${unit}: range ${r.id} is incomplete`);
      return { ...r, crc32: this.crcs.get(r.id) ?? 0 };
    });
    const entry: JournalLine = meta === undefined ? { unit, ranges } : { unit, ranges, meta };
    for (const file of new Set(planned.map((r) => r.file))) await this.sync(file);
    try {
      await this.journal!.write(JSON.stringify(entry) + "\n");
      await this.journal!.sync();
    } catch (err) {
      throw noRoomError(err, this.output);
    }
    this.done.set(unit, entry);
  }

  /** Checks every unit is in and fsyncs the image; the image's files are then complete. */
  async seal(): Promise<void> {
    const missing = [...this.plan.units.keys()].filter((u) => !this.done.has(u));
    if (missing.length > 0) throw new Error(`${this.output}: ${missing.length} unit(s) not written, e.g. ${missing[0]}`);
    for (const f of this.plan.files) await this.sync(f.name);
  }

  /** fsyncs image file `file` (a full disk is reported here on file systems that allocate late). */
  private async sync(file: string): Promise<void> {
    try {
      await (await this.handle(file)).sync();
    } catch (err) {
      throw noRoomError(err, this.nameOf(file));
    }
  }

  private nameOf(file: string): string {
    return this.plan.nameOf ? this.plan.nameOf(file) : this.output;
  }

  /** After seal: writes bytes past a file's planned size (a trailer) and fsyncs them. */
  async appendSealed(file: string, pos: number, bytes: Uint8Array): Promise<void> {
    await this.writeAt(file, pos, bytes);
    await this.sync(file);
  }

  private async closeFiles(): Promise<void> {
    for (const fh of this.handles.values()) await fh.close().catch(() => undefined);
    this.handles.clear();
    await this.journal?.close().catch(() => undefined);
    this.journal = undefined;
  }

  /** Renames image file `name` (or the whole image folder, without `name`) to `to`, then removes the work folder. */
  async commit(to: string, name?: string): Promise<void> {
    await this.closeFiles();
    const from = name === undefined ? this.image : join(this.image, name);
    if (name === undefined && existsSync(to)) await rmdir(to); // an empty folder (the caller checked)
    await rename(from, to);
    await fsyncDir(dirname(resolve(to)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Removes the work folder (after a failure: nothing is left behind). Safe to call twice. */
  async discard(): Promise<void> {
    await this.closeFiles();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
