/** Whether a child process still runs, and a promise of its end (exit or a failed spawn). */
import type { ChildProcess } from 'node:child_process';

export interface ChildLife {
  readonly alive: boolean;
  readonly exited: Promise<void>;
}

export function watchExit(child: ChildProcess): ChildLife {
  let alive = true;
  const exited = new Promise<void>((resolve) => {
    const end = () => {
      alive = false;
      resolve();
    };
    child.once('exit', end);
    child.once('error', end);
  });
  return {
    get alive() {
      return alive;
    },
    exited,
  };
}
