/**
 * The import rules of txkit's source, checked by `npm test` (`npm run check:imports`).
 *
 * Layers, from the bottom up — an arrow may only point down (or stay inside its folder):
 *   errors.ts, faults.ts, background-service.ts, db/, tracing/
 *                                 shared ground: errors, fault points, periodic passes, PostgreSQL helpers
 *                                 (the migration runner among them), spans
 *   two-phase/, saga/, bus/       the two protocols (in-doubt resolution is part of two-phase/, the barrier part
 *                                 of saga/) and the message bus abstraction; none of them knows another
 *   outbox/, rabbitmq/            the outbox and its relay, RabbitMQ: both publish through bus/
 *   remote-saga/                  saga steps run by a remote participant: saga/ over rabbitmq/
 *   cli/, testing/                tools built on the library; nothing in the library imports them
 *   index.ts, outbox/index.ts, amqp/index.ts, testing/index.ts
 *                                 the published entries (txkit, txkit/outbox, txkit/amqp, txkit/testing); amqp/
 *                                 holds only its entry, which lists rabbitmq/ and remote-saga/
 *
 * Each table's SQL lives in the one module that owns the table (its migrations next to it, declared as a
 * ComponentMigrations of db/migrations.ts), so no folder reaches into another's tables.
 */
const ENTRY = '^src/(index|outbox/index|amqp/index|testing/index)\\.ts$';
const GROUND = '^src/(errors|faults|background-service)\\.ts$|^src/(db|tracing)/';

/** A rule that lets files under `from` import only the folders listed (besides their own and the ground). */
function onlyDown(name, from, allowed, comment) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: `^src/${from}/`, pathNot: ENTRY },
    to: {
      path: '^src/',
      pathNot: [GROUND, `^src/${from}/`, ...allowed.map((folder) => `^src/${folder}/`)],
    },
  };
}

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
      comment:
        'errors, faults, the background service, db/ and tracing/ are used by everything; they know nothing above.',
      from: { path: GROUND },
      to: { path: '^src/', pathNot: GROUND },
    },
    onlyDown('two-phase-on-ground', 'two-phase', [], 'Two-phase commit needs only the ground.'),
    onlyDown('saga-on-ground', 'saga', [], 'The saga engine and the barrier need only the ground.'),
    onlyDown('bus-on-ground', 'bus', [], 'The message bus abstraction knows no transport and no protocol.'),
    onlyDown(
      'outbox-on-bus',
      'outbox',
      ['bus'],
      'The outbox relay publishes through the bus abstraction only.',
    ),
    onlyDown('rabbitmq-on-bus', 'rabbitmq', ['bus'], 'RabbitMQ implements the bus; it knows no protocol.'),
    onlyDown(
      'remote-saga-on-saga-and-amqp',
      'remote-saga',
      ['saga', 'rabbitmq', 'bus'],
      'Remote steps and participants join the saga engine to RabbitMQ; nothing below knows them.',
    ),
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
      to: { path: ENTRY },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
