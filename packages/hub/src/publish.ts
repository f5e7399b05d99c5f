import { openAsBlob } from "node:fs";
import { commitIter, createBranch, createRepo, modelInfo, type CommitOperation } from "@huggingface/hub";
import { CheckFailedError, InputError } from "@moeq/formats";
import type { RepoId } from "./repo-id.js";
import { assertSafeRevision, parseRepoId } from "./repo-id.js";
import { libraryCredentials } from "./hub-client.js";
import { translateHubError } from "./hub-errors.js";
import { listLocalFiles, type LocalFile } from "./list-local-files.js";
import { collectModelMetadata, type ModelMetadata } from "./model-metadata.js";
import type { PublishGate } from "./publish-gate.js";
import { renderModelCard } from "./model-card.js";

export interface PublishParams {
  /** Folder to upload (the output of convert/quantize/gptq/awq/fp8). */
  readonly dir: string;
  readonly repo: RepoId;
  readonly hubUrl: string;
  readonly accessToken: string | undefined;
  /** Create the repo private (only when it does not exist yet). */
  readonly private?: boolean;
  /** Branch to commit to; default "main". */
  readonly branch?: string;
  /** Commit title; default "Upload <format> quantization with moeq". */
  readonly message?: string;
  /** Publish even though `gate` failed. */
  readonly force?: boolean;
  /** The folder's quality-gate verdict (undefined: not gated). A failed one refuses the publish unless `force`. */
  readonly gate?: PublishGate;
  readonly fetch?: typeof fetch;
  readonly onProgress?: (event: PublishProgressEvent) => void;
}

export type PublishProgressEvent =
  | { readonly kind: "phase"; readonly phase: "creating-repo" | "preuploading" | "uploadingLargeFiles" | "committing" }
  | { readonly kind: "file"; readonly path: string; readonly state: "hashing" | "uploading" | "error"; readonly progress: number };

export interface PublishResult {
  readonly repo: string;
  readonly branch: string;
  readonly commitOid: string;
  readonly commitUrl: string;
  /** False when the repo already existed. */
  readonly createdRepo: boolean;
  readonly files: readonly { path: string; size: number }[];
  readonly gate: "passed" | "failed" | "absent";
  readonly metadata: ModelMetadata;
  /** The README.md that was uploaded. */
  readonly modelCard: string;
  /** True when the folder had its own README.md, which the generated card replaced. */
  readonly replacedReadme: boolean;
}

/** The base model's licence from its Hub card (cardData.license), when the folder does not say. */
async function inheritLicense(p: PublishParams, baseModel: string): Promise<string | undefined> {
  try {
    const base = parseRepoId(baseModel);
    const { lastError: _ignored, ...credentials } = libraryCredentials(p);
    const info = (await modelInfo({ name: base.id, additionalFields: ["cardData"], ...credentials })) as { cardData?: { license?: unknown } };
    const lic = info.cardData?.license;
    return typeof lic === "string" && lic.trim() ? lic : undefined;
  } catch {
    return undefined; // the card is still valid without a licence; publish says so on stderr via the result
  }
}

/** Reads what a publish would send, without any network: files, metadata, model card (with `gate`'s table). */
export async function planPublish(dir: string, repo: RepoId, gate?: PublishGate): Promise<{ files: LocalFile[]; meta: ModelMetadata; card: string }> {
  const files = await listLocalFiles(dir);
  if (files.length === 0) throw new InputError("PUBLISH_EMPTY", "the folder has no files to publish", { file: dir });
  const meta = await collectModelMetadata(dir, files);
  const card = renderModelCard({ meta, repoId: repo.id, files, gate });
  return { files, meta, card };
}

/**
 * Uploads a model folder as ONE commit with a generated model card (README.md): creates the repo if
 * needed (`POST /api/repos/create`, 409 = exists), then preupload → LFS batch → LFS PUTs → NDJSON
 * commit through @huggingface/hub. Refuses (CheckFailedError) when the folder's gate failed, unless `force`.
 */
