/**
 * The process-wide home of the WASM kernels: one shared WebAssembly.Memory holding the weights (placed there by
 * the weight store when loaded, never copied per call), the activations and the outputs; the instantiated
 * module; an allocator over the memory; and a pool of worker threads that import the same memory and module and
 * split a matmul's output rows between them (dynamic chunks handed out through an atomic counter), woken and
 * joined with Atomics.wait/notify so the forward pass stays synchronous.
 */
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { InputError } from "@moeq/formats";
import { KERNELS_WASM_BASE64, KERNELS_WASM_RELAXED_BASE64 } from "./kernels-wasm.js";
import { Arena } from "./arena.js";

/** The slice of the WebAssembly JS API we use (lib ES2023 without DOM has no typings for it). */
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  validate(bytes: Uint8Array): boolean;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

export type GemmFn = (w: number, x: number, out: number, rows: number, cols: number, nTok: number, ldo: number) => void;
/** `gemm` with weight rows `ldw` and activation rows `ldx` floats apart. */
export type GemmStridedFn = (w: number, ldw: number, x: number, ldx: number, out: number, rows: number, cols: number, nTok: number, ldo: number) => void;
/** out[t·ldo + i] = Σ_j p[t·ldp + j]·v[j·ldv + i] (attention's V·P, in `gemm`'s order over Vᵀ). */
export type GemmVPFn = (v: number, ldv: number, p: number, ldp: number, out: number, ldo: number, hd: number, len: number, nTok: number) => void;
export type Q8QuantizeFn = (x: number, count: number, q: number, d: number, sums: number, x16: number) => void;
export type QmatmulFn = (
  type: number,
  w: number,
  rowBytes: number,
  cols: number,
  r0: number,
  r1: number,
  xq: number,
  xd: number,
  xb: number,
  nTok: number,
  out: number,
  ldo: number,
  scratch: number,
  x16: number,
  exact: number,
) => void;

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Most threads a pool runs (control block size). */
export const MAX_THREADS = 64;

// Control block layout (int32 words), shared by the main thread and the workers.
const GEN = 0; // job generation: bumped to wake the workers
const DONE = 1; // workers finished with the current job
const CMD = 2; // 1 = qmatmul, 2 = gemm, 3 = quit
const NEXT = 3; // next unclaimed output row
const CHUNK = 4; // rows per claim
const ROWS = 5; // output rows of the job
const ACTIVE = 6; // threads taking part (main thread = 0, workers 1..)
const READY = 7; // workers started
const ARGS = 8; // 12 job arguments
const SCRATCH = 24; // per-thread scratch pointers [MAX_THREADS]
const ROWS_DONE = SCRATCH + MAX_THREADS; // per-thread row counters [MAX_THREADS] (tests, stats)
const CTRL_WORDS = ROWS_DONE + MAX_THREADS;

/** Polls of the job counter a waiting thread makes before it sleeps (a few tens of microseconds). */
const SPIN = 20000;

const CMD_QMATMUL = 1;
const CMD_GEMM = 2;
const CMD_QUIT = 3;
const CMD_SOFTMAX = 4;
const CMD_SWIGLU = 5;

/**
 * The job loop both the main thread (tid 0) and every worker run: claim CHUNK rows at a time until none are left.
 * Kept as source text so the workers need no compiled file (they start from `eval`, in tests and in dist alike).
 */
