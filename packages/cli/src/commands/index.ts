import type { CommandModule } from "yargs";
import { pullCommand } from "./pull.js";
import { publishCommand } from "./publish.js";
import { inspectCommand } from "./inspect.js";
import { convertCommand } from "./convert.js";
import { quantizeCommand } from "./quantize.js";
import { imatrixCommand } from "./imatrix.js";
import { evalCommand } from "./eval.js";
import { gateCommand } from "./gate.js";
import { runCommand } from "./run.js";
import { fp8Command } from "./fp8.js";
import { awqCommand } from "./awq.js";
import { gptqCommand } from "./gptq.js";
import { recipeCommand } from "./recipe.js";
import { mergeCommand } from "./merge.js";

// Every `moeq` subcommand, one module each. Add new commands here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  pullCommand,
  publishCommand,
  inspectCommand,
  convertCommand,
  quantizeCommand,
  mergeCommand,
  fp8Command,
  awqCommand,
  imatrixCommand,
  evalCommand,
  gateCommand,
  runCommand,
  gptqCommand,
  recipeCommand,
];
