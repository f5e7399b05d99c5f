/**
 * The `general.*` naming keys as gguf-py's Metadata heuristics derive them (gguf-py/gguf/metadata.py
 * `get_model_id_components`, `id_to_title`, `apply_metadata_heuristic`): from config.json `_name_or_path`
 * (when it has at most one "/") and then the checkpoint folder name. Model-card (README.md) heuristics are not
 * ported; see the package README.
 */
export interface GeneralNaming {
  name?: string;
  organization?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

const isAlpha = (c: string): boolean => /^\p{L}$/u.test(c);
const isDecimal = (c: string): boolean => /^\p{Nd}$/u.test(c);
const isLower = (w: string): boolean => w !== w.toUpperCase() && w === w.toLowerCase();

/** Python str.title(): a letter is upper-cased after a non-letter, lower-cased after a letter. */
function pyTitle(w: string): string {
  let out = "";
  let prevLetter = false;
  for (const c of w) {
    const letter = isAlpha(c);
    out += letter ? (prevLetter ? c.toLowerCase() : c.toUpperCase()) : c;
    prevLetter = letter;
  }
  return out;
}

/** Metadata.id_to_title */
export function idToTitle(s: string): string {
  return s
    .trim()
    .replaceAll("-", " ")
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => (isLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pyTitle(w) : w))
    .join(" ");
}

export interface ModelIdComponents {
  fullName?: string;
  org?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

/** Metadata.get_model_id_components */
export function modelIdComponents(modelId: string | undefined, totalParams: number): ModelIdComponents {
  if (modelId === undefined) return {};
  if (modelId.includes(" ")) return { fullName: modelId };
  let org: string | undefined;
  let full: string;
  const slash = modelId.indexOf("/");
  if (slash >= 0) {
    org = modelId.slice(0, slash);
    full = modelId.slice(slash + 1);
  } else full = modelId;
  if (org !== undefined && org.length > 0 && org[0] === ".") org = undefined;
  const parts = full.split("-").filter((p) => p.length > 0);
  const types = parts.map(() => new Set<string>());
  parts.forEach((part, i) => {
    if (/^(v|iter)?\d+([.]\d+)*$/i.test(part)) types[i].add("version");
    else if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(part)) {
      types[i].add("type");
      parts[i] = part.toUpperCase();
    } else if (i > 0 && /^((([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?)|small|mini|medium|large|x?xl)$/i.test(part)) {
      let p = part.replaceAll("_", ".");
      if (isDecimal(p[p.length - 1])) p = p.slice(0, -2) + "." + p[p.length - 1] + p[p.length - 2];
      if (p.length > 1 && isDecimal(p[p.length - 2]) && "kmbt".includes(p[p.length - 1])) p = p.slice(0, -1) + p[p.length - 1].toUpperCase();
      if (totalParams !== 0) {
        const num = Number(p.slice(0, -1));
        if (p.slice(0, -1).trim() !== "" && Number.isFinite(num)) {
          const labelParams = num * Math.pow(1000, " KMBT".indexOf(p[p.length - 1]));
          if (
            (totalParams < 0 && labelParams < Math.floor(Math.abs(totalParams) / 8)) ||
            (totalParams > 0 && Math.abs(labelParams - totalParams) > Math.floor((7 * totalParams) / 8))
          ) {
            types[i].add("finetune"); // likely a context length
            p = p.slice(0, -1) + p[p.length - 1].toLowerCase();
          }
        }
      }
      if (types[i].size === 0) types[i].add("size_label");
      parts[i] = p;
    } else if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(part)) {
      if (totalParams < 0 && part.toLowerCase() === "lora") types[i].add("type");
      else types[i].add("finetune");
    }
  });
  if (parts.some((n, i) => types[i].has("size_label") && [...n].some(isDecimal))) {
    parts.forEach((n, i) => {
      if (types[i].has("size_label") && [...n].every(isAlpha)) types[i].delete("size_label");
    });
  }
  let atStart = true;
  parts.forEach((part, i) => {
    const t = types[i];
    if (atStart && ((t.size === 0 && isAlpha(part[0])) || t.has("version"))) t.add("basename");
    else {
      if (atStart) atStart = false;
      if (t.size === 0) t.add("finetune");
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    if (types[i].has("basename") && types[i].size > 1) types[i].delete("basename");
    else break;
  }
  const join = (f: (i: number) => boolean): string | undefined => parts.filter((_, i) => f(i)).join("-") || undefined;
  let basename = join((i) => types[i].has("basename"));
  const sizeLabel = [...new Set(parts.filter((_, i) => types[i].has("size_label")))].join("-") || undefined;
  const finetune = join((i) => types[i].has("finetune"));
  const version = join((i) => types[i].has("version") && !types[i].has("basename"));
  if (sizeLabel === undefined && finetune === undefined && version === undefined) basename = undefined;
  return { fullName: full, org, basename, finetune, version, sizeLabel };
}

/** apply_metadata_heuristic for `_name_or_path` and the folder name, in that order (first value wins). */
export function generalNaming(nameOrPath: string | undefined, folderName: string, totalParams: number): GeneralNaming {
  const out: GeneralNaming = {};
  const apply = (c: ModelIdComponents): void => {
    if (out.name === undefined && c.fullName !== undefined) out.name = idToTitle(c.fullName);
    if (out.organization === undefined && c.org !== undefined) out.organization = idToTitle(c.org);
    if (out.basename === undefined && c.basename !== undefined) out.basename = c.basename;
    if (out.finetune === undefined && c.finetune !== undefined) out.finetune = c.finetune;
    if (out.version === undefined && c.version !== undefined) out.version = c.version;
    if (out.sizeLabel === undefined && c.sizeLabel !== undefined) out.sizeLabel = c.sizeLabel;
  };
  if (nameOrPath !== undefined && (nameOrPath.match(/\//g) ?? []).length <= 1) apply(modelIdComponents(nameOrPath, totalParams));
  apply(modelIdComponents(folderName, totalParams));
  if (out.name === undefined) out.name = folderName;
  return out;
}
