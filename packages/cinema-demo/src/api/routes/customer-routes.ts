import { Router } from 'express';
import { customerOf } from '../../auth/auth-middleware.js';
import { publicBooking } from '../../booking/booking-record.js';
import type { BookingService } from '../../booking/booking-service.js';
import type { Databases } from '../../db/databases.js';
import * as paymentsSql from '../../db/payments-sql.js';
import { rows } from '../../db/statement.js';
import { HttpError } from '../http-error.js';
import { bookingBody, idempotencyKeyOf, parse, uuidParam } from '../validation.js';

/** Routes that act as the signed-in customer (mounted behind `requireCustomer`). */
export function customerRoutes(o: { dbs: Databases; service: BookingService; maxSeats: number }): Router {
  const router = Router();
  const body = bookingBody(o.maxSeats);

  router.get('/api/me', async (req, res) => {
    const customerId = customerOf(req);
    const [customer] = await rows(o.dbs.payments, paymentsSql.getCustomer(customerId));
    if (!customer) throw new HttpError(404, 'customer-not-found', 'your customer record no longer exists');
    const payments = await rows(o.dbs.payments, paymentsSql.paymentsOfCustomer(customerId, 50));
    res.json({ customer, payments });
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
    // 201 for a new booking attempt (whatever its outcome), 200 for the answer to a retry; still running: 202.
    const status = booking.status === 'pending' ? 202 : replayed ? 200 : 201;
    res.status(status).json({ booking: publicBooking(booking) });
  });

  router.get('/api/bookings/:bookingId', async (req, res) => {
    const booking = await o.service.getOwn(customerOf(req), uuidParam(req, 'bookingId'));
    res.json({ booking: publicBooking(booking) });
  });

  router.get('/api/bookings/:bookingId/timeline', async (req, res) => {
    res.json({ events: await o.service.timelineOwn(customerOf(req), uuidParam(req, 'bookingId')) });
  });

  router.post('/api/bookings/:bookingId/cancel', async (req, res) => {
    const booking = await o.service.cancel(customerOf(req), uuidParam(req, 'bookingId'));
    res.json({ booking: publicBooking(booking) });
  });
  return router;
}
