import { z } from 'zod';
import type { ResponseDoc, RouteDoc } from './api-routes.js';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of a zod schema, without its `$schema` line. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // `input` for requests (what a client may send, before defaults and trimming), `output` for answers.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io });
  return rest;
}

const security: Record<RouteDoc['auth'], unknown[]> = {
  none: [],
  customer: [{ bearer: [] }, { cookie: [], csrf: [] }],
  operator: [{ operator: [] }],
};

function response(doc: ResponseDoc) {
  const content = doc.json
    ? { 'application/json': { schema: jsonSchema(doc.json, 'output') } }
    : doc.text
      ? { [doc.text]: { schema: { type: 'string' } } }
      : undefined;
  const headers = doc.headers
    ? Object.fromEntries(
        Object.entries(doc.headers).map(([name, description]) => [
          name,
          { description, schema: { type: 'string' } },
        ]),
      )
    : undefined;
  return { description: doc.description, ...(content ? { content } : {}), ...(headers ? { headers } : {}) };
}

function operation(route: RouteDoc) {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, type]) => ({
      name,
      in: 'path',
      required: true,
      schema:
        type === 'uuid'
          ? { type: 'string', format: 'uuid' }
          : { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
    })),
    ...Object.entries(route.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: false,
      description: q.description,
      schema: { type: q.type },
    })),
    ...(route.idempotencyKey
      ? [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: true,
            description: 'one per booking attempt; a retry with the same key answers the same booking',
            schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{8,100}$' },
          },
        ]
      : []),
  ];
  return {
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    security: security[route.auth],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(route.responses)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, doc]) => [status, response(doc)]),
    ),
  };
}

/**
 * The OpenAPI 3.1 document of the API, generated from the route list and its zod schemas with zod 4's own
 * `z.toJSONSchema` (draft 2020-12 is OpenAPI 3.1's schema dialect, so no translation is needed).
 *
 * @example
 * const doc = openApiDocument(apiRoutes({ maxSeats: 8, topUpCentsPerDay: 50_000 }));
 * doc.paths['/api/bookings'].post.responses['409'];
 */
export function openApiDocument(routes: RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'txkit cinema demo API',
      version: '0.1.0',
      description:
        'Cinema seats booked across three PostgreSQL databases by saga or two-phase commit. Errors are `{ "error": { "code", "message", "details"? } }`; each response lists its codes. A refused booking answers 409 with the rejected booking in the body.',
    },
    tags: [
      { name: 'public', description: 'anyone' },
      { name: 'accounts', description: 'sign up, sign in, sign out' },
      { name: 'customer', description: 'as the signed-in customer (never taken from the body)' },
      { name: 'operator', description: 'with the operator token' },
    ],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the `token` of the sign-in answer' },
        cookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'cinema_session',
          description: 'set by sign-in (HttpOnly)',
        },
        csrf: {
          type: 'apiKey',
          in: 'header',
          name: 'X-CSRF-Token',
          description: 'with the cookie, on every request that is not GET: the `csrfToken` of the session',
        },
        operator: { type: 'http', scheme: 'bearer', description: 'OPERATOR_TOKEN' },
      },
    },
    paths,
  };
}

/** The document's type. */
export type OpenApiDocument = ReturnType<typeof openApiDocument>;
