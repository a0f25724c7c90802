/** A state in which the three databases disagree about one booking, as a reader sees it between its reads. */
export type MixedState =
  /** The seat is taken but no captured payment exists yet (or any more). */
  | 'seat-without-payment'
  /** The payment is captured but no ticket is issued yet (or it was voided already). */
  | 'payment-without-ticket'
  /** The payment is still captured but the booking holds no seat: an undo whose refund has not happened yet. */
  | 'refund-pending';

/**
 * What one sample read, in this order: booking ids holding a seat, with a captured payment, with an issued
 * ticket, then captured payments and seats again. The reads are not one snapshot (three servers), so each rule
 * below compares a read with a *later* read of the step that comes *before* it in a booking's forward order —
 * except for rules about the forward order itself — so a booking that simply progressed between two reads is
 * never counted as mixed.
 */
export interface DatabaseSnapshot {
  seats: ReadonlySet<string>;
  captured: ReadonlySet<string>;
  issued: ReadonlySet<string>;
  capturedAgain: ReadonlySet<string>;
  seatsAgain: ReadonlySet<string>;
}

/**
 * Classifies every booking the snapshot shows in a mixed state (a booking fully present or fully absent in all
 * three databases is consistent and not listed). Each booking gets one class, the first rule below that matches.
 *
 * @example
 * const none = new Set<string>();
 * classifyMixedStates({ seats: new Set(['b1']), captured: none, issued: none, capturedAgain: none, seatsAgain: new Set(['b1']) });
 * // Map { 'b1' => 'seat-without-payment' }
 */
export function classifyMixedStates(snapshot: DatabaseSnapshot): Map<string, MixedState> {
  const mixed = new Map<string, MixedState>();
  // Seat read before payments: a seat with no payment at the later read was really in that state then.
  for (const id of snapshot.seats) {
    if (!snapshot.captured.has(id)) mixed.set(id, 'seat-without-payment');
  }
  // Going forward, a payment never exists without its seat, nor a ticket without its payment; so a payment
  // with no seat at a later read, or a ticket with no payment at a later read, is an undo in progress.
  for (const id of snapshot.capturedAgain) {
    if (!snapshot.seatsAgain.has(id) && !mixed.has(id)) mixed.set(id, 'refund-pending');
  }
  for (const id of snapshot.issued) {
    if (!snapshot.capturedAgain.has(id) && !mixed.has(id)) mixed.set(id, 'refund-pending');
  }
  // Payments read before tickets: a payment with no ticket at the later read was in that state then.
  for (const id of snapshot.captured) {
    if (!snapshot.issued.has(id) && !mixed.has(id)) mixed.set(id, 'payment-without-ticket');
  }
  return mixed;
}
