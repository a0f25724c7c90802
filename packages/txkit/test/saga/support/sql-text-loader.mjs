// Node module hook for child processes run with tsx: imports `.sql` files as text, as tsup and vitest do.
import { readFile } from 'node:fs/promises';

export async function load(url, context, next) {
  if (url.endsWith('.sql')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return next(url, context);
}
