import { Router } from 'express';
import { customerOf } from '../../auth/auth-middleware.js';
import { publicBooking } from '../../booking/booking-record.js';
import type { BookingService } from '../../booking/booking-service.js';
import type { Databases } from '../../db/databases.js';
import * as paymentsSql from '../../db/payments-sql.js';
import { rows } from '../../db/statement.js';
import type { WaitLimits } from '../../db/wait-limits.js';
import type { WaterfallStore } from '../../observability/waterfall-store.js';
import { topUpWallet } from '../../wallet/top-up.js';
import { HttpError } from '../http-error.js';
import { bookingBody, idempotencyKeyOf, parse, topUpBody, uuidParam } from '../validation.js';

export interface CustomerRoutesOptions {
  dbs: Databases;
  service: BookingService;
  waterfalls: Pick<WaterfallStore, 'get'>;
  maxSeats: number;
  /** Demo top-ups: most per customer per 24 hours, and the most a wallet may hold. */
  topUpCentsPerDay: number;
  limits: WaitLimits;
}

/** Routes that act as the signed-in customer (mounted behind `requireCustomer`). */
export function customerRoutes(o: CustomerRoutesOptions): Router {
  const router = Router();
  const body = bookingBody(o.maxSeats);
  const topUp = topUpBody(o.topUpCentsPerDay);

  router.get('/api/me', async (req, res) => {
    const customerId = customerOf(req);
    const [customer] = await rows(o.dbs.payments, paymentsSql.getCustomer(customerId));
    if (!customer) throw new HttpError(404, 'customer-not-found', 'your customer record no longer exists');
    const payments = await rows(o.dbs.payments, paymentsSql.paymentsOfCustomer(customerId, 50));
    res.json({ customer, payments });
  });

  router.post('/api/me/top-up', async (req, res) => {
    const { amountCents } = parse(topUp, req.body, 'top-up request');
    const customerId = customerOf(req);
    res.status(201).json({
      topUp: await topUpWallet(o.dbs.payments, o.limits, customerId, amountCents, o.topUpCentsPerDay),
    });
  });

  router.get('/api/bookings', async (req, res) => {
    const bookings = await o.service.listOwn(customerOf(req));
    res.json({ bookings: bookings.map(publicBooking) });
  });

  router.post('/api/bookings', async (req, res) => {
    const customerId = customerOf(req);
    // Header first: a request without a valid key is refused before anything is read or written.
    const key = idempotencyKeyOf(req);
    const request = parse(body, req.body, 'booking request');
    const { booking, replayed } = await o.service.book(customerId, request, key);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    // The status alone tells success from refusal (a client that reads nothing else must not take a refusal
    // for a booking): 409 for a refused booking (the rejected booking, with its reason, in the body; the same
    // for a retry), 201 for a new confirmed one, 200 for a retry answered; still running: 202.
    const status =
      booking.status === 'pending' ? 202 : booking.status === 'rejected' ? 409 : replayed ? 200 : 201;
    res.locals.bookingId = booking.id;
    res.status(status).json({ booking: publicBooking(booking) });
  });

  router.get('/api/bookings/:bookingId', async (req, res) => {
    const booking = await o.service.getOwn(customerOf(req), uuidParam(req, 'bookingId'));
    res.locals.bookingId = booking.id;
    res.json({ booking: publicBooking(booking) });
  });

  router.get('/api/bookings/:bookingId/timeline', async (req, res) => {
    res.json({ events: await o.service.timelineOwn(customerOf(req), uuidParam(req, 'bookingId')) });
  });

  // The booking's own first (404 for someone else's), then its timings: the booking's and its cancellation's.
  router.get('/api/bookings/:bookingId/waterfall', async (req, res) => {
    const booking = await o.service.getOwn(customerOf(req), uuidParam(req, 'bookingId'));
    res.json({ waterfalls: await o.waterfalls.get(booking.id) });
  });

  router.post('/api/bookings/:bookingId/cancel', async (req, res) => {
    const booking = await o.service.cancel(customerOf(req), uuidParam(req, 'bookingId'));
    res.locals.bookingId = booking.id;
    res.json({ booking: publicBooking(booking) });
  });
  return router;
}
