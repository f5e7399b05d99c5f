import type { CommandModule } from "yargs";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/**
 * Every `moeq` subcommand, one module each, by the name it is run as (add new commands here). Loaded on demand: a
 * process started as `moeq quantize …` imports only quantize's module and what it needs, so each of the N processes
 * of a sharded run starts in less CPU time (`moeq quantize --help`: 0.57 s against 0.80 s loading every command).
 */
export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<AnyCommand>>> = {
  pull: async () => (await import("./pull.js")).pullCommand,
  publish: async () => (await import("./publish.js")).publishCommand,
  inspect: async () => (await import("./inspect.js")).inspectCommand,
  convert: async () => (await import("./convert.js")).convertCommand,
  quantize: async () => (await import("./quantize.js")).quantizeCommand,
  merge: async () => (await import("./merge.js")).mergeCommand,
  fp8: async () => (await import("./fp8.js")).fp8Command,
  awq: async () => (await import("./awq.js")).awqCommand,
  imatrix: async () => (await import("./imatrix.js")).imatrixCommand,
  eval: async () => (await import("./eval.js")).evalCommand,
  gate: async () => (await import("./gate.js")).gateCommand,
  run: async () => (await import("./run.js")).runCommand,
  gptq: async () => (await import("./gptq.js")).gptqCommand,
  recipe: async () => (await import("./recipe.js")).recipeCommand,
};

/**
 * The commands `argv` can reach: the one it names, or (no command, `--help`, a misspelt name that yargs will
 * suggest a command for) all of them, in COMMAND_LOADERS' order.
 */
export async function loadCommands(argv: readonly string[]): Promise<AnyCommand[]> {
  const first = argv[0];
  if (first !== undefined && Object.hasOwn(COMMAND_LOADERS, first)) return [await COMMAND_LOADERS[first]!()];
  return Promise.all(Object.values(COMMAND_LOADERS).map((load) => load()));
}
