import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckFailedError } from "@moeq/formats";
import { FakeHub, sha256Hex } from "@moeq/test-support/fake-hub";
import { tinyGguf } from "@moeq/test-support/tiny-gguf";
import { publishFolder } from "./publish.js";
import { parseRepoId } from "./repo-id.js";
import { writePublishManifest } from "./publish-manifest.js";
import { STREAM_UPLOAD_MIN } from "./hub-client.js";
import type { PublishGate } from "./publish-gate.js";

const TOKEN = "hf_publishTOKEN_neverPrinted_42";
const BASE = "meta-llama/Llama-4-Scout-17B-16E-Instruct";
const hub = new FakeHub({ requiredToken: TOKEN });
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "moeq-publish-"));
  hub.addRepo(BASE, {});
  hub.cardData.set(BASE, { license: "llama4" });
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  await rm(root, { recursive: true, force: true });
});

/** A verdict as the CLI hands it over (read from report.json by @moeq/eval). */
function verdict(passed: boolean): PublishGate {
  return {
    passed,
    table: [
      "| gate | actual | op | threshold | basis | result |",
      "|---|---:|:-:|---:|---|:-:|",
      `| kld_mean | ${passed ? "0.031000" : "0.120000"} | <= | 0.050000 | base | ${passed ? "pass" : "**FAIL**"} |`,
    ].join("\n"),
    failures: passed ? [] : ["kld_mean: 0.12 <= 0.05 is false"],
    file: join(root, "report.json"),
  };
}

async function ggufFolder(name: string): Promise<{ dir: string; gguf: Buffer }> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const gguf = tinyGguf({ "general.architecture": "llama4", "general.name": "Tiny Scout" }, 40_000);
  await writeFile(join(dir, "tiny-scout-Q4_K_M.gguf"), gguf);
  await writeFile(join(dir, "imatrix-notes.txt"), "calibrated on 128 wikitext chunks\n");
  await writePublishManifest(dir, { version: 1, format: "gguf", baseModel: BASE, quantization: "Q4_K_M", tool: "moeq 0.1.0" });
  return { dir, gguf };
}

