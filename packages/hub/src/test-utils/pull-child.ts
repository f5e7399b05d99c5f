/**
 * Child-process entry for the kill-and-resume test: runs one pull and prints the snapshot path.
 * Arguments arrive as one JSON object in argv[2] so the test controls every option.
 */
import { pullSnapshot } from "../pull.js";
import { parseRepoId } from "../repo-id.js";

const args = JSON.parse(process.argv[2] ?? "{}") as { repo: string; cacheDir: string; hubUrl: string; token?: string; concurrency?: number };
pullSnapshot({ repo: parseRepoId(args.repo), cacheDir: args.cacheDir, hubUrl: args.hubUrl, accessToken: args.token, concurrency: args.concurrency ?? 1 })
  .then((r) => process.stdout.write(`${r.snapshotPath}\n`))
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
