// `node --import tsx --import ./sql-text-hook.mjs child.ts`: registers the `.sql` loader after tsx's.
import { register } from 'node:module';

register('./sql-text-loader.mjs', import.meta.url);
