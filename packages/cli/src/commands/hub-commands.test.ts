import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { runMoeq } from "../test-utils/run-moeq.js";
import { writeReport, type EvalReport } from "@moeq/eval";
import { FakeHub } from "@moeq/test-support/fake-hub";
import { tinyGguf } from "@moeq/test-support/tiny-gguf";

const TOKEN = "hf_cliTOKEN_mustNeverBePrinted_7f3a";
const WRONG = "hf_wrongCliTOKEN_alsoSecret_91b2";
const hub = new FakeHub({ requiredToken: TOKEN });
let root: string;
const saved = { ...process.env };

/** `moeq …` in-process, capturing stdout, stderr and the console. */
const moeq = (...args: string[]) => runMoeq(args, { console: true });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "moeq-cli-hub-"));
  hub.addRepo("moeq-test/cli", {
    "config.json": { content: Buffer.from('{"model_type":"llama4"}'), lfs: false },
    "w.safetensors": { content: Buffer.alloc(30_000, 7), lfs: true },
  });
  await hub.start();
  process.env.HF_TOKEN = TOKEN;
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HUB_CACHE = join(root, "cache");
  delete process.env.HF_HUB_OFFLINE;
});
afterEach(() => {
  hub.options.gated = undefined;
  hub.options.corrupt = undefined;
});
afterAll(async () => {
  process.env = saved;
  await hub.stop();
  await rm(root, { recursive: true, force: true });
});

/** report.json as `moeq gate --report` writes it (packages/eval EvalReport). */
const gatedReport = (pass: boolean): EvalReport => ({
  schema: 1,
  model: "m-Q4_K_M.gguf",
  engine: "moeq",
  createdAt: "2026-11-29T00:00:00.000Z",
  results: {},
  metrics: { kld_mean: pass ? 0.01 : 0.2 },
  gates: [{ metric: "kld_mean", op: "<=", threshold: 0.05, actual: pass ? 0.01 : 0.2, pass, basis: "base" }],
  passed: pass,
});

