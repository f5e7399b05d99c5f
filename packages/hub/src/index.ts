// @moeq/hub's public API: what `moeq pull` / `moeq publish` and library users call. Internal modules (cache
// layout, blob download, retries, locks, model-card rendering) are reached through these.

// Environment and repo ids
export { resolveHubEnv, hubCacheDir, hubToken, DEFAULT_HUB_ENDPOINT, type HubEnv } from "./hub-env.js";
export { parseRepoId, type RepoId } from "./repo-id.js";
export { redactSecret } from "./redact.js";

// Errors (each a MoeqError: InputError → exit 2, CheckFailedError → exit 1)
export { HubRequestError, HubTransferError, HubIntegrityError, UnsafeRepoPathError, OfflineCacheMissError } from "./hub-errors.js";

// Pull
export { pullSnapshot, type PullParams, type PullResult, type PullProgressEvent, type PulledFile, type PulledFileStatus } from "./pull.js";
export type { RepoFileEntry } from "./list-repo-files.js";
export type { HubRetryPolicy } from "./retry.js";

// Publish
export { planPublish, publishFolder, type PublishParams, type PublishResult, type PublishProgressEvent } from "./publish.js";
export type { PublishGate } from "./publish-gate.js";
export {
  PUBLISH_MANIFEST_FILE,
  QUANT_FORMATS,
  readPublishManifest,
  writePublishManifest,
  type ModelCardFields,
  type PublishManifest,
  type QuantFormat,
} from "./publish-manifest.js";
export type { ModelMetadata } from "./model-metadata.js";
export type { LocalFile } from "./list-local-files.js";
