import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomicFileWriter, atomicTempPath, writeFileAtomic, writeFileAtomicSync } from "./atomic-file.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "moeq-atomic-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("AtomicFileWriter", () => {
  it("nothing appears at the path until commit; the old file stays intact meanwhile", async () => {
    const path = join(dir, "out.bin");
    await writeFile(path, "old");
    const w = await AtomicFileWriter.open(path);
    await w.write(new Uint8Array([1, 2, 3]));
    await w.writeAt(0, new Uint8Array([9]));
    expect(w.bytesWritten).toBe(3);
    expect(await readFile(path, "utf8")).toBe("old"); // a crash here leaves the old file
    await w.commit();
    expect([...(await readFile(path))]).toEqual([9, 2, 3]);
    expect(await readdir(dir)).toEqual(["out.bin"]); // temp file renamed away
  });

  it("abort removes the temporary file and leaves the path untouched", async () => {
    const path = join(dir, "aborted.bin");
    const w = await AtomicFileWriter.open(path);
    await w.write(new Uint8Array(10));
    await w.abort();
    await w.abort(); // idempotent
    expect((await readdir(dir)).filter((n) => n.includes("aborted"))).toEqual([]);
    await expect(w.write(new Uint8Array(1))).rejects.toThrow(/after commit\/abort/);
  });

  it("writeFileAtomic replaces a file in one step", async () => {
    const path = join(dir, "text.json");
    await writeFileAtomic(path, '{"a":1}');
    await writeFileAtomic(path, new TextEncoder().encode('{"a":2}'));
    expect(await readFile(path, "utf8")).toBe('{"a":2}');
  });

  it("writeFileAtomicSync replaces a file and leaves no temp file; a failed write leaves the old file", async () => {
    const sub = join(dir, "sync");
    await mkdir(sub);
    const path = join(sub, "report.md");
    writeFileAtomicSync(path, "one");
    writeFileAtomicSync(path, new TextEncoder().encode("two"));
    expect(await readFile(path, "utf8")).toBe("two");
    expect(await readdir(sub)).toEqual(["report.md"]);
    expect(() => writeFileAtomicSync(join(sub, "missing-dir", "x"), "x")).toThrow(/ENOENT/);
    expect(await readdir(sub)).toEqual(["report.md"]);
  });

  it("atomicTempPath is a hidden sibling, fresh on every call", () => {
    const a = atomicTempPath(join(dir, "x.kld"));
    expect(a.startsWith(join(dir, ".x.kld.tmp-"))).toBe(true);
    expect(atomicTempPath(join(dir, "x.kld"))).not.toBe(a);
  });
});
