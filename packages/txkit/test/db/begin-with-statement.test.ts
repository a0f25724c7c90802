import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginWithStatement } from '../../src/db/begin-with-statement.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

describe('beginWithStatement', () => {
  it('writes the values in as quoted literals, as pg would have sent their text', () => {
    expect(
      beginWithStatement('BEGIN', {
        text: 'UPDATE t SET a = $1, b = $2, c = $3, d = $4, e = $5 WHERE id = $6 AND f = $1',
        values: [-5, "O'Brien", true, null, 12n, 'back\\slash'],
      }),
    ).toBe(
      "BEGIN; UPDATE t SET a = '-5', b = 'O''Brien', c = 'true', d = NULL, e = '12' WHERE id = E'back\\\\slash' AND f = '-5'",
    );
    expect(beginWithStatement('BEGIN', { text: 'SELECT 1' })).toBe('BEGIN; SELECT 1');
    // $10 is not $1 followed by 0.
    const values = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(beginWithStatement('B', { text: 'SELECT $10, $9, $8, $7, $6, $5, $4, $3, $2, $1', values })).toBe(
      "B; SELECT '10', '9', '8', '7', '6', '5', '4', '3', '2', '1'",
    );
  });

  it('steps over quoted literals and identifiers: a $n inside them is text, not a placeholder', () => {
    expect(
      beginWithStatement('BEGIN', {
        text: `UPDATE t SET state = 'sold', "col$1" = $1 WHERE note = 'costs $2, it''s' AND id = $2`,
        values: ['x', 7],
      }),
    ).toBe(`BEGIN; UPDATE t SET state = 'sold', "col$1" = 'x' WHERE note = 'costs $2, it''s' AND id = '7'`);
  });

  it('writes flat arrays in pg’s array text, quoting what needs it', () => {
    expect(
      beginWithStatement('BEGIN', {
        text: 'SELECT $1::int[], $2::text[], $3::text[]',
        values: [[1, 2], ['a "b"', 'c\\d', null, "e'f"], []],
      }),
    ).toBe(
      `BEGIN; SELECT '{"1","2"}'::int[], E'{"a \\\\"b\\\\"","c\\\\\\\\d",NULL,"e''f"}'::text[], '{}'::text[]`,
    );
  });

  it('keeps the usual path for what it cannot write without changing the meaning', () => {
    const refused = [
      { text: 'SELECT $1; DELETE FROM t', values: ['a'] },
      { text: 'SELECT $1 -- note', values: ['a'] },
      { text: 'SELECT $1 /* note */', values: ['a'] },
      { text: 'SELECT $$ $1 $$, $1', values: ['a'] },
      { text: 'SELECT $tag$ x $tag$, $1', values: ['a'] },
      { text: "SELECT E'\\'' || $1", values: ['a'] },
      { text: "SELECT E'$1', $1", values: ['a'] },
      { text: "SELECT x'1F', $1", values: ['a'] },
      { text: "SELECT 'it\\'s', $1", values: ['a'] },
      { text: "SELECT 'open, $1", values: ['a'] },
      { text: 'SELECT "open, $1', values: ['a'] },
      { text: 'SELECT a$1 FROM t WHERE b = $1', values: ['a'] },
      { text: 'SELECT `x`, $1', values: ['a'] },
      // Every value used once at least, none missing: otherwise the server's error is the answer.
      { text: 'SELECT $1, $2', values: ['only one'] },
      { text: 'SELECT $1', values: ['a', 'unused'] },
      { text: 'SELECT $1, $3', values: ['a', 'b', 'c'] },
      { text: 'SELECT "$1"', values: ['a'] },
      { text: 'SELECT $0', values: [] },
      { text: 'SELECT $1', values: [new Date()] },
      { text: 'SELECT $1', values: [Buffer.from('x')] },
      { text: 'SELECT $1', values: [[[1, 2]]] },
      { text: 'SELECT $1', values: [[new Date()]] },
      { text: 'SELECT $1', values: [['nul\0']] },
      { text: 'SELECT $1', values: [{ a: 1 }] },
      { text: 'SELECT $1', values: ['nul\0'] },
      { name: 'named', text: 'SELECT $1', values: ['a'] },
    ];
    for (const statement of refused) {
      expect(beginWithStatement('BEGIN', statement), statement.text).toBeUndefined();
    }
  });
});

// What matters is not the text but that the server reads it as it reads pg's parameters: the same statements,
// sent both ways, must answer the same rows.
describe('beginWithStatement against PostgreSQL', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let client: pg.PoolClient;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'begin with statement');
    client = await dbs.on('a').pool.connect();
  });
  afterAll(async () => {
    client?.release();
    await dbs?.drop();
  });

  const statements: pg.QueryConfig[] = [
    {
      text: `SELECT $1::int[] AS ids, $2::text[] AS texts, $3::jsonb[] AS docs, $4::bigint[] AS big,
                    $5::bool[] AS flags, $6::int[] AS none, 'it''s $1' AS note, $7::text AS plain`,
      values: [
        [3, -1, 2],
        ['a "b"', 'c\\d', null, "e'f", '{}', 'NULL', ' x ', ''],
        [JSON.stringify({ a: 'q"uote\\' }), JSON.stringify([1, null])],
        [9007199254740993n],
        [true, false],
        [],
        'O\'Brien \\ "x"',
      ],
    },
    { text: 'SELECT x FROM unnest($1::int[]) AS x WHERE x = ANY($1) ORDER BY x', values: [[5, 4]] },
    { text: 'SELECT $1::numeric * $2 AS product, $3::float8 AS f', values: ['1.5', -2, 1e-7] },
  ];

  it.each(statements.map((s, i) => [i, s] as const))(
    'statement %i answers the same both ways',
    async (_, s) => {
      const together = beginWithStatement('BEGIN', s);
      expect(together).toBeDefined();
      const usual = await client.query(s);
      try {
        const answers = (await client.query(together!)) as unknown as pg.QueryResult[];
        expect(answers[1]!.rows).toEqual(usual.rows);
      } finally {
        await client.query('ROLLBACK');
      }
    },
  );
});
