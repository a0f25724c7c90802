/**
 * The import rules of txkit's source, checked by `npm test` (`npm run check:imports`).
 *
 * Layers, from the bottom up — an arrow may only point down:
 *   errors.ts, faults.ts, deadline.ts, db/      shared ground: errors, fault points, PostgreSQL helpers
 *   two-phase/, saga/, outbox/, transport/      the protocols and the messaging they use
 *   cli/, testing/                              tools built on the library; nothing in the library imports them
 *   index.ts, testing/index.ts                  the published entries
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle ties modules that should be read and changed one at a time.',
      from: { path: '^src' },
      to: { circular: true },
    },
    {
      name: 'ground-stays-ground',
      severity: 'error',
      comment: 'errors, faults and db/ are used by every protocol; they must not know any of them.',
      from: { path: '^src/(errors|faults|deadline)\\.ts$|^src/db/' },
      to: { path: '^src/(two-phase|saga|outbox|transport|recovery|cli|testing)/' },
    },
    {
      name: 'library-does-not-import-tools',
      severity: 'error',
      comment: 'The CLI and the test harness sit on top of the library, not under it.',
      from: { path: '^src/', pathNot: '^src/(cli|testing)/' },
      to: { path: '^src/(cli|testing)/' },
    },
    {
      name: 'entries-are-not-imported',
      severity: 'error',
      comment: 'Modules import each other directly; index files only list what is public.',
      from: { path: '^src/' },
      to: { path: '^src/(index|testing/index)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