const CLAIM_LOOP = `
function claimLoop(c, tid, k) {
  const cmd = c[${CMD}], rows = c[${ROWS}], chunk = c[${CHUNK}], a = ${ARGS};
  let done = 0;
  for (;;) {
    const r0 = Atomics.add(c, ${NEXT}, chunk);
    if (r0 >= rows) break;
    const r1 = Math.min(rows, r0 + chunk);
    if (cmd === ${CMD_QMATMUL}) k.qmatmul(c[a], c[a + 1], c[a + 2], c[a + 3], r0, r1, c[a + 4], c[a + 5], c[a + 6], c[a + 7], c[a + 8], c[a + 9], c[${SCRATCH} + tid], c[a + 10], c[a + 11]);
    else if (cmd === ${CMD_SOFTMAX}) k.softmaxRowsGgml(c[a + 1], r0, r1, c[a + 3], c[a + 7], c[a + 5], c[a + 6], c[a + 9], c[a], c[${SCRATCH} + tid]);
    else if (cmd === ${CMD_SWIGLU}) k.swigluGgmlRow(c[a + 1] + r0 * 4, c[a + 4] + r0 * 4, r1 - r0);
    else k.gemm(c[a + 1] + r0 * c[a + 3] * 4, c[a + 4], c[a + 8] + r0 * 4, r1 - r0, c[a + 3], c[a + 7], c[a + 9]);
    done += r1 - r0;
  }
  c[${ROWS_DONE} + tid] += done;
}`;

