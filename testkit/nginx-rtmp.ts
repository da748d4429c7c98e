import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freeLoopbackPort } from '../src/ports';
import { sleep } from '../src/time';

export const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/**
 * A real nginx with Debian's rtmp module on a loopback port, standing in for a platform's RTMP
 * ingest (which, like the platforms, drops a publisher that stops sending). It can be stopped and started again on the same port (a destination going down).
 */
export class NginxRtmp {
  private child?: ChildProcess;
  port = 0;

  constructor(private readonly dir: string) {}

  /** `rtmp://127.0.0.1:PORT/live`: publish to `<url>/<stream key>`, play the same. */
  get url(): string {
    return `rtmp://127.0.0.1:${this.port}/live`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freeLoopbackPort();
    fs.mkdirSync(this.dir, { recursive: true });
    const conf = path.join(this.dir, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `load_module ${RTMP_MODULE};
daemon off;
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/error.log;
events { worker_connections 256; }
rtmp { server { listen 127.0.0.1:${this.port}; chunk_size 4096;
  application live { live on; record off; drop_idle_publisher 3s; } } }
`,
    );
    // Its own process group, so stopping it takes its worker processes too.
    this.child = spawn('nginx', ['-c', conf, '-p', this.dir], { stdio: 'ignore', detached: true });
    const deadline = Date.now() + 10_000;
    while (!(await listening(this.port))) {
      if (Date.now() > deadline) throw new Error(`nginx did not listen on ${this.port}: ${fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8').slice(-500)}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGKILL'); // a crashed ingest, not a polite one
    await exited;
    const deadline = Date.now() + 5000;
    while ((await listening(this.port)) && Date.now() < deadline) await sleep(50);
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
