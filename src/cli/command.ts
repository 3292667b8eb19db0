/** What every `p2p-handlers` subcommand is, and the exit codes they all use. */

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export interface CliCommand {
  /** The word after `p2p-handlers`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help, printed for `p2p-handlers <name> --help`. */
  usage: string;
  /** Resolves to the exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Success. */
export const EXIT_OK = 0;
/** A failure: a case failed, a target or service could not be loaded or started. */
export const EXIT_FAILURE = 1;
/** Bad usage. */
export const EXIT_USAGE = 2;
