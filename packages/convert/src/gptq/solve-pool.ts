/**
 * `moeq gptq --threads N`: solves independent Linears (experts, q/k/v, …) on N worker threads, or inline when
 * N ≤ 1. Jobs are independent pure functions (solve-linear.ts) and the caller consumes results in submission
 * order, so the output bytes do not depend on N.
 */
import { Worker } from "node:worker_threads";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { InputError } from "@moeq/formats";
import { solveLinear, type SolveJob, type SolveResult } from "./solve-linear.js";

/** The compiled worker, next to this module in dist/ or the package's dist/ when this runs from source (tests). */
function defaultWorkerFile(): string {
  const here = fileURLToPath(new URL("./solve-worker.js", import.meta.url));
  if (existsSync(here) || !import.meta.url.endsWith(".ts")) return here;
  return fileURLToPath(new URL("../../dist/gptq/solve-worker.js", import.meta.url));
}

type Reply = { id: number; result?: SolveResult; error?: string; threadId: number };

export class SolvePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, { resolve: (r: SolveResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Thread ids of the workers that solved at least one job. */
  readonly threadsUsed = new Set<number>();

  private constructor(readonly threads: number) {}

  /** Starts `threads` workers and waits until each is online; THREADS_FAILED (exit 2) when one cannot start. */
  static async start(threads: number, workerFile = defaultWorkerFile()): Promise<SolvePool> {
    if (!Number.isInteger(threads) || threads < 1) throw new InputError("BAD_THREADS", `--threads must be a positive integer, got ${threads}`);
    const pool = new SolvePool(threads);
    if (threads === 1) return pool;
    const fail = (why: string) => new InputError("THREADS_FAILED", `cannot start ${threads} GPTQ worker threads: ${why}`);
    if (!existsSync(workerFile)) throw fail(`${workerFile} is missing (build first: npx tsc -b packages/cli)`);
    try {
      await Promise.all(
        Array.from({ length: threads }, () => {
          const w = new Worker(workerFile);
          pool.workers.push(w);
          // Ready once its modules loaded (its first message), not merely "online": an import can still throw.
          return new Promise<void>((resolve, reject) => {
            const onError = (e: Error) => reject(fail(e.message));
            const onExit = (code: number) => reject(fail(`a worker exited with code ${code}`));
            w.once("error", onError);
            w.once("exit", onExit);
            w.once("message", () => {
              w.off("error", onError);
              w.off("exit", onExit);
              resolve();
            });
          }).then(() => pool.adopt(w));
        }),
      );
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  private adopt(w: Worker): void {
    w.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.threadsUsed.add(m.threadId);
      this.release(w);
      if (!p) return;
      if (m.error !== undefined || !m.result) p.reject(new Error(`GPTQ worker: ${m.error ?? "no result"}`));
      else p.resolve(m.result);
    });
    w.on("error", (e) => {
      for (const p of this.pending.values()) p.reject(new InputError("THREADS_FAILED", `GPTQ worker thread failed: ${e.message}`));
      this.pending.clear();
    });
    this.idle.push(w);
  }

  private release(w: Worker): void {
    this.idle.push(w);
    this.waiting.shift()?.();
  }

  private async acquire(): Promise<Worker> {
    while (this.idle.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    return this.idle.pop()!;
  }

  /** Solves a job (inline with one thread; copied to a worker otherwise). */
  async submit(job: SolveJob): Promise<SolveResult> {
    if (this.threads === 1) {
      this.threadsUsed.add(0);
      return solveLinear(job);
    }
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise<SolveResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}
