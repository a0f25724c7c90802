/**
 * The `error.type` of a failed span: txkit's stable error code (`PREPARE_FAILED`, …), a PostgreSQL SQLSTATE
 * (`40P01`), a Node.js system error code (`ECONNRESET`), or the error's class name.
 *
 * @internal
 */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    if (error instanceof Error) return error.name;
  }
  return '_OTHER';
}
