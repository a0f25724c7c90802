// SQL migration files are bundled as text (tsup's text loader, and a vitest transform in tests).
declare module '*.sql' {
  const sql: string;
  export default sql;
}
