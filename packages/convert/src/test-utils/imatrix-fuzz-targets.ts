/** Fuzz targets for the imatrix readers (test-support/header-fuzz.ts): llama-imatrix's GGUF format and the legacy .dat. */
import {
  BAD_UTF8,
  Bytes,
  type FuzzTarget,
  type GgufFlavour,
  type Rnd,
  chance,
  concat,
  evilName,
  evilU64,
  ggufCase,
  int,
  mutateBytes,
  pick,
} from "@moeq/test-support/header-fuzz";
import { readImatrix } from "../imatrix.js";

const imatrixKvs: GgufFlavour["kvs"] = [
  ["general.type", (s) => (s.i32(8), s.string("imatrix"))],
  ["imatrix.datasets", (s) => (s.i32(9), s.i32(8), s.u64(1n), s.string("cal.txt"))],
  ["imatrix.chunk_count", (s) => (s.i32(4), s.u32(7))],
  ["imatrix.chunk_size", (s) => (s.i32(4), s.u32(512))],
];

/** llama-imatrix's GGUF: `NAME.in_sum2` and `NAME.counts` F32 tensors plus the imatrix.* keys. */
export const IMATRIX_GGUF_FLAVOUR: GgufFlavour = {
  kvs: imatrixKvs,
  tensorNames: ["blk.0.attn_q.weight.in_sum2", "blk.0.attn_q.weight.counts", "blk.0.ffn_up_exps.weight.in_sum2", "blk.0.ffn_up_exps.weight.counts"],
  f32Share: 0.8,
};

const parseImatrix = async (path: string): Promise<void> => void (await readImatrix(path));

export const IMATRIX_GGUF_TARGET: FuzzTarget = { name: "imatrix GGUF", ext: ".gguf", make: (rnd) => ggufCase(rnd, IMATRIX_GGUF_FLAVOUR), parse: parseImatrix };

/**
 * A legacy .dat (llama.cpp's save_imatrix before GGUF): i32 n_entries, then per entry i32 name length, name,
 * i32 ncall, i32 n_values, f32 values; then optional i32 chunk count, i32 dataset-name length, name.
 */
function hostileDat(rnd: Rnd, evilRate: number): Uint8Array {
  const evil = (): boolean => chance(rnd, evilRate);
  const s = new Bytes();
  const n = int(rnd, 0, 4);
  const i32Evil = (real: number): number => (evil() ? Number(BigInt.asIntN(32, evilU64(rnd, real))) : real);
  s.i32(evil() ? i32Evil(n) : Math.max(1, n));
  for (let k = 0; k < Math.max(1, n); k++) {
    let name = new TextEncoder().encode(evil() ? evilName(rnd, `blk.${k}.ffn_up.weight`) : `blk.${k}.ffn_up.weight`);
    if (evil()) name = concat(name, Uint8Array.from(pick(rnd, BAD_UTF8)));
    s.i32(i32Evil(name.length));
    s.bytes(name);
    s.i32(evil() ? pick(rnd, [-1, 0, 0x7fffffff]) : int(rnd, 1, 100));
    const nval = pick(rnd, [1, 4, 32]);
    s.i32(i32Evil(nval));
    for (let i = 0; i < nval; i++) s.f32(chance(rnd, 0.03) ? pick(rnd, [NaN, Infinity, -1]) : rnd() * 10);
  }
  if (chance(rnd, 0.7)) {
    s.i32(i32Evil(7));
    const ds = new TextEncoder().encode(evil() ? evilName(rnd, "cal.txt") : "cal.txt");
    s.i32(i32Evil(ds.length));
    s.bytes(ds);
  }
  return s.result();
}

export const IMATRIX_DAT_TARGET: FuzzTarget = {
  name: "imatrix legacy .dat",
  ext: ".dat",
  make(rnd) {
    if (chance(rnd, 0.5)) return hostileDat(rnd, 0.15);
    const good = hostileDat(rnd, 0);
    return mutateBytes(rnd, good, good.length);
  },
  parse: parseImatrix,
};