describe("publishFolder", () => {
  it("creates the repo and sends one commit: LFS for the GGUF, inline small files, and the generated model card", async () => {
    const { dir, gguf } = await ggufFolder("ok");
    const r = await publishFolder({ dir, repo: parseRepoId("moeq-test/scout-gguf"), hubUrl: hub.url, accessToken: TOKEN, private: true, gate: verdict(true) });
    expect(r.createdRepo).toBe(true);
    expect(hub.createdRepos).toContainEqual(expect.objectContaining({ name: "scout-gguf", organization: "moeq-test", visibility: "private" }));
    expect(hub.commits).toHaveLength(1);
    const commit = hub.commits[0]!;
    expect(commit.branch).toBe("main");
    expect(commit.lines[0]).toEqual({ key: "header", value: expect.objectContaining({ summary: "Upload GGUF Q4_K_M quantization with moeq" }) });
    const lfs = commit.lines.filter((l) => l.key === "lfsFile").map((l) => l.value);
    expect(lfs).toEqual([{ path: "tiny-scout-Q4_K_M.gguf", algo: "sha256", size: gguf.length, oid: sha256Hex(gguf) }]);
    expect(hub.lfsStore.get(sha256Hex(gguf))?.equals(gguf)).toBe(true);
    const put = hub.requests.find((q) => q.method === "PUT" && q.url.startsWith("/lfs-upload/"));
    expect(put?.authorization).toBeUndefined();
    const inline = Object.fromEntries(
      commit.lines.filter((l) => l.key === "file").map((l) => [l.value.path, Buffer.from(l.value.content as string, "base64").toString("utf8")]),
    );
    expect(Object.keys(inline).sort()).toEqual(["README.md", "imatrix-notes.txt", "publish-manifest.json"]);
    const card = inline["README.md"]!;
    expect(card).toBe(r.modelCard);
    const front = card.split("---")[1]!;
    expect(front).toContain(`base_model: ${BASE}`);
    expect(front).toContain("base_model_relation: quantized");
    expect(front).toContain("library_name: gguf");
    expect(front).toContain("license: llama4"); // inherited from the base model's card on the Hub
    expect(front).toMatch(/tags:\n- gguf\n- quantized\n- moeq\n- llama4\n- q4_k_m/);
    expect(card).toContain("**Verdict: PASSED**");
    expect(card).toContain("| kld_mean | 0.031000 | <= | 0.050000 | base | pass |");
    expect(JSON.stringify(hub.commits)).not.toContain(TOKEN);
  });

  it("refuses a folder whose gate failed without touching the Hub, and publishes it with force", async () => {
    const { dir } = await ggufFolder("failed");
    const before = hub.requests.length;
    const err = await publishFolder({ dir, repo: parseRepoId("moeq-test/scout-bad"), hubUrl: hub.url, accessToken: TOKEN, gate: verdict(false) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckFailedError);
    expect((err as Error).message).toMatch(/report\.json: the quality gate failed \(kld_mean: 0\.12 <= 0\.05 is false\).*--force/);
    expect(hub.requests.length).toBe(before);
    const r = await publishFolder({ dir, repo: parseRepoId("moeq-test/scout-bad"), hubUrl: hub.url, accessToken: TOKEN, force: true, gate: verdict(false) });
    expect(r.gate).toBe("failed");
    expect(r.modelCard).toContain("FAILED (published with --force)");
    expect(r.modelCard).toContain("| **FAIL** |");
  });

  it("reads base model and licence from GGUF general.* keys when there is no manifest, and re-publishes into an existing repo", async () => {
    const dir = join(root, "bare");
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "m-Q8_0.gguf"),
      tinyGguf({ "general.architecture": "llama4", "general.license": "apache-2.0", "general.base_model.0.repo_url": "https://huggingface.co/org/base-moe" }),
    );
    const first = await publishFolder({ dir, repo: parseRepoId("moeq-test/bare"), hubUrl: hub.url, accessToken: TOKEN });
    expect(first.metadata).toMatchObject({ format: "gguf", baseModel: "org/base-moe", license: "apache-2.0", quantization: "Q8_0" });
    expect(first.modelCard).toContain("No gate report");
    const again = await publishFolder({ dir, repo: parseRepoId("moeq-test/bare"), hubUrl: hub.url, accessToken: TOKEN, message: "refresh", branch: "q8-0" });
    expect(again.createdRepo).toBe(false);
    expect(hub.branches.has("moeq-test/bare@q8-0")).toBe(true);
    expect(hub.commits.at(-1)!.branch).toBe("q8-0");
    expect(hub.commits.at(-1)!.lines[0]).toMatchObject({ key: "header", value: { summary: "refresh" } });
  });

  it("streams an LFS file above 8 MiB through node:http with its Content-Length, byte-exact", async () => {
    const dir = join(root, "large");
    await mkdir(dir, { recursive: true });
    const big = tinyGguf({ "general.architecture": "llama4", "general.license": "mit" }, STREAM_UPLOAD_MIN + 12_345);
    big[big.length - 1] = 0x5a;
    await writeFile(join(dir, "large-F16.gguf"), big);
    const r = await publishFolder({ dir, repo: parseRepoId("moeq-test/large"), hubUrl: hub.url, accessToken: TOKEN });
    expect(r.files).toContainEqual({ path: "large-F16.gguf", size: big.length });
    expect(hub.lfsStore.get(sha256Hex(big))?.equals(big)).toBe(true);
  });

  it("names the folder when it cannot tell the format, and needs a token", async () => {
    const dir = join(root, "unknown");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "notes.txt"), "x");
    await expect(publishFolder({ dir, repo: parseRepoId("moeq-test/u"), hubUrl: hub.url, accessToken: TOKEN })).rejects.toThrow(
      /unknown: cannot tell what this folder holds/,
    );
    await expect(publishFolder({ dir, repo: parseRepoId("moeq-test/u"), hubUrl: hub.url, accessToken: undefined })).rejects.toThrow(/needs a write token/);
  });
});
