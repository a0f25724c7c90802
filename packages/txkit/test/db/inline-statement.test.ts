import { describe, expect, it } from 'vitest';
import { inlineStatement, quoteLiteral } from '../../src/db/inline-statement.js';
import { createTestDatabases, testCluster } from '../../src/testing/index.js';

describe('inlineStatement: a parameterised statement as plain SQL text', () => {
  it('writes every kind of value as a literal, placeholders in any order, repeated, and past $9', () => {
    const values = ['a', 2, true, null, ['x', "y'z"], -3, 'c', 'd', 'e', 'ten'];
    const text = "SELECT $10, $1, $2, $3, $4, $5::text[], $6, $7, $8, $9, 'not $1', $1";
    const sql =
      "SELECT 'ten', 'a', 2, TRUE, NULL, ARRAY['x', 'y''z']::text[], (-3), 'c', 'd', 'e', 'not $1', 'a'";
    expect(inlineStatement({ text, values })).toBe(sql);
    // The second call takes the cut template from the cache and must give the same text with other values.
    expect(inlineStatement({ text, values: [...values.slice(0, 9), 'other'] })).toBe(
      sql.replace("'ten'", "'other'"),
    );
  });

  it('refuses a placeholder without a value, a value without a placeholder, texts it cannot read, and values it cannot write', () => {
    expect(() => inlineStatement({ text: 'SELECT $2', values: ['only one'] })).toThrow(/cannot write/);
    expect(() => inlineStatement({ text: 'SELECT $1', values: ['a', 'b'] })).toThrow(/cannot write/);
    expect(() => inlineStatement({ text: 'SELECT $1; SELECT 2', values: ['a'] })).toThrow(/cannot write/);
    expect(() => inlineStatement({ text: 'SELECT $1', values: [{}] })).toThrow(/cannot write/);
    expect(() => quoteLiteral('nul\0')).toThrow(/NUL/);
  });

  it('gives PostgreSQL the same values as bind parameters would, quotes and backslashes included', async () => {
    const cluster = testCluster();
    const dbs = await createTestDatabases(cluster, 'inline statement');
    try {
      const text = 'SELECT $1::text AS s, $2::int AS n, $3::text[] AS a';
      const values = ["it's \\ a \\' test", -7, ['p', "q'r", 's\\t']];
      const pool = dbs.on('a').pool;
      const bound = await pool.query(text, values);
      const inlined = await pool.query(inlineStatement({ text, values }));
      expect(inlined.rows).toEqual(bound.rows);
    } finally {
      await dbs.drop();
    }
  });
});
