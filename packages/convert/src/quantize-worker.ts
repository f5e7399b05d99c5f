/** Worker-thread entry: encodes one job per message and posts the bytes back (transferred, not copied). */
import { parentPort } from "node:worker_threads";
import { encodeUnit, type EncodeJob } from "./encode-rows.js";

parentPort?.on("message", (msg: { id: number; job: EncodeJob }) => {
  try {
    const { bytes: out, sumSquaredError } = encodeUnit(msg.job);
    const copy = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
    parentPort?.postMessage({ id: msg.id, out: copy, sumSquaredError }, [copy.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort?.postMessage({ id: msg.id, error: (e as Error).message });
  }
});
