/** Worker-thread entry of solve-pool.ts: solves one Linear per message and posts its packed tensors back. */
import { parentPort, threadId } from "node:worker_threads";
import { solveLinear, type SolveJob } from "./solve-linear.js";

parentPort?.on("message", (msg: { id: number; job: SolveJob }) => {
  try {
    const r = solveLinear(msg.job);
    const { qweight, qzeros, scales, gIdx } = r.packed;
    const transfer = [qweight.buffer, qzeros.buffer, scales.buffer, gIdx.buffer] as ArrayBuffer[];
    parentPort?.postMessage({ id: msg.id, result: r, threadId }, [...new Set(transfer)]);
  } catch (e) {
    parentPort?.postMessage({ id: msg.id, error: (e as Error).message, threadId });
  }
});
parentPort?.postMessage({ ready: true }); // modules loaded: the pool may send jobs
