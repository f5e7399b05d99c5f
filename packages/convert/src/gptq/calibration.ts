/** Calibration samples for GPTQ: the first nsamples × seqlen tokens of a text file, cut into nsamples windows. */
import { readFileSync } from "node:fs";
import { InputError } from "@moeq/formats";

export function calibrationSamples(path: string, encode: (text: string) => number[], nsamples: number, seqlen: number): number[][] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new InputError("NOT_FOUND", "cannot read the calibration text", { file: path, cause });
  }
  const ids = encode(text);
  const need = nsamples * seqlen;
  if (ids.length < need) {
    throw new InputError("CALIBRATION_SHORT", `calibration text has ${ids.length} tokens, fewer than nsamples × seqlen = ${nsamples} × ${seqlen} = ${need}`, {
      file: path,
    });
  }
  return Array.from({ length: nsamples }, (_, i) => ids.slice(i * seqlen, (i + 1) * seqlen));
}
