import type { Statement } from '../db/queryable.js';
import { quoteSchema } from '../db/schema-name.js';
import type { Outcome } from './decision-log.js';

/**
 * `txkit resolve --force`: replaces a recorded decision with the operator's. Only the CLI writes this, and only
 * when the operator said `--force` — the normal protocol never changes a decision once it exists, which is what
 * makes the decision row a fence. The old outcome is returned so the CLI can print what it overrode.
 */
export function overrideDecision(schema: string, transactionId: string, outcome: Outcome): Statement {
  return {
    text: `UPDATE ${quoteSchema(schema)}.two_phase_decisions AS d SET outcome = $2
             FROM (SELECT transaction_id, outcome FROM ${quoteSchema(schema)}.two_phase_decisions
                    WHERE transaction_id = $1 FOR UPDATE) AS old
            WHERE d.transaction_id = old.transaction_id
            RETURNING old.outcome AS previous`,
    values: [transactionId, outcome],
  };
}
