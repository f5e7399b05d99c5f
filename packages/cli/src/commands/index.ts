import type { CommandModule } from "yargs";
import { pullCommand } from "./pull.js";
import { publishCommand } from "./publish.js";
import { inspectCommand } from "./inspect.js";

// Every `moeq` subcommand, one module each. Add new commands here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  pullCommand,
  publishCommand,
  inspectCommand,
];
