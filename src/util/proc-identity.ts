/**
 * Who a process is, beyond its pid: a pid is reused once its process is gone, so a pid
 * alone never proves that a process is the one we started. Its start time (field 22 of
 * `/proc/<pid>/stat`, clock ticks since boot) with the kernel's boot id is unique for
 * the life of the machine. Node has no pidfd: this is the proof a resume can have.
 */
import { readFileSync } from 'node:fs';

/** `<kernel boot id>/<start time>` of `pid`; null where /proc cannot tell (not Linux, or the process is gone). */
export function processIdentity(pid: number, proc = '/proc'): string | null {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, the fields after the last ')' do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    if (start === undefined || !/^\d+$/.test(start)) return null;
    let boot = '';
    try {
      boot = readFileSync(`${proc}/sys/kernel/random/boot_id`, 'utf8').trim();
    } catch {
      // no boot id: the start time alone
    }
    return `${boot}/${start}`;
  } catch {
    return null;
  }
}

/**
 * What `pid` is now, against the identity journalled when it was started:
 * `ours` (the same process), `stranger` (the pid was reused), `gone`, or `unproven`
 * (alive, but nothing to compare: no identity journalled, or no /proc).
 */
export function whoIs(pid: number, journalled: string | null, proc = '/proc'): 'ours' | 'stranger' | 'gone' | 'unproven' {
  if (!alive(pid, proc)) return 'gone';
  const now = processIdentity(pid, proc);
  if (journalled === null || now === null) return 'unproven';
  return now === journalled ? 'ours' : 'stranger';
}

/** Whether a process lives (a zombie nobody reaped counts as gone). */
function alive(pid: number, proc: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
