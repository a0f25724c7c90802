import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type { Express } from 'express';

// ajv-formats is CommonJS with `exports.default`: under NodeNext its default import is the module object.
const addFormats = ajvFormats.default;

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON, read field by field
type Json = any;

/** An answer to check: what the harness's `request` returns. */
export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/**
 * Checks real answers against the served OpenAPI document: the status must be one the operation documents,
 * and the body must match that response's JSON schema (ajv, draft 2020-12 as OpenAPI 3.1 uses, formats on).
 * Records which (operation, status) pairs were seen, for the coverage check.
 *
 * @example
 * const contract = new OpenApiContract(await (await fetch(`${url}/api/openapi.json`)).json());
 * contract.check('get', '/api/bookings/{bookingId}', await h.request('GET', `/api/bookings/${id}`, { token }));
 */
export class OpenApiContract {
  readonly seen = new Set<string>();
  readonly #ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));

  constructor(readonly document: Json) {}

  check(method: string, path: string, answer: Answer): void {
    const operation = this.document.paths[path]?.[method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not in the OpenAPI document`);
    const response = operation.responses[String(answer.status)];
    const what = `${method.toUpperCase()} ${path} answered ${answer.status}`;
    if (!response)
      throw new Error(`${what}, which the document does not list: ${JSON.stringify(answer.body)}`);
    const json = response.content?.['application/json']?.schema;
    if (json) {
      const validate = this.#ajv.compile(json);
      if (!validate(answer.body)) {
        throw new Error(
          `${what}, body does not match the document: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body).slice(0, 2000)}`,
        );
      }
    } else if (response.content) {
      if (typeof answer.body !== 'string') throw new Error(`${what}, expected a text body`);
    } else if (!path.endsWith('openapi.json') && answer.body !== undefined) {
      throw new Error(`${what} with a body the document does not describe`);
    }
    for (const header of Object.keys(response.headers ?? {})) {
      if (header === 'Set-Cookie' || header === 'Idempotent-Replayed') continue;
      if (!answer.headers.get(header)) throw new Error(`${what} without its documented ${header} header`);
    }
    this.seen.add(`${method} ${path} ${answer.status}`);
  }

  /** Every documented operation, as `method path`. */
  operations(): string[] {
    return Object.entries(this.document.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((method) => `${method} ${path}`),
    );
  }
}

/**
 * Every route the Express app has, as `method path` in OpenAPI form (`:id` → `{id}`): what the document must
 * describe, so that a route added without a description fails the contract test.
 */
export function expressRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Json[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          found.push(`${method} ${String(layer.route.path).replace(/:([A-Za-z]+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as Json).router.stack);
  return [...new Set(found)];
}
