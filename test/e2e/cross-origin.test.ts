/// <reference lib="dom" />
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { TestFleet, eventually } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The attacker's page, served from another loopback origin: every way a page can poke the control server. */
function attackerPage(target: string, addPath: string): string {
  const forged = JSON.stringify({ name: 'chat', data: { platform: 'twitch', channel: 'main', text: '!scene pwned', user: { roles: ['broadcaster'] } } });
  const chat = JSON.stringify({ user: 'mallory', text: 'pwned' });
  return `<!doctype html><html><body>
<iframe name="board" src="${target}/admin/queues"></iframe>
<iframe name="live" src="${target}/"></iframe>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" enctype="text/plain" target="sink1" action="${target}${addPath}"><input name='${forged.slice(0, -1)}, "x": "' value='"}'></form>
<form id="f2" method="POST" enctype="text/plain" target="sink2" action="${target}/api/chat"><input name='${chat.slice(0, -1)}, "x": "' value='"}'></form>
<script>
window.attack = async () => {
  const tries = [
    fetch(${JSON.stringify(target + addPath)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(forged)} }),
    fetch(${JSON.stringify(target + addPath)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(forged)} }),
    fetch(${JSON.stringify(target + '/api/chat')}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(chat)} }),
    fetch(${JSON.stringify(target + '/api/chat')}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(chat)} }),
  ];
  const results = await Promise.allSettled(tries);
  document.getElementById('f1').submit();
  return results.map((r) => r.status);
};
window.attack2 = () => document.getElementById('f2').submit();
</script></body></html>`;
}

describe('the control server against pages of other origins (Chromium)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  let attacker: http.Server | undefined;
  afterEach(async () => {
    await browser?.close();
    await new Promise((r) => (attacker ? attacker.close(r) : r(null)));
    await fleet?.close();
  });

  it('a page on another loopback origin can neither add jobs, post chat, nor frame the dashboard; a rebound name gets 421', async () => {
    fleet = new TestFleet();
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    await control.waitForLog('control server listening');
    const target = `http://127.0.0.1:${port}`;
    const addPath = `/admin/queues/api/queues/${encodeURIComponent(fleet.queues.queue('chat').name)}/add`;

    attacker = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attackerPage(target, addPath)));
    await new Promise<void>((r) => attacker!.listen(0, '127.0.0.2', r));
    const attackerUrl = `http://127.0.0.2:${(attacker.address() as AddressInfo).port}/`;

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP rebind.attacker.example 127.0.0.1'] });
    const page = await browser.newPage();
    // What the control server refused, by its log (the page itself cannot see opaque answers).
    const refused = (msg: string) => control.lines.filter((l) => l.msg === msg).map((l) => `${String(l.method)} ${String(l.path)}`);
    await page.goto(attackerUrl);

    // The dashboard in a frame never renders: the frame is a cross-site request (403) and the answer forbids framing.
    const shows = async (name: string, selector: string) => {
      const frame = await (await page.$(`iframe[name=${name}]`))!.contentFrame();
      return (await frame?.evaluate((sel) => Boolean(document.querySelector(sel)), selector).catch(() => false)) ?? false;
    };
    expect(await shows('board', '#root')).toBe(false);
    // The live page opens from a link on any site, but no site can frame it (frame-ancestors 'none').
    expect(await shows('live', '#chat')).toBe(false);
    await eventually(async () => (refused('cross-site request refused').includes('GET /admin/queues') ? true : undefined), 'the framed dashboard refused');

    // fetch (no-cors and CORS) and form posts to Bull Board's job-add and to the chat API.
    await page.evaluate(() => (window as unknown as { attack: () => Promise<string[]> }).attack());
    await page.evaluate(() => (window as unknown as { attack2: () => void }).attack2());
    await eventually(
      async () => {
        const seen = refused('cross-site request refused');
        return seen.filter((r) => r === `POST ${addPath}`).length >= 2 && seen.filter((r) => r === 'POST /api/chat').length >= 2 ? true : undefined;
      },
      'every attempt refused by the server',
    );
    expect(await fleet.queues.queue('chat').count()).toBe(0);

    // DNS rebinding: the attacker's name now resolves to the control server; the server refuses the name.
    const rebound = await page.goto(`http://rebind.attacker.example:${port}/admin/queues`);
    expect(rebound?.status()).toBe(421);
    // Its log line comes through a pipe, after the answer: wait for it.
    await control.waitForLog('request for another host refused', { method: 'GET', path: '/admin/queues' });
    const sameOriginNow = await page.evaluate(async (path) => (await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"chat","data":{}}' })).status, addPath);
    expect(sameOriginNow).toBe(421);
    expect(await fleet.queues.queue('chat').count()).toBe(0);

    // The operator's own page on the real origin still works.
    await page.goto(`${target}/`);
    const own = await page.evaluate(async () => (await fetch('/api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', text: 'hi' }) })).status);
    expect(own).toBe(202);
    expect(await fleet.queues.queue('chat').count()).toBe(1);
  });
});