describe("moeq pull / publish", () => {
  const outputs: string[] = [];

  it("pull prints only the snapshot path on stdout", async () => {
    const r = await moeq("pull", "moeq-test/cli");
    outputs.push(r.out, r.err);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${join(root, "cache", "models--moeq-test--cli", "snapshots", hub.repos.get("moeq-test/cli")!.commit)}\n`);
    const j = await moeq("pull", "moeq-test/cli", "--json", "--include", "*.json");
    outputs.push(j.out, j.err);
    expect(JSON.parse(j.out)).toMatchObject({ repo: "moeq-test/cli", files: [{ path: "config.json", status: "cached" }] });
  });

  it("pull takes repeatable --include/--exclude before the repo name without swallowing it", async () => {
    const r = await moeq("pull", "--include", "*.json", "--include", "README.md", "--exclude", "README.md", "moeq-test/cli", "--json");
    outputs.push(r.out, r.err);
    expect(r.code).toBe(0);
    const files = (JSON.parse(r.out) as { files: { path: string }[] }).files.map((f) => f.path);
    expect(files).toEqual(["config.json"]);
  });

  it("maps 401 (even when the server echoes the token), gated 403 and 404 to one line and exit 2", async () => {
    const bad = await moeq("pull", "moeq-test/cli", "--token", WRONG, "--cache-dir", join(root, "c401"));
    outputs.push(bad.out, bad.err);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^moeq: failed to resolve revision main of moeq-test\/cli: the Hub rejected the access token \(401\).*hf_\*\*\*/);
    expect(bad.err.trim().split("\n")).toHaveLength(1);
    hub.options.gated = new Set(["moeq-test/cli"]);
    const gated = await moeq("pull", "moeq-test/cli", "--cache-dir", join(root, "c403"));
    outputs.push(gated.out, gated.err);
    expect(gated.code).toBe(2);
    expect(gated.err).toMatch(/repo is gated \(403\)/);
    const missing = await moeq("pull", "moeq-test/absent", "--cache-dir", join(root, "c404"));
    outputs.push(missing.out, missing.err);
    expect([missing.code, /repo not found \(404\)/.test(missing.err)]).toEqual([2, true]);
  });

  it("reports an unreachable Hub in one line, not a stack trace", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
    try {
      const r = await moeq("pull", "moeq-test/cli", "--cache-dir", join(root, "down"));
      outputs.push(r.out, r.err);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^moeq: failed to resolve revision main of moeq-test\/cli: fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
    } finally {
      process.env.HF_ENDPOINT = hub.url;
    }
  });

  it("exits 1 when a download fails verification", async () => {
    hub.options.corrupt = new Set(["w.safetensors"]);
    const r = await moeq("pull", "moeq-test/cli", "--cache-dir", join(root, "corrupt"));
    outputs.push(r.out, r.err);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/w\.safetensors: downloaded content failed verification \(sha256/);
  });

  it("publish prints the commit URL; a failed gate exits 1 unless --force", async () => {
    const dir = join(root, "out");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "m-Q4_K_M.gguf"), tinyGguf({ "general.architecture": "llama4", "general.license": "apache-2.0" }, 20_000));
    const ok = await moeq("publish", dir, "moeq-test/cli-out", "--message", "first upload");
    outputs.push(ok.out, ok.err);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(new RegExp(`^${hub.url}/moeq-test/cli-out/commit/[0-9a-f]{40}\\n$`));
    writeReport(dir, gatedReport(false));
    const refused = await moeq("publish", dir, "moeq-test/cli-out");
    outputs.push(refused.out, refused.err);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/quality gate failed.*--force/);
    const forced = await moeq("publish", dir, "moeq-test/cli-out", "--force", "--json");
    outputs.push(forced.out, forced.err);
    expect([forced.code, JSON.parse(forced.out).gate]).toEqual([0, "failed"]);
    const dry = await moeq("publish", dir, "moeq-test/cli-out", "--dry-run", "--force");
    outputs.push(dry.out, dry.err);
    expect(dry.out).toMatch(/^---\nbase_model|^---\nlibrary_name: gguf/);
  });

  it("honours the verdict in report.json written by moeq gate --report (packages/eval writeReport)", async () => {
    const dir = join(root, "gated-out");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "m-Q4_K_M.gguf"), tinyGguf({ "general.architecture": "llama4", "general.license": "apache-2.0" }));
    writeReport(dir, gatedReport(false));
    const refused = await moeq("publish", dir, "moeq-test/gated-out");
    outputs.push(refused.out, refused.err);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/report\.json: the quality gate failed \(kld_mean: 0\.2 <= 0\.05 is false\)/);
    const elsewhere = join(root, "gate-elsewhere");
    writeReport(elsewhere, gatedReport(true));
    const ok = await moeq("publish", dir, "moeq-test/gated-out", "--gate-report", join(elsewhere, "report.json"), "--dry-run");
    outputs.push(ok.out, ok.err);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("| kld_mean | 0.010000 | <= | 0.050000 | base | pass |");
  });

  it("fails closed: a gate report that is missing, unreadable, truncated, of unknown schema or without gates is exit 2, nothing sent", async () => {
    const dir = join(root, "fail-closed");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "m-Q4_K_M.gguf"), tinyGguf({ "general.architecture": "llama4", "general.license": "apache-2.0" }));
    const good = JSON.stringify(gatedReport(true), null, 2);
    const bad = join(root, "bad-reports");
    await mkdir(join(bad, "a-folder.json"), { recursive: true });
    await writeFile(join(bad, "truncated.json"), good.slice(0, Math.floor(good.length / 2)));
    await writeFile(join(bad, "schema2.json"), JSON.stringify({ ...gatedReport(true), schema: 2 }));
    await writeFile(
      join(bad, "bad-row.json"),
      JSON.stringify({ ...gatedReport(true), gates: [{ metric: "kld_mean", op: "<=", threshold: 0.05, pass: true, basis: "base" }] }),
    );
    await writeFile(join(bad, "no-gates.json"), JSON.stringify({ ...gatedReport(true), gates: undefined, passed: undefined }));
    const cases: [string, RegExp][] = [
      ["missing.json", /missing\.json: no such report/],
      ["a-folder.json", /a-folder\.json: cannot read the report \(EISDIR\)/],
      ["truncated.json", /truncated\.json: not valid JSON, truncated or not a report/],
      ["schema2.json", /schema2\.json: unknown report schema 2 \(this moeq reads schema 1\)/],
      ["bad-row.json", /bad-row\.json: gates\[0\]: needs a number "actual"/],
      ["no-gates.json", /no-gates\.json: the report ran no gates/],
    ];
    const before = hub.requests.length;
    for (const [name, message] of cases) {
      for (const dry of [[], ["--dry-run"]]) {
        const r = await moeq("publish", dir, "moeq-test/fail-closed", "--gate-report", join(bad, name), ...dry);
        outputs.push(r.out, r.err);
        expect([name, r.code, r.out]).toEqual([name, 2, ""]);
        expect(r.err).toMatch(message);
      }
    }
    // Without --gate-report, a broken report.json in the folder is no less an error than a named one.
    await writeFile(join(dir, "report.json"), good.slice(0, 40));
    const implicit = await moeq("publish", dir, "moeq-test/fail-closed");
    outputs.push(implicit.out, implicit.err);
    expect(implicit.code).toBe(2);
    expect(implicit.err).toMatch(/fail-closed\/report\.json: not valid JSON/);
    expect(hub.requests.length).toBe(before);
  });

  it("never printed either token in any captured stdout, stderr or console line above", () => {
    expect(outputs.length).toBeGreaterThanOrEqual(16);
    for (const o of outputs) {
      expect(o).not.toContain(TOKEN);
      expect(o).not.toContain(WRONG);
    }
  });
});
