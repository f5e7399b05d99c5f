/**
 * The one loop every offset merger shares: the shard units that fall in bytes [start, end) of the merged output,
 * copied in order with their CRC32 checked, zeros in the gaps.
 */
import { open, type FileHandle } from "node:fs/promises";
import { InputError } from "@moeq/formats";
import { COPY_CHUNK_BYTES, copyUnit, type ShardFile } from "./shard-file.js";

/** Writes bytes [start, end) of the merged output through `write`; units must not straddle `start` or `end`. */
export async function copyUnitsInRange(files: readonly ShardFile[], start: number, end: number, write: (b: Uint8Array) => Promise<void>): Promise<void> {
  const all = files
    .flatMap((f) => f.manifest.units.map((u) => ({ f, u })))
    .filter(({ u }) => u.at >= start && u.at < end)
    .sort((a, b) => a.u.at - b.u.at);
  const handles = new Map<string, FileHandle>();
  try {
    let pos = start;
    const chunk = Buffer.alloc(COPY_CHUNK_BYTES);
    const zeros = (n: number): Promise<void> => (n > 0 ? write(new Uint8Array(n)) : Promise.resolve());
    for (const { f, u } of all) {
      const id = JSON.stringify(u.id.slice(0, 80));
      if (u.at < pos) throw new InputError("SHARD_BAD_MANIFEST", `unit ${id} overlaps the one before it`, { file: f.path });
      if (u.at + u.length > end) throw new InputError("SHARD_BAD_MANIFEST", `unit ${id} runs past the end of its file`, { file: f.path });
      await zeros(u.at - pos);
      let fh = handles.get(f.path);
      if (!fh) handles.set(f.path, (fh = await open(f.path, "r")));
      await copyUnit(fh, f.path, u, write, chunk);
      pos = u.at + u.length;
    }
    await zeros(end - pos);
  } finally {
    for (const fh of handles.values()) await fh.close();
  }
}
