import fs from 'node:fs';

/** Readers of Linux /proc shared by the tests, the bench and the soak (a process gone meanwhile is skipped). */

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The command line, arguments joined by spaces. */
  args: string;
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], pgrp [2], utime [11], stime [12]). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process on the machine. */
export function listProcesses(): ProcessInfo[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      const pid = Number(d);
      const fields = statFields(pid);
      try {
        const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
        return fields ? [{ pid, ppid: Number(fields[1]), args }] : [];
      } catch {
        return [];
      }
    });
}

/** The program a process runs, without its directory (`/usr/bin/ffmpeg` → `ffmpeg`). */
export function programOf(p: ProcessInfo): string {
  return p.args.split(' ')[0]!.split('/').pop()!;
}

/** Every descendant of `root` (children, their children, ...), not `root` itself. */
export function descendantsOf(root: number, all = listProcesses()): ProcessInfo[] {
  const inside = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!inside.has(p.ppid) || inside.has(p.pid)) continue;
      inside.add(p.pid);
      grew = true;
    }
  }
  return all.filter((p) => p.pid !== root && inside.has(p.pid));
}

/** The process group a process belongs to (/proc/<pid>/stat's pgrp), undefined once it is gone. */
export function processGroupOf(pid: number): number | undefined {
  const pgrp = statFields(pid)?.[2];
  return pgrp === undefined ? undefined : Number(pgrp);
}

/** Whether a process still runs (exists and is not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** Resident memory in MB (one decimal). */
export function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) used so far by a process and its direct children still running. */
export function cpuSeconds(pid: number): number {
  const tick = 100; // USER_HZ on Linux
  const one = (p: number) => {
    const f = statFields(p);
    return f ? (Number(f[11]) + Number(f[12])) / tick : 0;
  };
  let children: number[] = [];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* gone */
  }
  return one(pid) + children.reduce((s, c) => s + one(c), 0);
}

/** SIGKILL every process whose command line mentions `text` (children orphaned by a killed parent). */
export function killProcessesUsing(text: string): void {
  for (const p of listProcesses()) {
    if (p.pid === process.pid || !p.args.includes(text)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** The socket inodes a process holds open (its /proc/<pid>/fd links to `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** The TCP ports (v4 and v6) a process listens on, read from /proc/net/tcp{,6} by its socket inodes. */
export function listeningTcpPorts(pid: number): number[] {
  const mine = socketInodes(pid);
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    fs
      .readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      // st 0A is LISTEN; the inode is the 10th field
      .filter((f) => f[3] === '0A' && mine.has(f[9]!))
      .map((f) => parseInt(f[1]!.split(':')[1]!, 16)),
  );
}
