/**
 * A loopback stand-in for the Hugging Face Hub: exactly the routes @huggingface/hub 2.17.5 and our
 * downloader call (revision info, tree listing, resolve with LFS headers + a CDN redirect, repo
 * creation, preupload, LFS batch, the basic LFS PUT, the NDJSON commit). Test-only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface FakeRepoFile {
  readonly content: Buffer;
  /** Stored in LFS (served through a redirect, listed with lfs.oid = sha256). */
  readonly lfs: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
  readonly body?: Buffer;
}

export interface RecordedCommit {
  readonly repo: string;
  readonly branch: string;
  readonly lines: readonly { key: string; value: Record<string, unknown> }[];
}

export interface FakeHubOptions {
  /** Answer 401 to anything without `Authorization: Bearer <token>`. */
  requiredToken?: string;
  /** Answer 403 + X-Error-Code: GatedRepo for these repo ids. */
  gated?: Set<string>;
  /** Like the real Hub for gated repos: metadata and listing are public, file downloads answer 403 GatedRepo. */
  gatedDownloads?: Set<string>;
  /** Serve these paths slowly: `bytesPerTick` every `tickMs`. */
  throttle?: { path: string; bytesPerTick: number; tickMs: number } | undefined;
  /** Cut the connection once, after `afterBytes` bytes of this path (then serve normally). */
  dropOnce?: { path: string; afterBytes: number } | undefined;
  /** Answer Range requests with the whole file (200), as some servers do. */
  ignoreRange?: boolean;
  /** Answer 503 this many times to downloads of any file before serving. */
  fail503Times?: number;
  /** Serve these paths with one byte flipped (the listing keeps the true hashes). */
  corrupt?: Set<string>;
  /** Extra raw tree entries (e.g. hostile names) appended to the listing. */
  extraTreeEntries?: Record<string, unknown>[];
  /** Fail the revision or tree route `times` times (Infinity = always): an HTTP status, or "reset" to destroy the socket. */
  metadataFailure?: MetadataFailure | undefined;
}

export interface MetadataFailure {
  readonly route: "revision" | "tree";
  readonly answer: number | "reset";
  times: number;
  /** Extra response headers, e.g. { "retry-after": "1" }. */
  readonly headers?: Record<string, string>;
}

