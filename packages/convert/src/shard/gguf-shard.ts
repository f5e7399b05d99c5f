/**
 * A GGUF pipeline's tail, whole or as one shard: the unit of sharding is a tensor, dealt to shards by its output
 * bytes (LPT, assignUnitsToShards). A shard plans the whole file (header, offsets) like the unsharded run, encodes
 * only its tensors and writes them, with the header in shard 1, to `<out>.shard-i-of-N`; `moeq merge` puts the
 * bytes at their planned offsets, so the merged file is byte-identical to the unsharded one.
 */
import { createHash } from "node:crypto";
import { InputError, ggufPad, type GGUFWriter } from "@moeq/formats";
import { writeUnitsInOrder, type UnitTensor, type WriteUnitsParams } from "../write-units.js";
import { ShardFileWriter, shardFilePath } from "./shard-file.js";
import { unitsOfShard, type ShardSpec } from "./shard-spec.js";

/** `--shard`, as a GGUF pipeline takes it: which shard, and what else (besides the planned header) names the inputs. */
export interface GgufShardRun {
  readonly spec: ShardSpec;
  /** Input identity not visible in the header (input sizes, the command), hashed into the fingerprint. */
  readonly inputs: string;
}

/** What writeGgufUnits wrote: data bytes, and the shard file when sharded. */
export interface GgufUnitsResult {
  readonly outBytes: number;
  readonly shardFile?: string;
}

/** Refuses options a shard cannot honour (per-expert errors are summed over the whole run). */
export function checkShardable(shard: GgufShardRun | undefined, expertErrorsPath: string | undefined): void {
  if (shard && shard.spec.count > 1 && expertErrorsPath !== undefined) {
    throw new InputError("SHARD_UNSUPPORTED", "--expert-errors cannot be combined with --shard (run it unsharded)");
  }
}

/**
 * Writes every tensor's units through `writer` (header, data, finish), or with `shard` only this shard's tensors
 * into its shard file. `writer` has its KVs and tensors declared and its header not yet written.
 */
export async function writeGgufUnits<T extends UnitTensor>(
  writer: GGUFWriter,
  p: Omit<WriteUnitsParams<T>, "writer">,
  shard: GgufShardRun | undefined,
): Promise<GgufUnitsResult> {
  if (!shard) {
    await writer.writeHeader();
    const outBytes = await writeUnitsInOrder({ ...p, writer });
    await writer.finish();
    return { outBytes };
  }
  const header = writer.buildHeader();
  const infos = writer.tensors;
  const mine = unitsOfShard(
    infos.map((t) => t.byteLength),
    shard.spec,
  );
  const fingerprint = createHash("sha256").update(header).update(shard.inputs).digest("hex");
  const last = infos[infos.length - 1];
  const totalBytes = header.length + (last ? last.offset + ggufPad(last.byteLength, writer.alignment) : 0);
  const path = shardFilePath(writer.path, shard.spec);
  const out = await ShardFileWriter.open(path, {
    kind: "gguf",
    fingerprint,
    index: shard.spec.index,
    count: shard.spec.count,
    totalUnits: infos.filter((t) => t.byteLength > 0).length + 1,
    totalBytes,
  });
  try {
    if (shard.spec.index === 1) await out.add("header", 0, header);
    const written = new Map<string, number>();
    const byName = new Map(infos.map((t) => [t.name, t]));
    const sink = {
      writeTensorData: async (name: string, bytes: Uint8Array): Promise<void> => {
        if (bytes.length === 0) return;
        const t = byName.get(name)!;
        const done = written.get(name) ?? 0;
        await out.add(name, header.length + t.offset + done, bytes);
        written.set(name, done + bytes.length);
      },
    };
    const tensors = mine.map((i) => p.tensors[i]);
    const outBytes = await writeUnitsInOrder<T>({
      ...p,
      writer: sink,
      tensors,
      unitWork: (t, j, u) => p.unitWork(t, mine[j], u),
      onTensor: p.onTensor ? (j, _n, name) => p.onTensor!(j, tensors.length, name) : undefined,
    });
    await out.finish();
    return { outBytes, shardFile: path };
  } catch (err) {
    await out.abort();
    throw err;
  }
}
