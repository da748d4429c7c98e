import { TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

const bits = (amount: number) => ({ paid: { amount, currency: 'bits' } });
const FORBIDDEN = /badword|evil|spam|b'adw3|\[\[/i;

describe('banned words and links on paid messages and engine markup (real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());
  const ttsTexts = async () => (await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting', 'delayed'], 0, -1)).map((j) => (j.data as { text: string }).text);

  it('a paid message: the thank-you airs, its text with a banned word is neither spoken nor shown, links are stripped', async () => {
    fleet = new TestFleet({ chat: { filter: { bannedWords: ['badword'] } } });
    const { pipeline, published } = testPipeline(fleet);
    const out = await Promise.all([
      pipeline.accept(chatEvent('cheer1 you are a badword www.evil-spam.com', { ...bits(1), user: { login: 'payer' } })),
      pipeline.accept(chatEvent('cheer100 great stream www.evil-spam.com evil-spam.com/x', { ...bits(100), user: { login: 'fan' } })),
      pipeline.accept(chatEvent("cheer5 you are a [[b'adw3:d]]", { ...bits(5), user: { login: 'phoneme' } })),
      pipeline.accept(chatEvent('cheer5 you are a bad<b>word', { ...bits(5), user: { login: 'tagger' } })),
      pipeline.accept(chatEvent('what a badword stream', { kind: 'superchat', paid: { amount: 5, currency: 'USD' }, user: { login: 'superfan' } })),
    ]);
    expect(out).toEqual([
      { decision: 'reaction', reason: 'paid (text withheld: banned word)' },
      { decision: 'reaction', reason: 'paid' },
      { decision: 'reaction', reason: 'paid' },
      { decision: 'reaction', reason: 'paid (text withheld: banned word)' },
      { decision: 'reaction', reason: 'paid (text withheld: banned word)' },
    ]);
    const texts = await ttsTexts();
    // Paying is acknowledged, every time; nothing of the banned word, the phonemes or the link airs.
    expect(texts.sort()).toEqual(['fan cheered 100 bits: cheer100 great stream', 'payer cheered 1 bits', 'phoneme cheered 5 bits: cheer5 you are a', 'superfan sent 5 USD', 'tagger cheered 5 bits']);
    // …nor shows on the overlay.
    const shown = published.filter((e) => e.type === 'highlight' || e.type === 'banner');
    expect(shown).toHaveLength(5);
    for (const e of shown) expect(JSON.stringify(e)).not.toMatch(FORBIDDEN);
    expect(shown.find((e) => e.user === 'fan')).toMatchObject({ type: 'highlight', text: 'cheer100 great stream' });
    expect(shown.find((e) => e.user === 'superfan')).not.toHaveProperty('text');
  });

  it('links: block withholds a paid message text with a link; with no paid reaction a withheld text is rejected, not spoken as chat', async () => {
    fleet = new TestFleet({ chat: { filter: { links: 'block', bannedWords: ['badword'] }, reactions: { paid: undefined } } });
    const { pipeline, published } = testPipeline(fleet);
    const out = await Promise.all([
      pipeline.accept(chatEvent('cheer1 go to www.evil-spam.com', { ...bits(1), user: { login: 'linker' } })),
      pipeline.accept(chatEvent('cheer1 you are a badword', { ...bits(1), user: { login: 'payer' } })),
      pipeline.accept(chatEvent('cheer1 lovely stream', { ...bits(1), user: { login: 'fan' } })),
    ]);
    expect(out).toEqual([
      { decision: 'rejected', reason: 'link' },
      { decision: 'rejected', reason: 'banned word' },
      { decision: 'spoken', reason: 'plain message' },
    ]);
    expect(await ttsTexts()).toEqual(['cheer1 lovely stream']);
    expect(published.map((e) => e.user)).toEqual(['fan']);
  });

  it('plain chat and commands: the filter checks the text without engine markup, which is what is spoken', async () => {
    fleet = new TestFleet({ chat: { filter: { bannedWords: ['badword'] } } });
    const { pipeline } = testPipeline(fleet);
    const out = await Promise.all([
      pipeline.accept(chatEvent("you are a [[b'adw3:d]]", { user: { login: 'a' } })),
      pipeline.accept(chatEvent('you are a bad<b>word', { user: { login: 'b' } })),
      pipeline.accept(chatEvent("!say hi [[b'adw3:d]] <speak>there</speak>", { user: { login: 'c' } })),
      pipeline.accept(chatEvent("[[b'adw3:d]]", { user: { login: 'd' } })),
    ]);
    expect(out).toEqual([
      { decision: 'spoken', reason: 'plain message' },
      { decision: 'rejected', reason: 'banned word' },
      { decision: 'command', reason: 'say' },
      { decision: 'ignored', reason: 'empty after normalisation' },
    ]);
    expect((await ttsTexts()).sort()).toEqual(['hi there', 'you are a']);
  });

  it('a display name airs too: one with a banned word or a link is "someone", markup is not spoken', async () => {
    fleet = new TestFleet({ chat: { filter: { bannedWords: ['badword'] } } });
    const { pipeline, published } = testPipeline(fleet);
    await Promise.all([
      pipeline.accept(chatEvent('cheer1 hi', { ...bits(1), user: { login: 'a', displayName: 'Mr Badword' } })),
      pipeline.accept(chatEvent('', { kind: 'follow', user: { login: 'b', displayName: 'www.evil-spam.com' } })),
      pipeline.accept(chatEvent('', { kind: 'follow', user: { login: 'c', displayName: "Kim[[b'adw3:d]]" } })),
    ]);
    expect((await ttsTexts()).sort()).toEqual(['Welcome, Kim! Thanks for the follow!', 'Welcome, someone! Thanks for the follow!', 'someone cheered 1 bits: cheer1 hi']);
    // The overlay shows names as text (markup means nothing there), never a banned word or a link.
    expect(published.map((e) => e.user).sort()).toEqual(["Kim[[b'adw3:d]]", 'someone', 'someone']);
  });
});
