// llama.cpp's own command-line tools (llama-imatrix, llama-quantize, llama-perplexity), built from the source
// node-llama-cpp bundles by test-support/build-llama-tools.sh into a cache directory (once; later calls return
// at once). Test-only: the referee for file-level parity, where llama.cpp must read and write the files itself.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./build-llama-tools.sh", import.meta.url));
let binDir: string | undefined;

/** The bin directory of the built tools; builds them first when the cache does not have them (minutes). */
export function llamaToolsBin(): string {
  binDir ??= execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 })
    .trim()
    .split("\n")
    .pop()!;
  return binDir;
}

export interface ToolRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one tool (e.g. "llama-imatrix") with `args`; throws with its stderr when it exits non-zero. */
export function runLlamaTool(tool: "llama-imatrix" | "llama-quantize" | "llama-perplexity", args: string[], opts: { allowFailure?: boolean } = {}): ToolRun {
  const r = spawnSync(join(llamaToolsBin(), tool), args, { encoding: "utf8", maxBuffer: 64 << 20 });
  const run = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (run.status !== 0 && !opts.allowFailure) throw new Error(`${tool} ${args.join(" ")} exited ${run.status}:\n${run.stderr.slice(-4000)}`);
  return run;
}
