// Calibration text for `moeq imatrix --data`: a plain text file as is, or one string field of every row of a
// `.jsonl` (`field`, default "text") or `.parquet` (`column`, default "text") file, rows joined by a blank line.
import { readFileSync } from "node:fs";
import { InputError } from "@moeq/formats";
import { isParquet, readRows, stringField } from "./table-file.js";

export interface CalibrationTextOptions {
  /** Row field of a .jsonl / .json file (default "text"). */
  readonly field?: string;
  /** Column of a .parquet file (default "text"). */
  readonly column?: string;
}

export async function readCalibrationText(path: string, o: CalibrationTextOptions = {}): Promise<string> {
  const tabular = isParquet(path) || /\.jsonl?$/i.test(path);
  if (!tabular) return readFileSync(path, "utf8");
  const key = (isParquet(path) ? o.column : o.field) ?? "text";
  const rows = await readRows(path, isParquet(path) ? { columns: [key] } : {});
  if (rows.length === 0) throw new InputError("DATA_EMPTY", "no rows", { file: path });
  return rows.map((r, i) => stringField(r, key, path, i)).join("\n\n");
}
