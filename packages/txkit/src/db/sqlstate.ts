/**
 * SQLSTATEs (or whole classes, ending in `*`) after which the session is gone: a connection exception (class
 * 08), the server shutting down or crashing (57P01-57P03), or the server ending an idle-in-transaction session
 * (25P03). The one list both {@link isConnectionError} and the retryable codes build on.
 *
 * @internal
 */
export const sessionLostCodes: readonly string[] = ['08*', '57P01', '57P02', '57P03', '25P03'];

/**
 * Whether `code` is in `table`, whose entries are codes or classes (`08*`).
 *
 * @internal
 */
export function codeIn(code: string, table: readonly string[]): boolean {
  return table.some((entry) => (entry.endsWith('*') ? code.startsWith(entry.slice(0, -1)) : code === entry));
}
