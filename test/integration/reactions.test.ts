import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/load';
import { TestFleet, runCli } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

describe('reactions under a streamer\'s own config', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('a config file without a reactions section still thanks a Super Chat, a cheer and a gift', async () => {
    fleet = new TestFleet();
    // A user's file: its own channel and Redis prefix, nothing about reactions.
    const own = { redis: { prefix: fleet.prefix }, channels: { main: { live: { dir: path.join(fleet.dir, 'live') } } }, chat: { youtube: { enabled: false } } };
    fleet.config = parseConfig(YAML.stringify(own), 'streamer.yaml', { REDIS_URL: fleet.redisUrl });
    const { pipeline } = testPipeline(fleet);
    const out = await Promise.all([
      pipeline.accept(chatEvent('great stream', { platform: 'youtube', kind: 'superchat', paid: { amount: 5, currency: 'USD' }, user: { login: 'alice', displayName: 'Alice' } })),
      pipeline.accept(chatEvent('cheer100 hi', { paid: { amount: 100, currency: 'bits' }, user: { login: 'bob', displayName: 'Bob' } })),
      pipeline.accept(chatEvent('gifted 3 memberships', { platform: 'youtube', kind: 'gift', paid: { amount: 3, currency: 'memberships' }, user: { login: 'carol', displayName: 'Carol' } })),
    ]);
    expect(out.map((o) => o.decision)).toEqual(['reaction', 'reaction', 'reaction']);
    const texts = (await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting'], 0, -1)).map((j) => (j.data as { text: string }).text).sort();
    expect(texts).toEqual(['Alice sent 5 USD: great stream', 'Bob cheered 100 bits: cheer100 hi', 'Thank you for the gift, Carol!']);
  });

  it('`config check` warns, by name, about paid events a reactions section leaves unthanked', async () => {
    fleet = new TestFleet();
    const file = path.join(fleet.dir, 'no-thanks.yaml');
    fs.writeFileSync(file, YAML.stringify({ chat: { reactions: { follow: { say: 'hi {user}' } } } }));
    const bare = await runCli(['config', 'check'], { ...process.env, IDOLCAST_CONFIG: file });
    expect(bare.code).toBe(0);
    for (const kind of ['superchat', 'paid', 'gift', 'subscription']) expect(bare.stderr).toMatch(new RegExp(`warning: chat\\.reactions\\.${kind} is not set: .* will be ignored`));
    expect(bare.stderr).not.toMatch(/reactions\.follow/);

    // Without the section, the built-in thank-you lines apply: nothing to warn about.
    fs.writeFileSync(file, YAML.stringify({ chat: { speakPlainMessages: true } }));
    const builtIn = await runCli(['config', 'check'], { ...process.env, IDOLCAST_CONFIG: file });
    expect(builtIn.code).toBe(0);
    expect(builtIn.stderr).not.toMatch(/warning/);
  });
});
