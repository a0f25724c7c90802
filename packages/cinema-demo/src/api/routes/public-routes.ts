import { Router } from 'express';
import type { Databases } from '../../db/databases.js';
import * as seatsSql from '../../db/seats-sql.js';
import { rows } from '../../db/statement.js';
import { HttpError } from '../http-error.js';
import { intParam } from '../validation.js';

/** Routes anyone may call: health, screenings and seat maps. */
export function publicRoutes(dbs: Databases): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const checks = await Promise.allSettled([
      dbs.seats.query('SELECT 1'),
      dbs.payments.query('SELECT 1'),
      dbs.tickets.query('SELECT 1'),
    ]);
    const [seats, payments, tickets] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ok = checks.every((c) => c.status === 'fulfilled');
    res
      .status(ok ? 200 : 503)
      .json({ status: ok ? 'ok' : 'degraded', databases: { seats, payments, tickets } });
  });
  router.get('/api/screenings', async (_req, res) => {
    res.json({ screenings: await rows(dbs.seats, seatsSql.listScreenings()) });
  });
  router.get('/api/screenings/:screeningId', async (req, res) => {
    const id = intParam(req, 'screeningId');
    const [screening] = await rows(dbs.seats, seatsSql.getScreening(id));
    if (!screening) throw new HttpError(404, 'screening-not-found', `screening ${id} does not exist`);
    res.json({ screening, seats: await rows(dbs.seats, seatsSql.seatMap(id)) });
  });
  return router;
}