const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { memory, module, ctrl, tid } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort"); } } });
const k = inst.exports;
${CLAIM_LOOP}
const c = new Int32Array(memory.buffer, ctrl, ${CTRL_WORDS});
Atomics.add(c, ${READY}, 1);
Atomics.notify(c, ${READY});
let seen = 0;
for (;;) {
  // spin a little before sleeping: a forward pass sends jobs back to back, and a futex wake-up costs more than the
  // small ones take
  for (let i = 0; i < ${SPIN} && Atomics.load(c, ${GEN}) === seen; i++);
  Atomics.wait(c, ${GEN}, seen);
  seen = Atomics.load(c, ${GEN});
  if (c[${CMD}] === ${CMD_QUIT}) break;
  if (tid < c[${ACTIVE}]) claimLoop(c, tid, k);
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

const claimLoop = new Function(`${CLAIM_LOOP}; return claimLoop;`)() as (c: Int32Array, tid: number, k: Record<string, unknown>) => void;

/**
 * The two builds of the kernels (scripts/build-wasm.mjs): "relaxed" multiplies the k-quants' unsigned codes by the
 * int8 activations with relaxed SIMD's `i16x8.relaxed_dot_i8x16_i7x16_s` (pmaddubsw on x86: 16 products per
 * instruction instead of `i32x4.dot_i16x8_s`'s 8 after widening) and takes ggml's fused multiply-adds from
 * `f32x4.relaxed_madd`; "baseline" needs only SIMD and threads and emulates the fma in f64.
 */
export type KernelVariant = "relaxed" | "baseline";

/** `f32x4.relaxed_madd(a, a, −(1 + 2⁻¹¹))` lane 0 with a = 1 + 2⁻¹²: 2⁻²⁴ when fused, 0 when not (exported as "f"). */
const RELAXED_PROBE = Uint8Array.from([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  125,
  3,
  2,
  1,
  0,
  7,
  5,
  1,
  1,
  102,
  0,
  0,
  10,
  64,
  1,
  62,
  0,
  ...[0, 0, 1].flatMap((i) => [253, 12, ...new Array<number[]>(4).fill(i ? [0, 16, 128, 191] : [0, 8, 128, 63]).flat()]),
  253,
  133,
  2,
  253,
  31,
  0,
  11,
]);

/** The WebAssembly API as far as choosing a kernel build needs it (tests pass fakes). */
export interface RelaxedSimdApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

/**
 * Whether the relaxed build can run here with ggml's bits: relaxed SIMD must compile and its multiply-add must be
 * fused (the spec lets an engine leave it unfused; then the baseline build runs). Node 22+
 * has relaxed SIMD on; Node 20's V8 (11.3) has it behind --experimental-wasm-relaxed-simd, which `enableFlag` sets
 * (process-wide, before any relaxed module compiles, so the worker threads get it too). MOEQ_WASM_RELAXED=0 in
 * `env` asks for the baseline kernels.
 */
export function relaxedSimdUsable(WA: RelaxedSimdApi, env: Readonly<Record<string, string | undefined>>, enableFlag: () => void): boolean {
  if (env.MOEQ_WASM_RELAXED === "0") return false;
  if (!WA.validate(RELAXED_PROBE)) enableFlag();
  if (!WA.validate(RELAXED_PROBE)) return false;
  const probe = new WA.Instance(new WA.Module(RELAXED_PROBE), {}).exports.f as () => number;
  return probe() === 2 ** -24;
}

let relaxedKnown: boolean | undefined;

function relaxedSimd(WA: RelaxedSimdApi): boolean {
  relaxedKnown ??= relaxedSimdUsable(WA, process.env, () => setFlagsFromString("--experimental-wasm-relaxed-simd"));
  return relaxedKnown;
}

/** Arguments of one row-parallel kernel call (byte offsets into the shared memory). */
export interface KernelJob {
  readonly kind: "qmatmul" | "gemm" | "softmax" | "swiglu";
  /** ggml type (qmatmul). */
  readonly type: number;
  readonly w: number;
  readonly rowBytes: number;
  readonly cols: number;
  readonly rows: number;
  /** qmatmul: int8 activations; gemm: f32 activations. */
  readonly x: number;
  readonly xd: number;
  /** qmatmul: int32 sums of the activations per 16 values. */
  readonly xb: number;
  readonly nTok: number;
  readonly out: number;
  readonly ldo: number;
  /** qmatmul: the activations widened to int16. */
  readonly x16: number;
  /** qmatmul: 1 = Q8_0 in ggml's lane order as well (bit-identical). */
  readonly exact: number;
  /** Per-thread scratch bytes the kernel needs (qmatmul). */
  readonly scratchBytes: number;
}

/** A job with every argument 0 (the elementwise jobs set the few they use). */
const NO_JOB: KernelJob = {
  kind: "gemm",
  type: 0,
  w: 0,
  rowBytes: 0,
  cols: 0,
  rows: 0,
  x: 0,
  xd: 0,
  xb: 0,
  nTok: 0,
  out: 0,
  ldo: 0,
  x16: 0,
  exact: 0,
  scratchBytes: 64,
};
/** Below this many cells an elementwise job stays on the calling thread. */
const PARALLEL_MIN_CELLS = 1 << 14;
const F32_BITS = new Float32Array(1);
const I32_BITS = new Int32Array(F32_BITS.buffer);

export class WasmHost {
  readonly arena: Arena;
  private readonly workers: Worker[] = [];
  private readonly ctrl: number;
  private readonly scratch: { off: number; bytes: number }[] = [];
  private readonly named = new Map<string, { off: number; bytes: number }>();
  private starting: Promise<void> | null = null;
  /** Blocks released while kernels may still read them; freed at the next `collect`. */
  private readonly deferred: number[] = [];
  readonly gemm: GemmFn;
  readonly gemmStrided: GemmStridedFn;
  readonly gemmVP: GemmVPFn;
  readonly qmatmul: QmatmulFn;
  readonly qmatmulScratchBytes: (cols: number) => number;
  /** Up to this many tokens the default numerics multiply row by row; above it the tiled kernel (int16 activations). */
  readonly fusedMaxTokens: number;
  /** Whether Q4_K/Q6_K rows for up to `fusedMaxTokens` tokens read the int8 activation codes (relaxed build). */
  readonly int8Rows: boolean;
  /** f32 rows at `x` (`count` floats) to Q8_0 / Q8_K blocks: codes, scales, sums per 16, codes as int16 (x16 ≠ 0). */
  readonly quantizeQ8_0: Q8QuantizeFn;
  readonly quantizeQ8_K: Q8QuantizeFn;
  /** Rounds `n` floats at `p` to the nearest f16 value in place (as `roundToF16`). */
  readonly roundF16: (p: number, n: number) => void;

  private constructor(
    readonly memory: WasmMemory,
    private readonly module: object,
    exports: Record<string, unknown>,
    /** Which build of the kernels runs: both give the same bits (their integer sums are exact). */
    readonly variant: KernelVariant,
  ) {
    this.gemm = exports.gemm as GemmFn;
    this.kernels = { qmatmul: exports.qmatmul, gemm: exports.gemm, softmaxRowsGgml: exports.softmaxRowsGgml, swigluGgmlRow: exports.swigluGgmlRow };
    this.gemmStrided = exports.gemmStrided as GemmStridedFn;
    this.gemmVP = exports.gemmVP as GemmVPFn;
    this.qmatmul = exports.qmatmul as QmatmulFn;
    this.qmatmulScratchBytes = exports.qmatmulScratchBytes as (cols: number) => number;
    this.fusedMaxTokens = (exports.qmatmulFusedMaxTokens as () => number)();
    this.int8Rows = (exports.qmatmulInt8Rows as () => number)() !== 0;
    this.quantizeQ8_0 = exports.quantizeQ8_0 as Q8QuantizeFn;
    this.quantizeQ8_K = exports.quantizeQ8_K as Q8QuantizeFn;
    this.roundF16 = exports.roundF16 as (p: number, n: number) => void;
    this.arena = new Arena(
      1024,
      () => this.memory.buffer.byteLength,
      (bytes) => {
        const need = Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE);
        if (this.memory.buffer.byteLength / PAGE + need > MAX_PAGES) return false;
        // grow by at least 1/8 of the current size so weights loaded one by one do not grow page by page
        const pages = Math.min(MAX_PAGES - this.memory.buffer.byteLength / PAGE, Math.max(need, Math.ceil(this.memory.buffer.byteLength / PAGE / 8)));
        this.memory.grow(pages);
        return true;
      },
    );
    this.ctrl = this.arena.alloc(CTRL_WORDS * 4)!;
    this.control().fill(0);
  }

  /**
   * The host, or the reason it cannot be made (no WebAssembly, no shared memory, or the module failed to load).
   * `variant`: which build of the kernels (default: "relaxed" where the engine has relaxed SIMD, else "baseline").
   */
  static create(variant?: KernelVariant): WasmHost | string {
    const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    if (!WA) return "this JavaScript engine has no WebAssembly";
    if (typeof SharedArrayBuffer === "undefined") return "this JavaScript engine has no SharedArrayBuffer";
    try {
      const memory = new WA.Memory({ initial: 64, maximum: MAX_PAGES, shared: true });
      const pick = variant ?? (relaxedSimd(WA) ? "relaxed" : "baseline");
      if (pick === "relaxed" && !relaxedSimd(WA)) return "this JavaScript engine has no relaxed SIMD";
      const module = new WA.Module(Buffer.from(pick === "relaxed" ? KERNELS_WASM_RELAXED_BASE64 : KERNELS_WASM_BASE64, "base64"));
      const abort = () => {
        throw new Error("wasm abort");
      };
      const inst = new WA.Instance(module, { env: { memory, abort } });
      return new WasmHost(memory, module, inst.exports, pick);
    } catch (err) {
      // e.g. no WebAssembly SIMD or threads: matmul falls back to matmulJs, and matmulKernel() says so and why.
      return `the WASM SIMD module failed to load: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** Views over the whole memory (rebuilt by the caller after any allocation: the memory may have grown). */
  u8(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }
  f32(): Float32Array {
    const buf = this.memory.buffer;
    if (this.f32View?.buffer !== buf) this.f32View = new Float32Array(buf);
    return this.f32View;
  }
  private f32View: Float32Array | null = null;

  private control(): Int32Array {
    const buf = this.memory.buffer;
    if (this.ctrlView?.buffer !== buf) this.ctrlView = new Int32Array(buf, this.ctrl, CTRL_WORDS);
    return this.ctrlView;
  }
  private ctrlView: Int32Array | null = null;

  /** Whether `bytes` is a view into this memory (at its byteOffset). */
  holds(bytes: Uint8Array): boolean {
    return bytes.buffer instanceof SharedArrayBuffer && this.owned.has(bytes.buffer);
  }
  private readonly owned = new WeakSet<SharedArrayBuffer>();

  /** A block of `bytes` bytes in the memory as a Uint8Array (null when the memory is full). */
  allocBytes(bytes: number): Uint8Array | null {
    const off = this.arena.alloc(bytes);
    if (off === null) return null;
    const buf = this.memory.buffer;
    this.owned.add(buf);
    return new Uint8Array(buf, off, bytes);
  }

  /** Frees a block from `allocBytes` at the next `collect` (kernels of the running forward pass may still use it). */
  releaseLater(bytes: Uint8Array): void {
    this.deferred.push(bytes.byteOffset);
  }

  /** Frees the blocks released since the last call (call between forward passes). */
  collect(): void {
    for (const off of this.deferred.splice(0)) this.arena.release(off);
  }

  /** A reused block of at least `bytes` bytes under `name` (activations, outputs); its offset. */
  block(name: string, bytes: number): number {
    const b = this.named.get(name);
    if (b && b.bytes >= bytes) return b.off;
    if (b) this.arena.release(b.off);
    const size = Math.max(bytes, Math.ceil((b?.bytes ?? 0) * 1.5));
    const off = this.arena.alloc(size);
    if (off === null) throw new InputError("WASM_MEMORY_FULL", `kernel memory cannot hold ${size} more bytes (4 GiB WASM limit); lower memoryBudgetBytes`);
    this.named.set(name, { off, bytes: size });
    return off;
  }

  /** Worker threads running (besides the calling thread). */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Starts workers until `threads − 1` run besides the calling thread. Rejects with a typed error when a worker
   * cannot start (instead of silently running on one thread).
   */
  async ensureThreads(threads: number): Promise<void> {
    if (!Number.isInteger(threads) || threads < 1) throw new InputError("BAD_THREADS", `threads must be a positive integer, got ${threads}`);
    if (threads > MAX_THREADS) throw new InputError("BAD_THREADS", `threads must be at most ${MAX_THREADS}, got ${threads}`);
    while (this.starting) await this.starting;
    if (this.workers.length >= threads - 1) return;
    this.starting = this.startWorkers(threads - 1).finally(() => {
      this.starting = null;
    });
    await this.starting;
  }

  private async startWorkers(target: number): Promise<void> {
    const c = this.control();
    const before = Atomics.load(c, READY);
    const fresh: Worker[] = [];
    let failure: Error | null = null;
    for (let tid = this.workers.length + 1; tid <= target; tid++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory: this.memory, module: this.module, ctrl: this.ctrl, tid } });
      w.on("error", (e) => {
        failure = e;
      });
      w.unref();
      fresh.push(w);
    }
    const t0 = Date.now();
    while (Atomics.load(this.control(), READY) < before + fresh.length) {
      if (failure || Date.now() - t0 > 60_000) {
        await Promise.all(fresh.map((w) => w.terminate()));
        throw new InputError("THREADS_FAILED", `kernel worker threads could not start: ${(failure as Error | null)?.message ?? "timed out after 60 s"}`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    this.workers.push(...fresh);
  }

  /** Output rows each thread has computed so far (index 0: the calling thread). */
  rowsDone(): number[] {
    return Array.from(this.control().subarray(ROWS_DONE, ROWS_DONE + this.workers.length + 1));
  }

  /** The kernels the claim loop calls (one object, not one per call). */
  private readonly kernels: Record<string, unknown>;

  private threadScratch(tid: number, bytes: number): number {
    const s = this.scratch[tid];
    if (s && s.bytes >= bytes) return s.off;
    const off = this.block(`thread-scratch-${tid}`, bytes);
    this.scratch[tid] = { off, bytes };
    return off;
  }

  /** Runs `job` over its output rows on `threads` threads (the calling one included). */
  run(job: KernelJob, threads: number): void {
    const active = Math.max(1, Math.min(threads, this.workers.length + 1));
    for (let t = 0; t < active; t++) this.threadScratch(t, Math.max(job.scratchBytes, 64));
    const c = this.control();
    for (let t = 0; t < active; t++) c[SCRATCH + t] = this.scratch[t].off;
    c[CMD] = job.kind === "qmatmul" ? CMD_QMATMUL : job.kind === "gemm" ? CMD_GEMM : job.kind === "softmax" ? CMD_SOFTMAX : CMD_SWIGLU;
    c[ROWS] = job.rows;
    // about four claims per thread, a multiple of 4 rows (the kernels' row block)
    c[CHUNK] = Math.max(4, Math.ceil(job.rows / (active * 4) / 4) * 4);
    c[NEXT] = 0;
    c[ACTIVE] = active;
    c[ARGS] = job.type;
    c[ARGS + 1] = job.w;
    c[ARGS + 2] = job.rowBytes;
    c[ARGS + 3] = job.cols;
    c[ARGS + 4] = job.x;
    c[ARGS + 5] = job.xd;
    c[ARGS + 6] = job.xb;
    c[ARGS + 7] = job.nTok;
    c[ARGS + 8] = job.out;
    c[ARGS + 9] = job.ldo;
    c[ARGS + 10] = job.x16;
    c[ARGS + 11] = job.exact;
    const kernels = this.kernels;
    if (active === 1) {
      claimLoop(c, 0, kernels);
      return;
    }
    const waitFor = this.workers.length;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    claimLoop(c, 0, kernels);
    for (let i = 0; i < SPIN && Atomics.load(c, DONE) < waitFor; i++);
    let seen = Atomics.load(c, DONE);
    let last = Date.now();
    while (seen < waitFor) {
      Atomics.wait(c, DONE, seen, 1000);
      const now = Atomics.load(c, DONE);
      if (now !== seen) last = Date.now();
      else if (Date.now() - last > 120_000) throw new Error("kernel worker threads stopped answering");
      seen = now;
    }
  }

  /** ggml's swiglu in place over `n` floats at `gate` with `up` (as `ggmlSwiglu`, same bits), split over `threads`. */
  swigluGgml(gate: number, up: number, n: number, threads = 1): void {
    this.run({ ...NO_JOB, kind: "swiglu", w: gate, x: up, rows: n }, n >= PARALLEL_MIN_CELLS ? threads : 1);
  }

  /**
   * ggml's softmax of `rows` attention score rows of `lenP` cells at `s`, in place (as attention.ts's `softmaxRow`
   * without the f16 rounding): row r is the query at pos0 + (r mod nb); keys from k0, `chunk` 0 = unchunked.
   */
  softmaxRowsGgml(s: number, rows: number, lenP: number, nb: number, pos0: number, k0: number, chunk: number, scale: number, threads = 1): void {
    F32_BITS[0] = scale;
    const job = { ...NO_JOB, kind: "softmax" as const, type: I32_BITS[0], w: s, cols: lenP, rows, nTok: nb, xd: pos0, xb: k0, ldo: chunk };
    this.run(job, rows * lenP >= PARALLEL_MIN_CELLS ? threads : 1);
  }

  async close(): Promise<void> {
    const c = this.control();
    c[CMD] = CMD_QUIT;
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}

let host: WasmHost | string | undefined;

/** The process's kernel host (null where WebAssembly threads/SIMD are unavailable: `wasmHostUnavailable` says why). */
export function wasmHost(): WasmHost | null {
  if (host === undefined) host = WasmHost.create();
  return typeof host === "string" ? null : host;
}

/** Why `wasmHost()` is null, or undefined when the host runs. */
export function wasmHostUnavailable(): string | undefined {
  wasmHost();
  return typeof host === "string" ? host : undefined;
}

/**
 * Starts the kernel worker threads so that matmuls can run on `threads` threads (the calling one included).
 * Rejects with a typed error when they cannot start; `threads` = 1 needs no workers.
 */
export async function startKernelThreads(threads: number): Promise<void> {
  const h = wasmHost();
  if (!h) {
    if (threads > 1) throw new InputError("THREADS_FAILED", `${threads} threads requested but this runtime has no shared WebAssembly memory`);
    return;
  }
  await h.ensureThreads(threads);
}
