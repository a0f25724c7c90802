/**
 * The CLI declined to do something unsafe or impossible (contradict a recorded decision, resolve a gid that is
 * not prepared). Exit code 1 with the message; no stack trace, because nothing went wrong in the tool.
 */
export class Refusal extends Error {
  override readonly name = 'Refusal';
}
