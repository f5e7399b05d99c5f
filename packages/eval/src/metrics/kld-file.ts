// llama.cpp's `--kl-divergence-base` logits file layout (tools/perplexity/perplexity.cpp); the codes we write may differ from
// llama.cpp's by one step (we quantize log-probs, it raw logits), the rest is byte for byte:
//   "_logits_" | int32 n_ctx | int32 n_vocab | int32 n_chunk | int32 tokens[n_chunk·n_ctx]
//   | per chunk: (n_ctx − 1 − n_ctx/2) rows × kldRowWords(n_vocab) uint16 (see encodeLogProbRow)
// All little-endian. Written crash-safe; read chunk by chunk with positional reads.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { endianness } from "node:os";
import { InputError, atomicTempPath } from "@moeq/formats";
import { kldRowWords } from "./log-softmax.js";

export const KLD_FILE_MAGIC = "_logits_";
const HEADER_BYTES = 20;

export interface KldFileHeader {
  nCtx: number;
  nVocab: number;
  nChunk: number;
  /** The corpus tokens exactly as tokenized (original first tokens, before any BOS overwrite). */
  tokens: Int32Array;
}

/** Scored positions per chunk: the second half of the window minus the last position. */
export function kldRowsPerChunk(nCtx: number): number {
  return nCtx - 1 - Math.floor(nCtx / 2);
}

/** Total size in bytes of a `.kld` file with this shape. */
export function kldFileBytes(nCtx: number, nVocab: number, nChunk: number): number {
  return HEADER_BYTES + 4 * nCtx * nChunk + nChunk * kldRowsPerChunk(nCtx) * kldRowWords(nVocab) * 2;
}

function assertLittleEndianHost(): void {
  // Rows are handled as Uint16Array/Float32Array views; on a big-endian host those would need byte swaps.
  if (endianness() !== "LE") throw new Error("the .kld reader/writer assumes a little-endian host");
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
}

/** Streams a `.kld` file: header + tokens up front, then one chunk of rows at a time; rename on close. */
export class KldFileWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private chunksWritten = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly nCtx: number,
    readonly nVocab: number,
    readonly nChunk: number,
  ) {
    this.tmp = atomicTempPath(path);
    this.fd = openSync(this.tmp, "w");
  }

  static create(path: string, nCtx: number, nVocab: number, nChunk: number, tokens: ArrayLike<number>): KldFileWriter {
    assertLittleEndianHost();
    if (tokens.length < nCtx * nChunk) throw new RangeError(`need ${nCtx * nChunk} tokens for ${nChunk} chunks of ${nCtx}, got ${tokens.length}`);
    const w = new KldFileWriter(path, nCtx, nVocab, nChunk);
    const head = Buffer.alloc(HEADER_BYTES + 4 * nCtx * nChunk);
    head.write(KLD_FILE_MAGIC, 0, "latin1");
    head.writeInt32LE(nCtx, 8);
    head.writeInt32LE(nVocab, 12);
    head.writeInt32LE(nChunk, 16);
    for (let i = 0; i < nCtx * nChunk; i++) head.writeInt32LE(tokens[i], HEADER_BYTES + 4 * i);
    writeAll(w.fd, head);
    return w;
  }

  /** Appends one chunk: exactly kldRowsPerChunk(nCtx) rows of kldRowWords(nVocab) words. */
  writeChunk(rows: Uint16Array): void {
    const expected = kldRowsPerChunk(this.nCtx) * kldRowWords(this.nVocab);
    if (rows.length !== expected) throw new RangeError(`chunk has ${rows.length} words, expected ${expected}`);
    if (this.chunksWritten >= this.nChunk) throw new RangeError(`all ${this.nChunk} chunks already written`);
    writeAll(this.fd, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    this.chunksWritten++;
  }

  /** fsync + rename into place. Throws if fewer chunks than announced were written. */
  close(): void {
    if (this.closed) return;
    if (this.chunksWritten !== this.nChunk) {
      this.abort();
      throw new RangeError(`${this.path}: wrote ${this.chunksWritten} of ${this.nChunk} chunks`);
    }
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    this.closed = true;
  }

  /** Drops the partial file. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.tmp, { force: true });
  }
}

/** Reads a `.kld` file written by llama-perplexity or by KldFileWriter; validates the header and size. */
export class KldFileReader {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly header: KldFileHeader,
  ) {}

  static open(path: string): KldFileReader {
    assertLittleEndianHost();
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(HEADER_BYTES);
      if (size < HEADER_BYTES || readSync(fd, head, 0, HEADER_BYTES, 0) !== HEADER_BYTES) {
        throw new InputError("KLD_TRUNCATED", `file is ${size} bytes, shorter than the 20-byte .kld header`, { file: path });
      }
      const magic = head.toString("latin1", 0, 8);
      if (magic !== KLD_FILE_MAGIC) {
        throw new InputError("KLD_BAD_MAGIC", `does not look like a llama.cpp logits file (magic ${JSON.stringify(magic)}, expected "_logits_")`, {
          file: path,
        });
      }
      const nCtx = head.readInt32LE(8);
      const nVocab = head.readInt32LE(12);
      const nChunk = head.readInt32LE(16);
      if (nCtx < 4 || nVocab < 1 || nChunk < 1) {
        throw new InputError("KLD_BAD_HEADER", `implausible header n_ctx=${nCtx} n_vocab=${nVocab} n_chunk=${nChunk}`, {
          file: path,
          details: { nCtx, nVocab, nChunk },
        });
      }
      const expected = kldFileBytes(nCtx, nVocab, nChunk);
      if (size !== expected) {
        throw new InputError("KLD_BAD_SIZE", `file is ${size} bytes; n_ctx=${nCtx} n_vocab=${nVocab} n_chunk=${nChunk} needs ${expected}`, {
          file: path,
          details: { size, expected },
        });
      }
      const tokens = new Int32Array(nCtx * nChunk);
      readSync(fd, new Uint8Array(tokens.buffer), 0, tokens.byteLength, HEADER_BYTES);
      for (let i = 0; i < tokens.length; i++) {
        if (tokens[i] < 0 || tokens[i] >= nVocab) {
          throw new InputError("KLD_BAD_TOKEN", `token ${i} is ${tokens[i]}, outside the vocabulary of ${nVocab}`, { file: path });
        }
      }
      return new KldFileReader(path, fd, { nCtx, nVocab, nChunk, tokens });
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Rows of chunk `i` (kldRowsPerChunk × kldRowWords words), read into `out` when given. */
  readChunk(i: number, out?: Uint16Array): Uint16Array {
    const { nCtx, nVocab, nChunk } = this.header;
    if (i < 0 || i >= nChunk) throw new RangeError(`chunk ${i} out of range 0..${nChunk - 1}`);
    const words = kldRowsPerChunk(nCtx) * kldRowWords(nVocab);
    const rows = out ?? new Uint16Array(words);
    if (rows.length !== words) throw new RangeError(`buffer has ${rows.length} words, chunk needs ${words}`);
    const pos = HEADER_BYTES + 4 * nCtx * nChunk + i * words * 2;
    readSync(this.fd, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), 0, words * 2, pos);
    return rows;
  }

  close(): void {
    closeSync(this.fd);
  }
}
