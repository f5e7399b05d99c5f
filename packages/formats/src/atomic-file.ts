import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { EnvironmentError } from "./errors.js";

/** errno codes of a write the machine cannot hold: disk full, quota, file-size limit (RLIMIT_FSIZE). */
const NO_ROOM: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large for the file system or limit",
};

/** A write that failed for lack of room, as a typed one-line error naming the output `path`; other errors unchanged. */
export function noRoomError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !(code in NO_ROOM)) return err;
  return new EnvironmentError("DISK_FULL", `cannot write: ${NO_ROOM[code]} (${code}); nothing was written under this name`, { file: path, cause: err });
}

export interface AtomicWriteOptions {
  /**
   * Folder for the temporary file (default: the target's folder). It must be on the same filesystem; use it
   * when other tools enumerate the target's folder and must never see a stray temp name (e.g. a Hub cache's refs/).
   */
  readonly tempDir?: string;
}

/** A fresh temporary name next to `path` (same directory, so the final rename stays on one filesystem), or in `tempDir`. */
export function atomicTempPath(path: string, tempDir?: string): string {
  return join(tempDir ?? dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Writes a file crash-safely: bytes go to a temporary name in the same directory, which is fsynced
 * and renamed over `path` on commit (then the directory is fsynced so the rename itself is durable).
 * A crash leaves either the old file (or nothing) plus a `.tmp-*` file, never a half-written `path`.
 */
export class AtomicFileWriter {
  /** Where sequential `write` calls append next. */
  private position = 0;
  private done = false;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string, options: AtomicWriteOptions = {}): Promise<AtomicFileWriter> {
    const tempPath = atomicTempPath(path, options.tempDir);
    const fh = await open(tempPath, "wx").catch((err: unknown) => {
      throw noRoomError(err, path);
    });
    return new AtomicFileWriter(path, tempPath, fh);
  }

  /** Bytes written so far by sequential writes (the current append position). */
  get bytesWritten(): number {
    return this.position;
  }

  /** Appends at the current position. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.writeAt(this.position, bytes);
    this.position += bytes.byteLength;
  }

  /** Writes at an absolute offset without moving the append position. */
  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    if (this.done) throw new Error(`write to ${this.path} after commit/abort`);
    let written = 0;
    try {
      while (written < bytes.byteLength) {
        const { bytesWritten } = await this.fh.write(bytes, written, bytes.byteLength - written, offset + written);
        written += bytesWritten;
      }
    } catch (err) {
      throw noRoomError(err, this.path);
    }
  }

  /** fsync, close, rename over `path`, fsync the directory. */
  async commit(): Promise<void> {
    if (this.done) throw new Error(`commit of ${this.path} after commit/abort`);
    this.done = true;
    try {
      try {
        await this.fh.sync();
      } finally {
        await this.fh.close();
      }
    } catch (err) {
      // delayed allocation (NFS, some file systems) reports a full disk only at fsync / close
      await unlink(this.tempPath).catch(() => undefined);
      throw noRoomError(err, this.path);
    }
    await rename(this.tempPath, this.path);
    await fsyncDir(dirname(this.path));
  }

  /** Closes and deletes the temporary file; `path` is left untouched. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }
}

/** fsyncs a directory so a rename or symlink in it survives a power cut (best effort where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  // Not every platform lets a directory be opened for fsync; the rename is still atomic there.
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Writes `data` to `path` crash-safely (temp name, fsync, rename, fsync the folder). The folder must exist. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const w = await AtomicFileWriter.open(path, options);
  try {
    await w.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Synchronous `writeFileAtomic`, for callers that cannot await (e.g. report files written at the end of a command). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const tmp = atomicTempPath(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let fd: number;
  try {
    fd = openSync(tmp, "wx");
  } catch (err) {
    throw noRoomError(err, path);
  }
  try {
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw noRoomError(err, path);
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}

function fsyncDirSync(dir: string): void {
  // best effort, as fsyncDir
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    /* the rename is still atomic */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
