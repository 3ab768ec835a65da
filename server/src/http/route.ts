import type { RouteDef } from '@parley/protocol';
import type { NextFunction, Request, Response, Router } from 'express';
import type { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError, forbidden, fromZod, unauthorized } from '../errors.js';
import { authenticateBearer, type Actor } from '../modules/auth/authenticate.js';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type ActorOf<R extends RouteDef> = R['audience'] extends 'anyone' ? Actor | null : Actor;
type ResultOf<R extends RouteDef> = R extends { response: infer S extends z.ZodType } ? z.input<S> : void;

/** What a handler is given: validated input and the authenticated caller. */
export interface HandlerInput<R extends RouteDef> {
  body: Out<R['body']>;
  query: Out<R['query']>;
  params: Record<string, string>;
  actor: ActorOf<R>;
  req: Request;
  res: Response;
}

export type Handler<R extends RouteDef> = (input: HandlerInput<R>) => Promise<ResultOf<R>>;

/**
 * Mounts one contract route: authenticate → validate → handler → answer with the route's status.
 * Errors go to the one error handler (`http/errors.ts`), so handlers never catch.
 */
export function mount<R extends RouteDef>(
  router: Router,
  ctx: AppContext,
  def: R,
  handler: Handler<R>,
): void {
  router[def.method](def.path, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const actor = await authenticateBearer(ctx, req.headers.authorization);
      if (def.audience !== 'anyone' && !actor) throw unauthorized();
      if (def.audience === 'registered' && actor?.user.isGuest)
        throw forbidden('Guests cannot do that; register first');
      const body = def.body ? parse(def.body, req.body ?? {}, 'body') : undefined;
      const query = def.query ? parse(def.query, req.query, 'query') : undefined;
      const result = await handler({
        body,
        query,
        params: req.params as Record<string, string>,
        actor: actor as ActorOf<R>,
        req,
        res,
      } as HandlerInput<R>);
      if (def.location) res.location(locationOf(def.location, result));
      if (def.status === 204) res.status(204).end();
      else res.status(def.status).json(result);
    } catch (err) {
      next(err);
    }
  });
}

/**
 * A route's `location` template filled from its answer (see RouteDef.location): `{a.b}` placeholders become the
 * URL-encoded field, and a template that is a single placeholder is the field itself (a URL the answer carries).
 */
export function locationOf(template: string, result: unknown): string {
  const field = (name: string): string => {
    let v: unknown = result;
    for (const key of name.split('.')) v = (v as Record<string, unknown> | null | undefined)?.[key];
    if (typeof v !== 'string' || !v)
      throw new Error(`location template ${template}: no field ${name} in the answer`);
    return v;
  };
  const whole = /^\{([\w.]+)\}$/.exec(template);
  if (whole) return field(whole[1]!);
  return template.replace(/\{([\w.]+)\}/g, (_m, name: string) => encodeURIComponent(field(name)));
}

function parse(schema: z.ZodType, value: unknown, where: string): unknown {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod(r.error, where === 'body' ? '' : where);
  return r.data;
}

/** Path ids are opaque strings; anything that is not one of ours simply does not exist. */
export function pathId(value: string | undefined): number {
  if (!value || !/^[1-9][0-9]{0,15}$/.test(value)) throw new AppError('NOT_FOUND', 'Not found');
  return Number(value);
}
