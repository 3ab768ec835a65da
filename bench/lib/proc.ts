/** CPU time (user + system, seconds) and resident set size (bytes) of one process. */
export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
  /** When the sample was taken, ms (performance.now()). */
  at: number;
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status. */
export async function sampleProcess(pid: number): Promise<ProcessSample> {
  throw new Error(`sampleProcess not implemented yet (${pid})`);
}
