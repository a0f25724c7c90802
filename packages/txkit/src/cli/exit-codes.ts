/**
 * Exit codes of the `txkit` CLI. Scripts and monitoring can tell "the tool broke" from "the tool worked and
 * found something an operator must look at".
 */
export const ExitCode = {
  /** Done; nothing needs attention. */
  ok: 0,
  /** The command failed: a database was unreachable, an SQL error, a refused `resolve`. */
  failed: 1,
  /** Wrong usage: unknown command or flag, missing or malformed settings. */
  usage: 2,
  /** The command ran, and found something needing attention (in-doubt branches past their timeout, failed sagas, branches recovery could not finish). */
  attention: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