export function gitBlobSha1(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

export function sha256Hex(content: Buffer | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

export class FakeHub {
  readonly repos = new Map<string, { commit: string; files: Map<string, FakeRepoFile> }>();
  readonly requests: RecordedRequest[] = [];
  readonly createdRepos: { name: string; organization: string; visibility?: string }[] = [];
  readonly lfsStore = new Map<string, Buffer>();
  readonly commits: RecordedCommit[] = [];
  /** `org/name@branch` for each branch created through the API. */
  readonly branches = new Set<string>();
  /** cardData (README front matter) the revision route returns per repo, e.g. { license: "llama4" }. */
  readonly cardData = new Map<string, Record<string, unknown>>();
  /** Bytes of the throttled file sent so far (all requests). */
  throttledBytesSent = 0;
  private server: Server | undefined;
  private cdnServer: Server | undefined;
  url = "";
  /** Origin of the fake CDN that LFS downloads redirect to: 127.0.0.2 (another host, as on the real Hub) where it can bind. */
  cdnUrl = "";

  constructor(readonly options: FakeHubOptions = {}) {}

  addRepo(id: string, files: Record<string, FakeRepoFile>): string {
    const commit = randomBytes(20).toString("hex");
    this.repos.set(id, { commit, files: new Map(Object.entries(files)) });
    return commit;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    // A second loopback host for the CDN, so redirects leave the Hub's host as they do for real
    // (clients must not send the token there). Falls back to the Hub's own server where 127.0.0.2 is missing.
    const cdn = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.cdnUrl = await new Promise<string>((resolve) => {
      cdn.once("error", () => resolve(this.url));
      cdn.listen(0, "127.0.0.2", () => {
        this.cdnServer = cdn;
        resolve(`http://127.0.0.2:${(cdn.address() as AddressInfo).port}`);
      });
    });
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of [this.server, this.cdnServer]) {
      s?.closeAllConnections();
      await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    }
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  /** 401 / 403 gated / 404 repo checks shared by every repo route; returns false when it answered. */
  private guard(req: IncomingMessage, res: ServerResponse, repoId: string, mustExist = true): boolean {
    const auth = req.headers.authorization;
    if (this.options.requiredToken && auth !== `Bearer ${this.options.requiredToken}`) {
      // Deliberately echoes the header back (a hostile or buggy server): our errors must still redact it.
      this.json(res, 401, { error: `Invalid credentials in Authorization header: ${auth ?? "(none)"}` }, { "x-error-code": "RepoNotFound" });
      return false;
    }
    if (this.options.gated?.has(repoId)) {
      this.json(
        res,
        403,
        { error: `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.` },
        {
          "x-error-code": "GatedRepo",
          "x-error-message": "Access to this resource is gated.",
        },
      );
      return false;
    }
    if (mustExist && !this.repos.has(repoId)) {
      this.json(res, 404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      return false;
    }
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const needsBody = method === "POST" || method === "PUT";
    const body = needsBody ? await this.readBody(req) : undefined;
    this.requests.push({
      method,
      url: url.pathname + url.search,
      range: req.headers.range,
      authorization: req.headers.authorization,
      ...(body ? { body } : {}),
    });
    const p = decodeURIComponent(url.pathname);
    let m: RegExpExecArray | null;
    const fail = this.options.metadataFailure;
    if (fail && fail.times > 0 && new RegExp(`^/api/models/[^/]+/[^/]+/${fail.route}/`).test(p)) {
      fail.times--;
      if (fail.answer === "reset") return void res.destroy();
      return this.json(res, fail.answer, { error: `fake hub: injected ${fail.answer}` }, fail.headers);
    }

    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(p))) {
      const repoId = m[1]!;
      if (!this.guard(req, res, repoId)) return;
      const repo = this.repos.get(repoId)!;
      if (m[2] !== "main" && m[2] !== "HEAD" && m[2] !== repo.commit)
        return this.json(res, 404, { error: "Invalid rev id" }, { "x-error-code": "RevisionNotFound" });
      return this.json(res, 200, {
        _id: "0".repeat(24),
        id: repoId,
        sha: repo.commit,
        private: false,
        gated: false,
        downloads: 0,
        likes: 0,
        lastModified: "2026-01-01T00:00:00.000Z",
        cardData: this.cardData.get(repoId),
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      });
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(p))) {
      const repoId = m[1]!;
      if (!this.guard(req, res, repoId)) return;
      const repo = this.repos.get(repoId)!;
      if (m[2] !== repo.commit && m[2] !== "main") return this.json(res, 404, { error: "Invalid rev id" }, { "x-error-code": "RevisionNotFound" });
      const entries: Record<string, unknown>[] = [...repo.files.entries()].map(([path, f]) => ({
        type: "file",
        path,
        size: f.content.length,
        oid: gitBlobSha1(f.content),
        ...(f.lfs ? { lfs: { oid: sha256Hex(f.content), size: f.content.length, pointerSize: 134 } } : {}),
      }));
      return this.json(res, 200, [...entries, ...(this.options.extraTreeEntries ?? [])]);
    }
    if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p)) && (method === "GET" || method === "HEAD")) {
      const repoId = m[1]!;
      if (!this.guard(req, res, repoId)) return;
      if (this.options.gatedDownloads?.has(repoId)) {
        return this.json(
          res,
          403,
          { error: `Access to model ${repoId} is restricted and you are not in the authorized list.` },
          { "x-error-code": "GatedRepo" },
        );
      }
      const repo = this.repos.get(repoId)!;
      const file = repo.files.get(m[3]!);
      if (!file) return this.json(res, 404, { error: "Entry not found" }, { "x-error-code": "EntryNotFound" });
      if ((this.options.fail503Times ?? 0) > 0) {
        this.options.fail503Times!--;
        return this.json(res, 503, { error: "Service Unavailable" });
      }
      const common = { "x-repo-commit": repo.commit, "x-linked-size": String(file.content.length) };
      if (file.lfs) {
        // The Hub answers LFS files with a redirect to its CDN; the metadata rides on the 302.
        res.writeHead(302, {
          ...common,
          "x-linked-etag": `"${sha256Hex(file.content)}"`,
          etag: `W/"${gitBlobSha1(file.content)}"`,
          location: `${this.cdnUrl}/cdn/${repoId}/${m[3]}`,
        });
        return void res.end();
      }
      return this.serveContent(req, res, m[3]!, file.content, { ...common, etag: `"${gitBlobSha1(file.content)}"` });
    }
    if ((m = /^\/cdn\/([^/]+\/[^/]+)\/(.+)$/.exec(p))) {
      const file = this.repos.get(m[1]!)?.files.get(m[2]!);
      if (!file) return this.json(res, 404, { error: "no such object" });
      return this.serveContent(req, res, m[2]!, file.content, { etag: `"${sha256Hex(file.content)}"` });
    }
    if (p === "/api/repos/create" && method === "POST") {
      const reqBody = JSON.parse(body!.toString("utf8")) as { name: string; organization: string; visibility?: string };
      const id = `${reqBody.organization}/${reqBody.name}`;
      if (!this.guard(req, res, id, false)) return;
      if (this.repos.has(id)) return this.json(res, 409, { error: "You already created this model repo" });
      this.createdRepos.push(reqBody);
      this.addRepo(id, {});
      return this.json(res, 200, { url: `${this.url}/${id}`, id });
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/branch\/([^/]+)$/.exec(p)) && method === "POST") {
      if (!this.guard(req, res, m[1]!)) return;
      const key = `${m[1]}@${m[2]}`;
      if (this.branches.has(key)) return this.json(res, 409, { error: "Reference already exists" });
      this.branches.add(key);
      return this.json(res, 200, {});
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(p)) && method === "POST") {
      if (!this.guard(req, res, m[1]!)) return;
      const files = (JSON.parse(body!.toString("utf8")) as { files: { path: string; size: number }[] }).files;
      return this.json(res, 200, {
        files: files.map((f) => ({ path: f.path, uploadMode: f.size > 10_000 || /\.(gguf|safetensors)$/.test(f.path) ? "lfs" : "regular" })),
      });
    }
    if ((m = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(p)) && method === "POST") {
      if (!this.guard(req, res, m[1]!)) return;
      const batch = JSON.parse(body!.toString("utf8")) as { objects: { oid: string; size: number }[] };
      return this.json(
        res,
        200,
        {
          transfer: "basic",
          objects: batch.objects.map((o) =>
            this.lfsStore.has(o.oid)
              ? { oid: o.oid, size: o.size }
              : { oid: o.oid, size: o.size, actions: { upload: { href: `${this.url}/lfs-upload/${o.oid}` } } },
          ),
        },
        { "content-type": "application/vnd.git-lfs+json" },
      );
    }
    if ((m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(p)) && method === "PUT") {
      if (sha256Hex(body!) !== m[1]) return this.json(res, 400, { error: "sha256 mismatch" });
      this.lfsStore.set(m[1]!, body!);
      res.writeHead(200);
      return void res.end();
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(p)) && method === "POST") {
      const repoId = m[1]!;
      if (!this.guard(req, res, repoId)) return;
      const lines = body!
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      this.commits.push({ repo: repoId, branch: m[2]!, lines });
      const repo = this.repos.get(repoId)!;
      for (const l of lines) {
        const path = l.value.path as string;
        if (l.key === "file") repo.files.set(path, { content: Buffer.from(l.value.content as string, "base64"), lfs: false });
        if (l.key === "lfsFile") repo.files.set(path, { content: this.lfsStore.get(l.value.oid as string)!, lfs: true });
      }
      repo.commit = randomBytes(20).toString("hex");
      return this.json(res, 200, { commitOid: repo.commit, commitUrl: `${this.url}/${repoId}/commit/${repo.commit}` });
    }
    this.json(res, 404, { error: `fake hub: no route for ${method} ${p}` });
  }

  /** 200 or 206 (single `bytes=a-` / `bytes=a-b` range), optionally corrupted or throttled. */
  private serveContent(req: IncomingMessage, res: ServerResponse, path: string, content: Buffer, headers: Record<string, string>): void {
    let data = content;
    if (this.options.corrupt?.has(path)) {
      data = Buffer.from(content);
      data[data.length >> 1] ^= 0xff;
    }
    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const range = req.headers.range && !this.options.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range) : null;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start >= data.length) {
        res.writeHead(416, { "content-range": `bytes */${data.length}` });
        return void res.end();
      }
      status = 206;
    }
    const slice = data.subarray(start, end + 1);
    res.writeHead(status, {
      ...headers,
      "accept-ranges": "bytes",
      "content-length": String(slice.length),
      ...(status === 206 ? { "content-range": `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (req.method === "HEAD") return void res.end();
    const drop = this.options.dropOnce;
    if (drop && drop.path === path) {
      this.options.dropOnce = undefined;
      res.write(slice.subarray(0, drop.afterBytes), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    const t = this.options.throttle;
    if (!t || t.path !== path) return void res.end(slice);
    let off = 0;
    const tick = () => {
      if (res.destroyed) return;
      const piece = slice.subarray(off, off + t.bytesPerTick);
      off += piece.length;
      this.throttledBytesSent += piece.length;
      if (off >= slice.length) return void res.end(piece);
      res.write(piece);
      setTimeout(tick, t.tickMs);
    };
    tick();
  }
}
