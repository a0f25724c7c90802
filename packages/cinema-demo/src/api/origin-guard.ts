import type { RequestHandler } from 'express';
import { HttpError } from './http-error.js';

/**
 * CORS limited to the app's own origin: that origin gets the CORS headers (with credentials); any other
 * origin gets none, and its state-changing requests are refused outright (a second guard against CSRF next to
 * the SameSite cookie).
 */
export function originGuard(allowedOrigin: string): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (!origin) return next();
    const sameHost = origin === `${req.protocol}://${req.get('host')}`;
    if (origin === allowedOrigin || sameHost) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE');
        res.setHeader(
          'Access-Control-Allow-Headers',
          'Content-Type, Idempotency-Key, Authorization, X-CSRF-Token',
        );
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
      return next();
    }
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    next(new HttpError(403, 'origin-not-allowed', `requests from ${origin} are not allowed`));
  };
}
