import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";

/** Where the Hub is and who we are, read the way Python's huggingface_hub reads it. */
export interface HubEnv {
  /** Endpoint without a trailing slash, e.g. https://huggingface.co. */
  readonly endpoint: string;
  /** Access token, or undefined for anonymous access. Never print it. */
  readonly token: string | undefined;
  /** Root of the models--org--name folders. */
  readonly cacheDir: string;
  /** HF_HUB_OFFLINE: use only what is already cached. */
  readonly offline: boolean;
}

export const DEFAULT_HUB_ENDPOINT = "https://huggingface.co";

type Env = Readonly<Record<string, string | undefined>>;

/** Truthy env values as huggingface_hub constants._is_true reads them. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "ON", "YES", "TRUE"].includes(value.toUpperCase());
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

/** HF_HOME, defaulting to $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface (constants.py). */
export function hfHome(env: Env = process.env): string {
  const xdg = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return resolve(expandHome(env.HF_HOME || join(xdg, "huggingface")));
}

/** HF_HUB_CACHE, then the legacy HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub (constants.py). */
export function hubCacheDir(env: Env = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return resolve(expandHome(explicit || join(hfHome(env), "hub")));
}

/** HF_TOKEN, then the token file `huggingface-cli login` writes (HF_TOKEN_PATH or $HF_HOME/token). */
export function hubToken(env: Env = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const path = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : join(hfHome(env), "token");
  try {
    const fromFile = readFileSync(path, "utf8").trim();
    return fromFile || undefined;
  } catch {
    return undefined;
  }
}

/** Reads the environment once; explicit options (CLI flags) win over it. */
export function resolveHubEnv(overrides: { endpoint?: string; token?: string; cacheDir?: string; offline?: boolean } = {}, env: Env = process.env): HubEnv {
  const endpoint = (overrides.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, "");
  return {
    endpoint,
    token: overrides.token ?? hubToken(env),
    cacheDir: overrides.cacheDir ? resolve(expandHome(overrides.cacheDir)) : hubCacheDir(env),
    offline: overrides.offline ?? isTrue(env.HF_HUB_OFFLINE),
  };
}
