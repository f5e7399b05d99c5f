import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, mkdir, readFile, readlink, readdir, rm, stat, lstat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeHub, gitBlobSha1, sha256Hex, type FakeRepoFile } from "@moeq/test-support/fake-hub";
import { bundleEntryForNode } from "./test-utils/build-child.js";
import { seededUint32 } from "@moeq/formats";
import { pullSnapshot } from "./pull.js";
import { parseRepoId } from "./repo-id.js";
import { HubIntegrityError, HubRequestError, OfflineCacheMissError, UnsafeRepoPathError } from "./hub-errors.js";

const TOKEN = "hf_secretTOKENforTests1234567890";

/** Deterministic bytes (the project's seeded PRNG), so failures reproduce. */
function bytes(n: number, seed: number): Buffer {
  const next = seededUint32(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

const SMALL_REPO: Record<string, FakeRepoFile> = {
  "config.json": { content: Buffer.from(JSON.stringify({ model_type: "llama4", num_local_experts: 4 })), lfs: false },
  "tokenizer.json": { content: Buffer.from(JSON.stringify({ model: { vocab: Object.fromEntries([...Array(400)].map((_, i) => [`t${i}`, i])) } })), lfs: false },
  "model-00001-of-00002.safetensors": { content: bytes(150_000, 1), lfs: true },
  "model-00002-of-00002.safetensors": { content: bytes(90_000, 2), lfs: true },
  "gguf/model-Q4_K_M.gguf": { content: bytes(60_000, 3), lfs: true },
  "copy/model-00002-of-00002.safetensors": { content: bytes(90_000, 2), lfs: true },
};

let cacheRoot: string;
let childBundle: string;
const hub = new FakeHub({ requiredToken: TOKEN });
let smallCommit: string;

beforeAll(async () => {
  cacheRoot = await mkdtemp(join(tmpdir(), "moeq-pull-"));
  smallCommit = hub.addRepo("moeq-test/tiny", SMALL_REPO);
  hub.addRepo("moeq-test/big", { "config.json": SMALL_REPO["config.json"]!, "big.safetensors": { content: bytes(400_000, 9), lfs: true } });
  hub.addRepo("moeq-test/corrupt", { "config.json": SMALL_REPO["config.json"]!, "weights.safetensors": { content: bytes(50_000, 5), lfs: true } });
  await hub.start();
  childBundle = await bundleEntryForNode(fileURLToPath(new URL("./test-utils/pull-child.ts", import.meta.url)), join(cacheRoot, "pull-child.mjs"));
});

afterAll(async () => {
  await hub.stop();
  await rm(cacheRoot, { recursive: true, force: true });
});

const base = () => ({ hubUrl: hub.url, accessToken: TOKEN });

describe("pullSnapshot", () => {
  it("lays the files out exactly like huggingface_hub: blobs by etag, refs/main, relative snapshot symlinks", async () => {
    const cacheDir = join(cacheRoot, "layout");
    const r = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir, concurrency: 3 });
    const repoDir = join(cacheDir, "models--moeq-test--tiny");
    expect(r.commit).toBe(smallCommit);
    expect(r.snapshotPath).toBe(join(repoDir, "snapshots", smallCommit));
    expect(await readFile(join(repoDir, "refs", "main"), "utf8")).toBe(smallCommit);

    const expectedBlobs = new Set(Object.values(SMALL_REPO).map((f) => (f.lfs ? sha256Hex(f.content) : gitBlobSha1(f.content))));
    expect(new Set(await readdir(join(repoDir, "blobs")))).toEqual(expectedBlobs); // no .incomplete left, duplicates share a blob

    for (const [path, f] of Object.entries(SMALL_REPO)) {
      const pointer = join(r.snapshotPath, path);
      expect((await lstat(pointer)).isSymbolicLink()).toBe(true);
      const etag = f.lfs ? sha256Hex(f.content) : gitBlobSha1(f.content);
      const depth = path.split("/").length - 1;
      expect(await readlink(pointer)).toBe(`${"../".repeat(depth + 2)}blobs/${etag}`);
      expect((await readFile(pointer)).equals(f.content)).toBe(true);
    }
    expect(r.files.find((f) => f.path === "copy/model-00002-of-00002.safetensors")?.status).toMatch(/linked|downloaded/);
    // The token goes to the Hub only, never to the CDN host the LFS files redirect to.
    const cdnHits = hub.requests.filter((q) => q.url.startsWith("/cdn/"));
    expect(cdnHits.length).toBeGreaterThan(0);
    expect(cdnHits.every((q) => q.authorization === undefined)).toBe(true);
    expect(hub.cdnUrl).not.toBe(hub.url);
  });

  it("re-uses a complete snapshot without any request when the revision is a commit hash, and offline", async () => {
    const cacheDir = join(cacheRoot, "layout");
    const before = hub.requests.length;
    const r = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), revision: smallCommit, cacheDir });
    expect(r.usedNetwork).toBe(false);
    expect(r.files.every((f) => f.status === "cached")).toBe(true);
    const off = await pullSnapshot({ hubUrl: "http://127.0.0.1:9", repo: parseRepoId("moeq-test/tiny"), cacheDir, offline: true });
    expect(off.snapshotPath).toBe(r.snapshotPath);
    expect(hub.requests.length).toBe(before);
    await expect(pullSnapshot({ hubUrl: hub.url, repo: parseRepoId("moeq-test/other"), cacheDir, offline: true })).rejects.toBeInstanceOf(
      OfflineCacheMissError,
    );
  });

  it("honours --include / --exclude with huggingface_hub's fnmatch rules", async () => {
    const cacheDir = join(cacheRoot, "filtered");
    const r = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir, include: ["*.json", "gguf/"], exclude: ["tokenizer*"] });
    expect(r.files.map((f) => f.path).sort()).toEqual(["config.json", "gguf/model-Q4_K_M.gguf"]);
    expect(existsSync(join(r.snapshotPath, "model-00001-of-00002.safetensors"))).toBe(false);
  });

  it("resumes a pull killed mid-file with a Range request and ends with identical bytes", async () => {
    const cacheDir = join(cacheRoot, "resume");
    const big = hub.repos.get("moeq-test/big")!.files.get("big.safetensors")!.content;
    const blob = join(cacheDir, "models--moeq-test--big", "blobs", sha256Hex(big));
    hub.options.throttle = { path: "big.safetensors", bytesPerTick: 4096, tickMs: 20 };
    const child = spawn(process.execPath, [childBundle, JSON.stringify({ repo: "moeq-test/big", cacheDir, hubUrl: hub.url, token: TOKEN })], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let childOut = "";
    child.stdout.on("data", (d: Buffer) => (childOut += d.toString()));
    child.stderr.on("data", (d: Buffer) => (childOut += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Kill once a real part (but not all) of the file is on disk.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const onDisk = (await stat(`${blob}.incomplete`).catch(() => undefined))?.size ?? 0;
      if (onDisk >= 32 * 1024) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    await exited;
    hub.options.throttle = undefined;
    expect(childOut).not.toContain(TOKEN);
    const partial = (await stat(`${blob}.incomplete`)).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.length);
    expect(existsSync(blob)).toBe(false);
    // The killed child's lock is left behind with a dead pid; the rerun must treat it as stale.
    expect(existsSync(join(cacheDir, ".locks", "models--moeq-test--big", `${sha256Hex(big)}.moeq-lock`))).toBe(true);

    const r = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/big"), cacheDir });
    const ranged = hub.requests.filter((q) => q.url.includes("big.safetensors") && q.range !== undefined);
    expect(ranged.map((q) => q.range)).toContain(`bytes=${partial}-`);
    expect(r.files.find((f) => f.path === "big.safetensors")?.status).toBe("resumed");
    const configFetched = r.files.find((f) => f.path === "config.json")?.status === "downloaded" ? SMALL_REPO["config.json"]!.content.length : 0;
    expect(r.fetchedBytes).toBe(big.length - partial + configFetched);
    expect((await readFile(join(r.snapshotPath, "big.safetensors"))).equals(big)).toBe(true);
    expect(existsSync(`${blob}.incomplete`)).toBe(false);
  });

  it("retries a connection cut mid-file and a 503 within one run, resuming with a Range request", async () => {
    const cacheDir = join(cacheRoot, "retry");
    const content = hub.repos.get("moeq-test/corrupt")!.files.get("weights.safetensors")!.content;
    hub.options.dropOnce = { path: "weights.safetensors", afterBytes: 20_000 };
    hub.options.fail503Times = 1;
    const before = hub.requests.length;
    const r = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/corrupt"), cacheDir, concurrency: 1, retryDelayMs: 5 });
    expect(hub.options.dropOnce).toBeUndefined();
    expect(hub.options.fail503Times).toBe(0);
    expect(hub.requests.slice(before).some((q) => q.url.startsWith("/cdn/") && q.range === "bytes=20000-")).toBe(true);
    expect(r.fetchedBytes).toBe(content.length + SMALL_REPO["config.json"]!.content.length);
    expect((await readFile(join(r.snapshotPath, "weights.safetensors"))).equals(content)).toBe(true);
  });

  it("verifies resumed bytes too: a bad partial file fails, is deleted, and the next run succeeds; a 200 answer to Range starts over", async () => {
    const repo = parseRepoId("moeq-test/corrupt");
    const content = hub.repos.get(repo.id)!.files.get("weights.safetensors")!.content;
    const cacheDir = join(cacheRoot, "bad-partial");
    const incomplete = join(cacheDir, "models--moeq-test--corrupt", "blobs", `${sha256Hex(content)}.incomplete`);
    await mkdir(dirname(incomplete), { recursive: true });
    await writeFile(incomplete, Buffer.alloc(1000, 0xee));
    const err = await pullSnapshot({ ...base(), repo, cacheDir, retryDelayMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubIntegrityError);
    expect(existsSync(incomplete)).toBe(false);
    const ok = await pullSnapshot({ ...base(), repo, cacheDir });
    expect((await readFile(join(ok.snapshotPath, "weights.safetensors"))).equals(content)).toBe(true);

    const cacheDir2 = join(cacheRoot, "ignore-range");
    const incomplete2 = incomplete.replace(cacheDir, cacheDir2);
    await mkdir(dirname(incomplete2), { recursive: true });
    await writeFile(incomplete2, Buffer.alloc(1000, 0xee));
    hub.options.ignoreRange = true;
    try {
      const r = await pullSnapshot({ ...base(), repo, cacheDir: cacheDir2 });
      expect(r.files.find((f) => f.path === "weights.safetensors")?.status).toBe("downloaded");
      expect((await readFile(join(r.snapshotPath, "weights.safetensors"))).equals(content)).toBe(true);
    } finally {
      hub.options.ignoreRange = undefined;
    }
  });

  it("fetches each blob once when two pulls share a cache at the same time", async () => {
    const cacheDir = join(cacheRoot, "concurrent");
    const before = hub.requests.length;
    const [a, b] = await Promise.all([0, 1].map(() => pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir, concurrency: 2 })));
    expect(a!.snapshotPath).toBe(b!.snapshotPath);
    const blobGets = hub.requests.slice(before).filter((q) => q.url.startsWith("/cdn/") || q.url.includes("/resolve/"));
    // 2 regular files + 3 distinct LFS blobs (resolve + CDN hop each) = 8 requests, not 16.
    expect(blobGets).toHaveLength(2 + 3 * 2);
    for (const [path, f] of Object.entries(SMALL_REPO)) expect((await readFile(join(a!.snapshotPath, path))).equals(f.content)).toBe(true);
  });

  it("never links an LFS file whose sha256 does not match, and deletes the bad bytes", async () => {
    const cacheDir = join(cacheRoot, "corrupt");
    hub.options.corrupt = new Set(["weights.safetensors"]);
    try {
      const err = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/corrupt"), cacheDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HubIntegrityError);
      expect((err as Error).message).toMatch(/weights\.safetensors.*sha256/);
    } finally {
      hub.options.corrupt = undefined;
    }
    const repoDir = join(cacheDir, "models--moeq-test--corrupt");
    const commit = hub.repos.get("moeq-test/corrupt")!.commit;
    expect(existsSync(join(repoDir, "snapshots", commit, "weights.safetensors"))).toBe(false);
    expect(
      (await readdir(join(repoDir, "blobs"))).filter((n) =>
        n.startsWith(sha256Hex(hub.repos.get("moeq-test/corrupt")!.files.get("weights.safetensors")!.content)),
      ),
    ).toEqual([]);
  });

  it.each([
    ["../escape.json", /'\.\.' segment/],
    ["/etc/passwd", /absolute path/],
    ["sub\\..\\..\\x", /backslash/],
    ["nul\u0000byte", /NUL/],
    ["a//b", /empty path segment/],
    [".git/config", /inside \.git/],
  ])("refuses the hostile repo file name %j before writing anything", async (name, why) => {
    const cacheDir = join(cacheRoot, "hostile");
    hub.options.extraTreeEntries = [{ type: "file", path: name, size: 3, oid: "a".repeat(40) }];
    try {
      const err = await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeRepoPathError);
      expect((err as Error).message).toMatch(why);
    } finally {
      hub.options.extraTreeEntries = undefined;
    }
    expect(existsSync(join(cacheDir, "models--moeq-test--tiny", "snapshots"))).toBe(false);
    expect(existsSync(join(cacheRoot, "escape.json"))).toBe(false);
  });

  it("reports 401, gated 403 and 404 in one line without the token", async () => {
    const cacheDir = join(cacheRoot, "errors");
    const wrong = "hf_wrongTOKEN_thatMustNotLeak";
    const e401 = (await pullSnapshot({ hubUrl: hub.url, accessToken: wrong, repo: parseRepoId("moeq-test/tiny"), cacheDir }).catch(
      (e: unknown) => e,
    )) as HubRequestError;
    expect(e401).toBeInstanceOf(HubRequestError);
    expect([e401.code, e401.statusCode]).toEqual(["HUB_UNAUTHORIZED", 401]);
    hub.options.gated = new Set(["moeq-test/tiny"]);
    const e403 = (await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir }).catch((e: unknown) => e)) as HubRequestError;
    hub.options.gated = undefined;
    expect(e403.code).toBe("HUB_GATED");
    expect(e403.message).toMatch(/gated/);
    hub.options.gatedDownloads = new Set(["moeq-test/tiny"]);
    const e403dl = (await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/tiny"), cacheDir }).catch((e: unknown) => e)) as HubRequestError;
    hub.options.gatedDownloads = undefined;
    expect(e403dl.code).toBe("HUB_GATED");
    expect(e403dl.message).toMatch(/^[^:]+: failed to download .* from moeq-test\/tiny: the repo is gated \(403\): accept its terms/);
    const e404 = (await pullSnapshot({ ...base(), repo: parseRepoId("moeq-test/nope"), cacheDir }).catch((e: unknown) => e)) as HubRequestError;
    expect(e404.code).toBe("HUB_NOT_FOUND");
    for (const e of [e401, e403, e403dl, e404]) {
      expect(e.message).not.toContain("\n");
      expect(e.message).not.toContain(TOKEN);
      expect(e.message).not.toContain(wrong);
    }
  });
});