export async function publishFolder(p: PublishParams): Promise<PublishResult> {
  if (!p.accessToken) throw new InputError("HUB_TOKEN_REQUIRED", "publishing needs a write token: set HF_TOKEN or pass --token");
  const branch = assertSafeRevision(p.branch ?? "main");
  const gate = p.gate;
  if (gate && !gate.passed && !p.force) {
    const failed = gate.failures;
    throw new CheckFailedError(
      "PUBLISH_GATE_FAILED",
      `the quality gate failed${failed.length ? ` (${failed.join("; ")})` : ""}; refusing to publish (use --force to publish anyway)`,
      {
        file: gate.file,
      },
    );
  }
  const plan = await planPublish(p.dir, p.repo, gate);
  const files = plan.files;
  let { meta, card } = plan;
  if (!meta.license && meta.baseModel) {
    const license = await inheritLicense(p, meta.baseModel);
    if (license) {
      meta = { ...meta, license, sources: [...meta.sources, `${meta.baseModel} model card`] };
      card = renderModelCard({ meta, repoId: p.repo.id, files, gate });
    }
  }

  const { lastError, ...credentials } = libraryCredentials(p);
  let createdRepo = true;
  p.onProgress?.({ kind: "phase", phase: "creating-repo" });
  try {
    await createRepo({
      repo: { type: "model", name: p.repo.id },
      ...(p.private !== undefined ? { private: p.private } : {}),
      ...credentials,
      accessToken: p.accessToken,
    });
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode !== 409)
      throw translateHubError(err, { action: `create repo ${p.repo.id}`, token: p.accessToken }, lastError);
    createdRepo = false;
  }

  if (branch !== "main") {
    // The commit endpoint needs an existing branch; create it from the default branch (409 = it exists).
    try {
      await createBranch({ repo: { type: "model", name: p.repo.id }, branch, ...credentials });
    } catch (err) {
      if ((err as { statusCode?: unknown }).statusCode !== 409)
        throw translateHubError(err, { action: `create branch ${branch} of ${p.repo.id}`, token: p.accessToken }, lastError);
    }
  }

  const uploaded = files.filter((f) => f.path !== "README.md");
  const operations: CommitOperation[] = [
    ...(await Promise.all(uploaded.map(async (f) => ({ operation: "addOrUpdate" as const, path: f.path, content: await openAsBlob(f.absPath) })))),
    { operation: "addOrUpdate", path: "README.md", content: new Blob([card], { type: "text/markdown" }) },
  ];
  const title = p.message ?? `Upload ${meta.format.toUpperCase()}${meta.quantization ? ` ${meta.quantization}` : ""} quantization with moeq`;
  const ctx = { action: `commit ${operations.length} files to ${p.repo.id}@${branch}`, token: p.accessToken };
  let output;
  try {
    // useXet false: ask the LFS batch endpoint for basic/multipart transfers, which every Hub deployment serves.
    const iter = commitIter({ repo: { type: "model", name: p.repo.id }, operations, title, branch, useXet: false, ...credentials });
    while (true) {
      const step = await iter.next();
      if (step.done) {
        output = step.value;
        break;
      }
      const ev = step.value;
      if (ev.event === "phase") p.onProgress?.({ kind: "phase", phase: ev.phase });
      else if (ev.event === "fileProgress") p.onProgress?.({ kind: "file", path: ev.path, state: ev.state, progress: ev.progress });
    }
  } catch (err) {
    throw translateHubError(err, ctx, lastError);
  }
  if (!output) throw translateHubError(new Error("the commit returned no result"), ctx);
  return {
    repo: p.repo.id,
    branch,
    commitOid: output.commit.oid,
    commitUrl: output.commit.url,
    createdRepo,
    files: [...uploaded.map((f) => ({ path: f.path, size: f.size })), { path: "README.md", size: Buffer.byteLength(card) }],
    gate: gate ? (gate.passed ? "passed" : "failed") : "absent",
    metadata: meta,
    modelCard: card,
    replacedReadme: files.some((f) => f.path === "README.md"),
  };
}
