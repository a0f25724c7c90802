// Where a parameterised statement's values go when they are written into its text (a simple-query string takes
// no parameters): the one reader of statement texts that `beginWithStatement` and `inlineStatement` share.

/** A statement text cut at its placeholders: the text between them, and which value (from 0) each one takes. */
export interface StatementTemplate {
  pieces: string[];
  positions: number[];
  /** How many values the text takes: `$1` to `$uses`, each at least once; -1 when some `$n` is missing. */
  uses: number;
}

/** Read texts; `false` for one that cannot be written out (one lookup either way, on every first statement). */
const templates = new Map<string, StatementTemplate | false>();
/** Statement texts are few and fixed (values travel apart); this only guards the memory against ones that are not. */
const MAX_TEMPLATES = 500;

/**
 * The text cut at its placeholders, read once per distinct text; `undefined` when its values cannot be written
 * in without changing what it means (see {@link scanPlaceholders}).
 *
 * @example
 * statementTemplate("UPDATE t SET s = 'sold' WHERE id = $1"); // { pieces: ["UPDATE … id = ", ""], positions: [0], uses: 1 }
 */
export function statementTemplate(text: string): StatementTemplate | undefined {
  let template = templates.get(text);
  if (template === undefined) {
    template = scanPlaceholders(text) ?? false;
    if (templates.size >= MAX_TEMPLATES) templates.clear();
    templates.set(text, template);
  }
  return template || undefined;
}

/** Characters that continue an identifier or keyword: a `$n` or `'` right after one is not what it seems. */
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Reads the text as PostgreSQL's lexer does, as far as placeholders are concerned: `$n` outside quotes is a
 * placeholder; `'…'` (with `''` inside) and `"…"` (with `""`) are stepped over. Whatever could make a `$n` mean
 * something else or end the statement is refused: `;`, `\`, `--`, `/*`, a `$` not followed by a digit (dollar
 * quoting), a quote or `$n` glued to a word (`E'…'`, `B'…'`, the identifier `a$1`), an unclosed quote. (`U&'…'`
 * passes: without a backslash it is a plain literal, and it is written out untouched.)
 */
function scanPlaceholders(text: string): StatementTemplate | undefined {
  const pieces: string[] = [];
  const positions: number[] = [];
  let pieceStart = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === ';' || c === '\\' || c === '`' || (c === '-' && next === '-') || (c === '/' && next === '*')) {
      return undefined;
    }
    if (c === "'" || c === '"') {
      if (c === "'" && i > 0 && WORD.test(text[i - 1]!)) return undefined;
      const end = closingQuote(text, i);
      if (end === undefined) return undefined;
      i = end + 1;
      continue;
    }
    if (c === '$') {
      const digits = /^\d+/.exec(text.slice(i + 1))?.[0];
      if (digits === undefined || (i > 0 && WORD.test(text[i - 1]!))) return undefined;
      pieces.push(text.slice(pieceStart, i));
      positions.push(Number(digits) - 1);
      i += 1 + digits.length;
      pieceStart = i;
      continue;
    }
    i++;
  }
  pieces.push(text.slice(pieceStart));
  const distinct = new Set(positions);
  const uses = positions.length === 0 ? 0 : Math.max(...positions) + 1;
  return { pieces, positions, uses: distinct.size === uses && !distinct.has(-1) ? uses : -1 };
}

/** The index of the quote that closes the one at `start` (a doubled quote is one inside), or undefined. */
function closingQuote(text: string, start: number): number | undefined {
  const quote = text[start]!;
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') return undefined;
    if (text[i] !== quote) continue;
    if (text[i + 1] === quote) i++;
    else return i;
  }
  return undefined;
}
