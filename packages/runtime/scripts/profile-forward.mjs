// Profiles the runtime's prompt pass and greedy generation on a GGUF, for finding where a forward pass spends
// its time (the bench says how fast; this says why):
//   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/runtime/scripts/profile-forward.mjs model.gguf [promptTokens] [genTokens]
// Prints wall and CPU milliseconds of the prompt pass and of the generation steps. Needs a built dist/
// (npx tsc -b packages/cli); one thread, so the profile sees every kernel call.
import { performance } from "node:perf_hooks";
import { loadModel } from "../dist/index.js";

const [path, ppArg = "256", tgArg = "64"] = process.argv.slice(2);
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
await m.close();
