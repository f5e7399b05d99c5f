import type { Argv, CommandModule } from "yargs";
import cliProgress from "cli-progress";
import { parseRepoId, pullSnapshot, redactSecret, resolveHubEnv, type PullProgressEvent } from "@moeq/hub";
import { InputError } from "@moeq/formats";

interface PullArgs {
  repo: string;
  revision: string;
  include: string | string[] | undefined;
  exclude: string | string[] | undefined;
  "cache-dir": string | undefined;
  token: string | undefined;
  concurrency: number;
  json: boolean;
}

/** Makes sure no error text that reaches the terminal carries the token. */
export function scrubError(err: unknown, token: string | undefined): unknown {
  if (err instanceof Error && token) {
    err.message = redactSecret(err.message, token);
    if (err.stack) err.stack = redactSecret(err.stack, token);
  }
  return err;
}

/** A total bar plus one bar per file in flight, on stderr (cli-progress draws nothing when stderr is not a TTY). */
export function pullProgressBars(): { onProgress: (e: PullProgressEvent) => void; stop: () => void } {
  // Bars only on a terminal: piped or captured stderr gets nothing but the final messages.
  if (!process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const multi = new cliProgress.MultiBar(
    { stream: process.stderr, format: " {bar} {percentage}% | {value_h}/{total_h} | {name}", hideCursor: true, clearOnComplete: false, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  const human = (n: number) =>
    n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)}G` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}M` : `${(n / 1024).toFixed(0)}K`;
  let total: cliProgress.SingleBar | undefined;
  const files = new Map<string, cliProgress.SingleBar>();
  const payload = (name: string, v: number, t: number) => ({ name, value_h: human(v), total_h: human(t) });
  let totalValue = 0;
  let totalBytes = 0;
  return {
    onProgress: (e) => {
      if (e.kind === "plan") {
        totalBytes = e.totalBytes;
        totalValue = e.cachedBytes;
        total = multi.create(Math.max(1, e.totalBytes), e.cachedBytes, payload(`total (${e.files} files)`, e.cachedBytes, e.totalBytes));
      } else if (e.kind === "file-start") {
        files.set(e.path, multi.create(Math.max(1, e.size), e.resumedFrom, payload(e.path + (e.resumedFrom ? " (resumed)" : ""), e.resumedFrom, e.size)));
        totalValue += e.resumedFrom;
        total?.update(totalValue, payload("total", totalValue, totalBytes));
      } else if (e.kind === "file-bytes") {
        const bar = files.get(e.path);
        if (bar) bar.increment(e.bytes, { value_h: human(bar.getProgress() * bar.getTotal() + e.bytes) });
        totalValue += e.bytes;
        total?.update(totalValue, payload("total", totalValue, totalBytes));
      } else if (e.kind === "file-done") {
        const bar = files.get(e.path);
        if (bar) {
          bar.update(bar.getTotal());
          bar.stop();
          multi.remove(bar);
          files.delete(e.path);
        }
      }
    },
    stop: () => multi.stop(),
  };
}

export const pullCommand: CommandModule<object, PullArgs> = {
  command: "pull <repo>",
  describe: "Download a Hub model repo into the Hugging Face cache (resumable, sha256-verified); prints the snapshot path",
  builder: (y: Argv) =>
    y
      .positional("repo", { type: "string", demandOption: true, describe: "org/name on the Hub" })
      .option("revision", { type: "string", default: "main", describe: "branch, tag or commit hash" })
      // One glob per flag, repeatable (`--include '*.json' --include '*.safetensors'`): an array-typed option
      // would also swallow the positional repo name that follows it.
      .option("include", { type: "string", requiresArg: true, describe: "only files matching this fnmatch glob (repeatable)" })
      .option("exclude", { type: "string", requiresArg: true, describe: "skip files matching this fnmatch glob (repeatable)" })
      .option("cache-dir", { type: "string", describe: "cache root (default: HF_HUB_CACHE, else $HF_HOME/hub)" })
      .option("token", { type: "string", describe: "access token (default: HF_TOKEN)" })
      .option("concurrency", { type: "number", default: 4, describe: "parallel file downloads" })
      .option("json", { type: "boolean", default: false, describe: "print a JSON result instead of the path" }) as unknown as Argv<PullArgs>,
  handler: async (argv) => {
    const env = resolveHubEnv({
      ...(argv.token !== undefined ? { token: argv.token } : {}),
      ...(argv["cache-dir"] !== undefined ? { cacheDir: argv["cache-dir"] } : {}),
    });
    if (!Number.isInteger(argv.concurrency) || argv.concurrency < 1 || argv.concurrency > 64) {
      throw new InputError("USAGE", `--concurrency must be an integer from 1 to 64, got ${argv.concurrency}`);
    }
    const bars = pullProgressBars();
    try {
      const result = await pullSnapshot({
        repo: parseRepoId(argv.repo),
        revision: argv.revision,
        include: globList(argv.include),
        exclude: globList(argv.exclude),
        cacheDir: env.cacheDir,
        hubUrl: env.endpoint,
        accessToken: env.token,
        offline: env.offline,
        concurrency: argv.concurrency,
        onProgress: bars.onProgress,
      });
      bars.stop();
      process.stdout.write(argv.json ? JSON.stringify(result, null, 2) + "\n" : `${result.snapshotPath}\n`);
    } catch (err) {
      bars.stop();
      throw scrubError(err, env.token);
    }
  },
};

/** yargs gives one string for a single flag and an array for a repeated one. */
function globList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
