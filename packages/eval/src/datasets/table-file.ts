// Rows of a dataset file: Hugging Face parquet (read with hyparquet, column subset, binary columns kept
// as bytes when asked) or JSON Lines. Errors name the file and the row.
import { readFileSync } from "node:fs";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { InputError } from "@moeq/formats";

export type Row = Record<string, unknown>;

export interface ReadRowsOptions {
  columns?: string[];
  /** false keeps unannotated BYTE_ARRAY columns (HF Image `bytes`) as Uint8Array instead of text. */
  utf8?: boolean;
}

export function isParquet(path: string): boolean {
  return /\.parquet$/i.test(path);
}

/** All rows of a `.parquet`, `.jsonl` or `.json` (array) file. */
export async function readRows(path: string, opts: ReadRowsOptions = {}): Promise<Row[]> {
  if (isParquet(path)) {
    try {
      const file = await asyncBufferFromFile(path);
      return (await parquetReadObjects({ file, columns: opts.columns, utf8: opts.utf8 ?? true })) as Row[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code === "ENOENT") throw err;
      throw new InputError("DATA_BAD_PARQUET", `cannot read parquet: ${(err as Error).message}`, { file: path, cause: err });
    }
  }
  const text = readFileSync(path, "utf8");
  if (/\.json$/i.test(path)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InputError("DATA_BAD_JSON", `not valid JSON: ${(err as Error).message}`, { file: path, cause: err });
    }
    if (!Array.isArray(parsed)) throw new InputError("DATA_BAD_JSON", "expected a JSON array of rows", { file: path });
    return parsed as Row[];
  }
  const rows: Row[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line) as Row);
    } catch (err) {
      throw new InputError("DATA_BAD_JSONL", `line ${i + 1} is not valid JSON: ${(err as Error).message}`, { file: path, cause: err });
    }
  });
  return rows;
}

/** A required string field, or InputError naming file, row and field. */
export function stringField(row: Row, key: string, file: string, index: number): string {
  const v = row[key];
  if (typeof v !== "string")
    throw new InputError("DATA_BAD_FIELD", `row ${index}: field "${key}" must be a string, got ${v === null ? "null" : typeof v}`, { file });
  return v;
}
