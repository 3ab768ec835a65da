export type BaselineKind = 'socket.io' | 'ws';

/** A running baseline broadcast server. */
export interface BaselineServer {
  kind: BaselineKind;
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts bench/baselines/<kind> as a child process (pinned to `cpu` when given) and resolves once it listens. */
export async function runBaseline(kind: BaselineKind, opts: { cpu?: 0 | 1 } = {}): Promise<BaselineServer> {
  throw new Error(`runBaseline not implemented yet (${kind} ${String(opts.cpu)})`);
}
