import { describe, expect, it } from "vitest";
import { COMMAND_LOADERS, loadCommands } from "./index.js";

const nameOf = (c: { command?: string | readonly string[] }): string => String(c.command).split(" ")[0]!;

describe("loadCommands", () => {
  it("keys every command by the name it is run as", async () => {
    for (const [name, load] of Object.entries(COMMAND_LOADERS)) expect(nameOf(await load())).toBe(name);
  });

  it("loads only the command argv names, and every command for help or an unknown name", async () => {
    expect((await loadCommands(["quantize", "in.gguf", "out.gguf", "q4_k_m"])).map(nameOf)).toEqual(["quantize"]);
    const all = Object.keys(COMMAND_LOADERS);
    expect((await loadCommands(["--help"])).map(nameOf)).toEqual(all);
    expect((await loadCommands([])).map(nameOf)).toEqual(all);
    expect((await loadCommands(["quantise"])).map(nameOf)).toEqual(all);
    expect((await loadCommands(["constructor"])).map(nameOf)).toEqual(all); // not an inherited property
  });
});
