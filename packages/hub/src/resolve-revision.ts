import { modelInfo } from "@huggingface/hub";
import type { RepoId } from "./repo-id.js";
import { assertSafeRevision, isCommitHash } from "./repo-id.js";
import { HubRequestError, translateHubError } from "./hub-errors.js";
import { libraryCredentials, type HubClientOptions } from "./hub-client.js";

/**
 * Resolves a branch, tag or commit to the 40-hex commit id it names, through
 * `GET /api/models/{repo}/revision/{rev}` (@huggingface/hub modelInfo with the `sha` field).
 */
export async function resolveRevision(params: HubClientOptions & { repo: RepoId; revision: string }): Promise<string> {
  assertSafeRevision(params.revision);
  const ctx = { action: `resolve revision ${params.revision} of ${params.repo.id}`, token: params.accessToken };
  let sha: unknown;
  const { lastError, ...credentials } = libraryCredentials(params);
  try {
    const info = await modelInfo({ name: params.repo.id, revision: params.revision, additionalFields: ["sha"], ...credentials });
    sha = (info as { sha?: unknown }).sha;
  } catch (err) {
    throw translateHubError(err, ctx, lastError);
  }
  if (typeof sha !== "string" || !isCommitHash(sha)) {
    throw new HubRequestError("HUB_BAD_RESPONSE", `failed to ${ctx.action}: the Hub returned no 40-hex commit sha`, { statusCode: 200, url: params.hubUrl });
  }
  return sha;
}
