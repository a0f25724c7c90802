import { describe, expect, it } from 'vitest';
import { beginWithStatement } from '../../src/db/begin-with-statement.js';

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
    expect(beginWithStatement('B', { text: 'SELECT $10, $1', values })).toBe("B; SELECT '10', '1'");
  });

  it('keeps the usual path for what it cannot write without changing the meaning', () => {
    const refused = [
      { text: "SELECT $1 || 'x'", values: ['a'] },
      { text: 'SELECT $1; DELETE FROM t', values: ['a'] },
      { text: 'SELECT $1 -- note', values: ['a'] },
      { text: 'SELECT $1 /* note */', values: ['a'] },
      { text: 'SELECT $$ $1 $$, $1', values: ['a'] },
      { text: 'SELECT "$1"', values: ['a'] },
      { text: 'SELECT $1, $2', values: ['only one'] },
      { text: 'SELECT $1', values: [new Date()] },
      { text: 'SELECT $1', values: [Buffer.from('x')] },
      { text: 'SELECT $1', values: [[1, 2]] },
      { text: 'SELECT $1', values: [{ a: 1 }] },
      { text: 'SELECT $1', values: ['nul\0'] },
      { name: 'named', text: 'SELECT $1', values: ['a'] },
    ];
    for (const statement of refused) expect(beginWithStatement('BEGIN', statement)).toBeUndefined();
  });
});
