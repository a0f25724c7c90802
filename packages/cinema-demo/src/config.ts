import { hostname } from 'node:os';
import { z } from 'zod';

const rate = z.coerce.number().min(0).max(1);
const ms = z.coerce.number().int().min(0).max(600_000);

// Every setting comes from the environment (twelve-factor); secrets have no default here: `npm start` makes
// throwaway ones for its embedded mode and says so, a deployment must set its own.
const schema = z.object({
  SEATS_DATABASE_URL: z.string().url(),
  PAYMENTS_DATABASE_URL: z.string().url(),
  TICKETS_DATABASE_URL: z.string().url(),
  AMQP_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  READ_MODEL_PORT: z.coerce.number().int().min(0).max(65_535).default(3001),
  /** The origin the browser app is served from; CORS and socket.io accept only this one. */
  APP_ORIGIN: z.string().url().optional(),
  SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(3600),
  /**
   * How long an instance answers a session from memory instead of reading the sessions table (0: never). A sign-out
   * reaches the other instances over the bus at once; this bounds how long one that missed the message still
   * accepts the token.
   */
  SESSION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  /** Sign-in attempts per account (email) per 15 minutes, then 429: a password cannot be guessed online. */
  SIGN_IN_ATTEMPTS_PER_ACCOUNT: z.coerce.number().int().min(1).max(100_000).default(10),
  /** Sign-in attempts per client address per 15 minutes: one client cannot try many accounts either. */
  SIGN_IN_ATTEMPTS_PER_CLIENT: z.coerce.number().int().min(1).max(100_000).default(100),
  /** New accounts per client address per hour: each is a wallet the demo top-up can fill. */
  SIGN_UPS_PER_CLIENT: z.coerce.number().int().min(1).max(100_000).default(10),
  /** Demo top-ups: at most this much per customer per 24 hours, and no wallet above it. */
  TOP_UP_CENTS_PER_DAY: z.coerce.number().int().min(0).max(100_000_000).default(50_000),
  OPERATOR_TOKEN: z.string().min(24, 'OPERATOR_TOKEN must be at least 24 characters'),
  INSTANCE_ID: z
    .string()
    .regex(/^[a-z0-9-]{1,24}$/, 'INSTANCE_ID: 1-24 characters a-z, 0-9, -')
    .default(`api-${process.pid}`),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  MAX_SEATS_PER_BOOKING: z.coerce.number().int().min(1).max(50).default(8),
  BOOKINGS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(30),
  SOCKETS_PER_CLIENT: z.coerce.number().int().min(1).max(1000).default(20),
  /**
   * Bounds every lock wait on the API's database connections (set per connection: saga steps, 2PC branches, the
   * sweep, seeding, and every other statement).
   */
  LOCK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(3000),
  /** Bounds every statement on the same connections: a stuck statement fails and its step is retried. */
  STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  PREPARE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /**
   * How long this instance counts as alive after its last lease renewal, as a 2PC coordinator and as a saga
   * runner: once a killed instance's lease expired, the others take over its prepared branches and its sagas.
   */
  TXKIT_LEASE_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Interval of txkit's recovery passes (in-doubt 2PC branches, sagas whose runner died). */
  RECOVERY_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  /** Age after which the stale-booking sweep takes over a pending saga booking or a cancellation. */
  STALE_BOOKING_AFTER_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /**
   * How long a booking request waits for its outcome before it answers 202 (pending) and lets the work go on;
   * HAProxy's `timeout server` must be above it.
   */
  BOOKING_ANSWER_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  /** Interval of the stale-booking sweep. */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(10_000),
  PAYMENT_DECLINE_RATE: rate.default(0),
  PAYMENT_LATENCY_MS: ms.default(0),
  TICKET_FAILURE_RATE: rate.default(0),
  POOL_SIZE: z.coerce.number().int().min(2).max(200).default(20),
});

/** The demo's validated configuration. */
export type Config = z.infer<typeof schema> & { host: string };

/**
 * Reads and validates the configuration from environment variables; throws one message listing every problem.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return { ...parsed.data, host: hostname() };
}

/** Failure injection for experiments, read from the configuration. */
export interface FaultSettings {
  paymentDeclineRate: number;
  paymentLatencyMs: number;
  ticketFailureRate: number;
  /** Replaceable for deterministic tests; `Math.random` otherwise. */
  random: () => number;
}

/** Fault settings of a configuration. */
export function faultSettings(config: Config): FaultSettings {
  return {
    paymentDeclineRate: config.PAYMENT_DECLINE_RATE,
    paymentLatencyMs: config.PAYMENT_LATENCY_MS,
    ticketFailureRate: config.TICKET_FAILURE_RATE,
    random: Math.random,
  };
}
