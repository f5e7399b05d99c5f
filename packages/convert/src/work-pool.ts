/**
 * Encodes jobs on N worker threads (or inline when N ≤ 1) and hands results back strictly in submission
 * order, so the file bytes do not depend on thread timing. At most `window` jobs are in flight, which
 * bounds memory to a few units regardless of model size.
 */
import { Worker } from "node:worker_threads";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { InputError } from "@moeq/formats";
import { encodeUnit, type EncodeJob, type EncodeResult } from "./encode-rows.js";

/**
 * The compiled worker: next to this module in dist/, or the package's dist/ when this module runs from its
 * TypeScript source (tests).
 */
function defaultWorkerFile(): string {
  const here = fileURLToPath(new URL("./quantize-worker.js", import.meta.url));
  if (existsSync(here) || !import.meta.url.endsWith(".ts")) return here;
  return fileURLToPath(new URL("../dist/quantize-worker.js", import.meta.url));
}

export class EncodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: EncodeResult) => void; reject: (e: Error) => void }>();
  readonly threads: number;
  /** Jobs each worker has finished (one entry per worker; empty when encoding inline). */
  readonly jobsPerWorker: number[] = [];

  /**
   * `threads` ≤ 1 encodes inline. More start that many workers running the compiled `dist/quantize-worker.js`;
   * when it is missing (an unbuilt package) this throws THREADS_FAILED instead of silently using one thread.
   */
  constructor(threads: number, workerFile = defaultWorkerFile()) {
    if (!Number.isInteger(threads) || threads < 1) throw new InputError("BAD_THREADS", `threads must be a positive integer, got ${threads}`);
    this.threads = threads;
    if (threads > 1 && !existsSync(workerFile)) {
      throw new InputError(
        "THREADS_FAILED",
        `cannot start ${threads} quantize worker threads: ${workerFile} is missing (build first: npx tsc -b packages/cli)`,
      );
    }
    for (let i = 0; i < (this.threads > 1 ? this.threads : 0); i++) {
      const w = new Worker(workerFile);
      const index = i;
      this.jobsPerWorker.push(0);
      w.on("message", (m: { id: number; out?: Uint8Array; sumSquaredError?: number; error?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.jobsPerWorker[index]++;
        this.release(w);
        if (!p) return;
        if (m.error !== undefined || !m.out) p.reject(new Error(m.error ?? "worker returned nothing"));
        else p.resolve({ bytes: m.out, sumSquaredError: m.sumSquaredError });
      });
      w.on("error", (e) => {
        const err = new InputError("THREADS_FAILED", `quantize worker thread failed: ${e.message}`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    this.idle.push(w);
    if (next) next();
  }

  private async acquire(): Promise<Worker> {
    while (this.idle.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    return this.idle.pop()!;
  }

  /** Starts a job; the returned promise resolves with its bytes (and error, when measured). */
  async submit(job: EncodeJob): Promise<EncodeResult> {
    if (this.threads <= 1) return encodeUnit(job);
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise<EncodeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const transfer = [job.data.buffer as ArrayBuffer];
      w.postMessage({ id, job }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Runs `produce` (which yields jobs in file order) through the pool, calling `consume` with each result in
 * the same order. Keeps at most `window` results outstanding.
 */
export async function runOrdered<T>(
  pool: EncodePool,
  jobs: AsyncIterable<{ job: EncodeJob; tag: T }>,
  consume: (result: EncodeResult, tag: T) => Promise<void>,
  window = Math.max(2, pool.threads * 2),
): Promise<void> {
  const queue: { p: Promise<EncodeResult>; tag: T }[] = [];
  for await (const { job, tag } of jobs) {
    const p = pool.submit(job);
    p.catch(() => undefined); // surfaced when awaited in order below
    queue.push({ p, tag });
    while (queue.length >= window) {
      const head = queue.shift()!;
      await consume(await head.p, head.tag);
    }
  }
  while (queue.length) {
    const head = queue.shift()!;
    await consume(await head.p, head.tag);
  }
}
