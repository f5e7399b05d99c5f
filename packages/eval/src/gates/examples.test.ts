import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseGateFile } from "./gate-file.js";

const examples = fileURLToPath(new URL("../../../../examples/", import.meta.url));

describe("shipped examples", () => {
  it.each(readdirSync(join(examples, "gates")).filter((f) => /\.ya?ml$/.test(f)))("examples/gates/%s is a valid gate file", (f) => {
    const path = join(examples, "gates", f);
    const g = parseGateFile(readFileSync(path, "utf8"), path);
    expect(g.gates.length).toBeGreaterThan(0);
  });
  it("examples/ci-gate.yml is a workflow that quantizes, gates and reports", () => {
    const wf = parseYaml(readFileSync(join(examples, "ci-gate.yml"), "utf8")) as { jobs: Record<string, { steps: { run?: string }[] }> };
    const runs = Object.values(wf.jobs)
      .flatMap((j) => j.steps.map((s) => s.run ?? ""))
      .join("\n");
    for (const cmd of ["moeq convert", "moeq quantize", "moeq gate", "GITHUB_STEP_SUMMARY"]) expect(runs).toContain(cmd);
  });
});
