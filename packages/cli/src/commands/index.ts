import type { CommandModule } from "yargs";

// Every `moeq` subcommand, one module each. Add new commands here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [];
