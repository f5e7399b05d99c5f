// Profiles the runtime's prompt pass and greedy generation on a GGUF, for finding where a forward pass spends
// its time (the bench says how fast; this says why):
//   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/runtime/scripts/profile-forward.mjs model.gguf [promptTokens] [genTokens] [warmRuns]
// Prints wall and CPU milliseconds of the prompt pass and of the generation steps. Needs a built dist/
// (npx tsc -b packages/cli); one thread, so the profile sees every kernel call. With warmRuns > 0 it then repeats
// the same generation warmRuns times and prints the median wall times of those (the JIT warmed up: what per-token
// JS work costs in a long-running process, less noisy than the first run).
import { performance } from "node:perf_hooks";
import { loadModel } from "../dist/index.js";

const [path, ppArg = "256", tgArg = "64", warmArg = "0"] = process.argv.slice(2);
if (!path) {
  console.error("usage: profile-forward.mjs <model.gguf> [promptTokens] [genTokens]");
  process.exit(2);
}
const pp = Number(ppArg);
const tg = Number(tgArg);
const m = await loadModel(path, { threads: 1 });
const prompt = Array.from({ length: pp }, (_, i) => (i * 37 + 11) % 3000);
await m.generate(prompt.slice(0, 8), { maxTokens: 2, temperature: 0 }); // weights into memory
const stamps = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let cpuFirst;
await m.generate(prompt, {
  maxTokens: tg + 1,
  temperature: 0,
  onToken: () => {
    stamps.push(performance.now());
    cpuFirst ??= process.cpuUsage(cpu0);
  },
});
const cpuAll = process.cpuUsage(cpu0);
const ms = (u) => (u.user + u.system) / 1000;
const steps = stamps.length - 1;
console.log(
  `prompt ${pp} tokens: ${(stamps[0] - t0).toFixed(1)} ms wall, ${ms(cpuFirst).toFixed(1)} ms CPU; ` +
    `${steps} generated: ${(stamps[steps] - stamps[0]).toFixed(1)} ms wall, ${(ms(cpuAll) - ms(cpuFirst)).toFixed(1)} ms CPU`,
);
const warm = Number(warmArg);
if (warm > 0) {
  const pps = [];
  const tgs = [];
  for (let r = 0; r < warm; r++) {
    const at = [];
    const s0 = performance.now();
    await m.generate(prompt, { maxTokens: tg + 1, temperature: 0, onToken: () => at.push(performance.now()) });
    pps.push(at[0] - s0);
    tgs.push(at[at.length - 1] - at[0]);
  }
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  console.log(
    `warm, median of ${warm}: prompt ${median(pps).toFixed(1)} ms; ${steps} generated ${median(tgs).toFixed(1)} ms ` +
      `(${((steps / median(tgs)) * 1000).toFixed(0)} tok/s)`,
  );
}
await m.close();
