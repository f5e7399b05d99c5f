/**
 * Crash-safe output folders for the safetensors writers (fp8, awq, …): everything is written into a hidden
 * sibling temp folder, which is renamed over the final name only when complete. A killed run leaves the
 * final name untouched (absent) plus a `.NAME.tmp-<pid>-*` folder, which the next run for that name removes once
 * that process is gone; a failed run removes its temp folder.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { copyFile, mkdir, rename, rm, rmdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative, resolve } from "node:path";
import { InputError, MoeqError, noRoomError } from "@moeq/formats";

/** Files next to the weights that a serving stack reads besides config.json (tokenizer, processor, chat template). */
export const HF_SIDE_FILES = [
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
  "chat_template.json",
  "chat_template.jinja",
  "preprocessor_config.json",
  "processor_config.json",
] as const;

/** Copies the HF_SIDE_FILES that exist in `from` into `to`; returns their names. */
export async function copyHfSideFiles(from: string, to: string): Promise<string[]> {
  const copied: string[] = [];
  for (const name of HF_SIDE_FILES) {
    if (!existsSync(join(from, name))) continue;
    await copyFile(join(from, name), join(to, name));
    copied.push(name);
  }
  return copied;
}

/** Refuses an output folder that exists and is not empty (nothing is overwritten). */
export function checkOutputDir(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory() || readdirSync(out).length > 0) {
    throw new InputError("OUTPUT_EXISTS", "output folder exists and is not empty; choose a new -o", { file: out });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Removes the `.NAME.tmp-<pid>-<hex>` siblings of `final` that killed runs left (their process is gone). */
async function removeStaleTemps(final: string): Promise<void> {
  const prefix = `.${basename(final)}.tmp-`;
  for (const name of readdirSync(dirname(final))) {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length)) : null;
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) await rm(join(dirname(final), name), { recursive: true, force: true });
  }
}

/** Runs `write(tmpDir)`, then renames tmpDir to `out`. On any error the temp folder is removed and `out` is untouched. */
export async function writeOutputDir<T>(out: string, write: (tmpDir: string) => Promise<T>): Promise<T> {
  const final = resolve(out);
  checkOutputDir(final);
  await mkdir(dirname(final), { recursive: true });
  await removeStaleTemps(final);
  const tmp = join(dirname(final), `.${basename(final)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(tmp);
  try {
    const result = await write(tmp);
    if (existsSync(final)) await rmdir(final); // empty (checked above)
    await rename(tmp, final);
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // a full disk is reported against the final name, not the temp folder the user never sees
    if (err instanceof MoeqError && err.code === "DISK_FULL" && err.file?.startsWith(tmp)) throw noRoomError(err.cause, join(final, relative(tmp, err.file)));
    throw noRoomError(err, final); // a side file copied or a folder made on a full disk
  }
}
