import type { RequestHandler } from 'express';

/**
 * A handler built on first use: for routes whose set-up is costly and rarely needed (generating the API documents
 * loads zod-openapi and walks every schema), so that it is paid by the first visitor of those routes instead of by
 * every start. A failed load is retried at the next request.
 */
export function lazyRouter(load: () => Promise<RequestHandler>): RequestHandler {
  let loading: Promise<RequestHandler> | undefined;
  return (req, res, next) => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    loading.then((handler) => handler(req, res, next), next);
  };
}
