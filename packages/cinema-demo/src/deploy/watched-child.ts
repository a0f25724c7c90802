import type { ChildProcess } from 'node:child_process';

/** A child process's recent output and whether it still runs. */
export interface WatchedChild {
  /** The last `keepChars` characters it wrote to stdout and stderr (for failure messages). */
  output(): string;
  running(): boolean;
  /** Resolves when it has exited (by itself or killed). */
  exited: Promise<void>;
}

/**
 * Watches a child spawned with piped stdout and stderr: keeps the tail of its output and tracks its exit.
 *
 * @example
 * const watched = watchChild(spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] }));
 * if (!watched.running()) throw new Error(watched.output());
 */
export function watchChild(child: ChildProcess, keepChars = 20_000): WatchedChild {
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-keepChars);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    exited,
  };
}
