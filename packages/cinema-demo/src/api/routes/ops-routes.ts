import { Router } from 'express';
import type { OperationsView } from '../../booking/operations-view.js';
import type { ApiMetrics } from '../metrics.js';

/** Operator-only routes (mounted behind `requireOperator`): the transactions view and the metrics. */
export function opsRoutes(o: { view: OperationsView; metrics: ApiMetrics }): Router {
  const router = Router();
  router.get('/api/ops/transactions', async (req, res) => {
    const raw = Number(req.query.limit ?? 50);
    const limit = Number.isInteger(raw) && raw > 0 && raw <= 500 ? raw : 50;
    res.json(await o.view.transactions(limit));
  });
  router.get('/metrics', async (_req, res) => {
    res.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
  return router;
}
