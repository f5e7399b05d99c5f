import type { Argv, CommandModule } from "yargs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { InputError } from "@moeq/formats";
import { gateVerdict, readReport } from "@moeq/eval";
import { parseRepoId, planPublish, publishFolder, resolveHubEnv, type PublishGate, type PublishProgressEvent } from "@moeq/hub";
import { scrubError } from "./pull.js";

interface PublishArgs {
  dir: string;
  repo: string;
  private: boolean | undefined;
  revision: string;
  message: string | undefined;
  token: string | undefined;
  force: boolean;
  "gate-report": string | undefined;
  "dry-run": boolean;
  json: boolean;
}

/** Phase line plus one bar per file (hashing, then uploading), on stderr. */
function publishProgressBars(): { onProgress: (e: PublishProgressEvent) => void; stop: () => void } {
  // Bars only on a terminal: piped or captured stderr gets nothing but the final messages.
  if (!process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const multi = new cliProgress.MultiBar(
    { stream: process.stderr, format: " {bar} {percentage}% | {state} {name}", hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress: (e) => {
      if (e.kind === "phase") {
        multi.log(`moeq publish: ${e.phase}\n`);
        return;
      }
      let bar = bars.get(e.path);
      if (!bar) {
        bar = multi.create(100, 0, { name: e.path, state: e.state });
        bars.set(e.path, bar);
      }
      bar.update(Math.round(e.progress * 100), { state: e.state });
    },
    stop: () => multi.stop(),
  };
}

/** The report `moeq gate --report <dir>` writes, looked for in the folder when --gate-report is not given. */
export const FOLDER_GATE_REPORT = "report.json";

/**
 * The gate verdict to honour, read with @moeq/eval and failing closed: `--gate-report` names a report that
 * must exist, parse, be of a known schema and hold gates; without it `<dir>/report.json` is read the same
 * way when it exists (a report there that is broken is an error, never "not gated"). InputError → exit 2.
 */
export function readPublishGate(dir: string, gateReport: string | undefined): PublishGate | undefined {
  const file = gateReport ?? join(dir, FOLDER_GATE_REPORT);
  if (gateReport === undefined && !existsSync(file)) return undefined;
  const verdict = gateVerdict(readReport(file), file);
  if (!verdict && gateReport !== undefined) {
    throw new InputError("REPORT_NO_GATES", "the report ran no gates (write one with moeq gate --report, not moeq eval)", { file });
  }
  return verdict;
}

export const publishCommand: CommandModule<object, PublishArgs> = {
  command: "publish <dir> <repo>",
  describe: "Upload a quantized model folder to the Hub in one commit, with a generated model card",
  builder: (y: Argv) =>
    y
      .positional("dir", { type: "string", demandOption: true, describe: "folder to upload" })
      .positional("repo", { type: "string", demandOption: true, describe: "org/name on the Hub" })
      .option("private", { type: "boolean", describe: "create the repo private (when it does not exist yet)" })
      .option("revision", { type: "string", default: "main", describe: "branch to commit to" })
      .option("message", { type: "string", describe: "commit title" })
      .option("token", { type: "string", describe: "write token (default: HF_TOKEN)" })
      .option("force", { type: "boolean", default: false, describe: "publish even if the folder's quality gate failed" })
      .option("gate-report", { type: "string", describe: "moeq gate's report.json to honour (default: <dir>/report.json if present); missing/broken → exit 2" })
      .option("dry-run", { type: "boolean", default: false, describe: "print the model card and file list; upload nothing" })
      .option("json", { type: "boolean", default: false, describe: "print a JSON result" }) as unknown as Argv<PublishArgs>,
  handler: async (argv) => {
    const env = resolveHubEnv(argv.token !== undefined ? { token: argv.token } : {});
    const repo = parseRepoId(argv.repo);
    const gate = readPublishGate(argv.dir, argv["gate-report"]);
    if (argv["dry-run"]) {
      const plan = await planPublish(argv.dir, repo, gate);
      const verdict = gate ? (gate.passed ? "passed" : "failed") : "absent";
      process.stdout.write(
        argv.json
          ? JSON.stringify(
              { repo: repo.id, files: plan.files.map((f) => ({ path: f.path, size: f.size })), gate: verdict, metadata: plan.meta, modelCard: plan.card },
              null,
              2,
            ) + "\n"
          : plan.card,
      );
      return;
    }
    const bars = publishProgressBars();
    try {
      const r = await publishFolder({
        dir: argv.dir,
        repo,
        hubUrl: env.endpoint,
        accessToken: env.token,
        ...(argv.private !== undefined ? { private: argv.private } : {}),
        branch: argv.revision,
        ...(argv.message !== undefined ? { message: argv.message } : {}),
        force: argv.force,
        ...(gate ? { gate } : {}),
        onProgress: bars.onProgress,
      });
      bars.stop();
      if (r.gate === "failed") process.stderr.write("moeq publish: WARNING: the quality gate failed; published because of --force\n");
      if (r.replacedReadme) process.stderr.write("moeq publish: note: the folder's README.md was replaced by the generated model card\n");
      if (!r.metadata.license) process.stderr.write("moeq publish: note: no licence found in the folder or the base model's card; the card has none\n");
      process.stdout.write(argv.json ? JSON.stringify({ ...r, modelCard: undefined }, null, 2) + "\n" : `${r.commitUrl}\n`);
    } catch (err) {
      bars.stop();
      throw scrubError(err, env.token);
    }
  },
};
