import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { homedir } from "node:os";
import { globToRegExp, selectRepoPath } from "./repo-glob.js";
import { assertSafeRepoPath, resolveInside } from "./safe-repo-path.js";
import { hubCacheDir, resolveHubEnv } from "./hub-env.js";
import { redactSecret, redactUrl } from "./redact.js";
import { parseRepoId, assertSafeRevision } from "./repo-id.js";
import { normalizeEtag, repoFolderName } from "./cache-layout.js";
import { modelCardFrontMatter } from "./model-card.js";
import { UnsafeRepoPathError } from "./hub-errors.js";

describe("repo globs (huggingface_hub filter_repo_objects semantics)", () => {
  it("lets * cross folders, treats a trailing / as the whole folder, supports ? and [!…]", () => {
    expect(globToRegExp("*.json").test("sub/config.json")).toBe(true);
    expect(globToRegExp("gguf/").test("gguf/a/b.gguf")).toBe(true);
    expect(globToRegExp("model-0000?.safetensors").test("model-00001.safetensors")).toBe(true);
    expect(globToRegExp("[!a]*").test("abc")).toBe(false);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
    expect(selectRepoPath("x.gguf", ["*.gguf"], ["*Q2*"])).toBe(true);
    expect(selectRepoPath("x-Q2_K.gguf", ["*.gguf"], ["*Q2*"])).toBe(false);
    expect(selectRepoPath("anything", [], [])).toBe(true);
  });
});

describe("untrusted repo paths", () => {
  it("accepts plain nested names and refuses escapes, absolute paths, backslashes and NUL", () => {
    expect(assertSafeRepoPath("a/b.c/d..e", "o/r")).toBe("a/b.c/d..e");
    for (const bad of ["..", "a/../b", "/x", "C:/x", "a\\b", "a\u0000b", "a/./b", "", "a/", ".git/HEAD"]) {
      expect(() => assertSafeRepoPath(bad, "o/r"), bad).toThrow(UnsafeRepoPathError);
    }
    expect(resolveInside("/tmp/snap", "a/b", "o/r")).toBe("/tmp/snap/a/b");
  });
});

describe("environment", () => {
  it("follows Python's precedence: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME > ~/.cache", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: "/a", HUGGINGFACE_HUB_CACHE: "/b", HF_HOME: "/c" })).toBe("/a");
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: "/b", HF_HOME: "/c" })).toBe("/b");
    expect(hubCacheDir({ HF_HOME: "/c", XDG_CACHE_HOME: "/x" })).toBe("/c/hub");
    expect(hubCacheDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/huggingface/hub");
    expect(hubCacheDir({})).toBe(join(homedir(), ".cache", "huggingface", "hub"));
    const env = resolveHubEnv({}, { HF_ENDPOINT: "https://hub.example/", HF_TOKEN: "hf_x", HF_HUB_OFFLINE: "yes", HF_HOME: "/c" });
    expect(env).toEqual({ endpoint: "https://hub.example", token: "hf_x", cacheDir: "/c/hub", offline: true });
    expect(resolveHubEnv({ token: "hf_flag" }, { HF_TOKEN: "hf_env", HF_HOME: "/nonexistent" }).token).toBe("hf_flag");
    expect(resolveHubEnv({}, { HF_HUB_OFFLINE: "0", HF_HOME: "/nonexistent" }).offline).toBe(false);
  });

  it("redacts the token, bearer headers and signed query strings", () => {
    expect(redactSecret("x hf_abc123 y Authorization: Bearer hf_other (z)", "hf_abc123")).toBe("x hf_*** y Authorization: Bearer hf_*** (z)");
    expect(redactUrl("https://u:p@cdn.example/o?X-Amz-Signature=s&tok=hf_abc", "hf_abc")).toBe("https://cdn.example/o?…");
  });
});

describe("names", () => {
  it("parses repo ids like huggingface_hub validate_repo_id and builds its cache folder name", () => {
    expect(repoFolderName(parseRepoId("meta-llama/Llama-4-Scout-17B-16E"))).toBe("models--meta-llama--Llama-4-Scout-17B-16E");
    for (const bad of ["noslash", "a/b/c", "a--b/c", "a/b..c", "-a/b", "a/b ", "../x"]) expect(() => parseRepoId(bad), bad).toThrow(/invalid repo id/);
    expect(assertSafeRevision("refs/pr/3")).toBe("refs/pr/3");
    for (const bad of ["../main", "a b", "x\\y", ".hidden", "a..b:c"]) expect(() => assertSafeRevision(bad), bad).toThrow(/invalid revision/);
    expect(normalizeEtag('W/"abc"')).toBe("abc");
  });
});

describe("model card front matter", () => {
  it("quotes YAML-ambiguous values and lists tags", () => {
    const fm = modelCardFrontMatter({ format: "awq", baseModel: "org/m", license: "yes", tags: ["moe", "1.0"], sources: [], quantization: "W4A16 g128" });
    expect(fm).toBe(
      [
        "---",
        "base_model: org/m",
        "base_model_relation: quantized",
        "library_name: transformers",
        'license: "yes"',
        "tags:",
        "- awq",
        "- quantized",
        "- moeq",
        "- moe",
        '- "1.0"',
        "---",
      ].join("\n"),
    );
  });
});
