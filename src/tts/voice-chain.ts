/** A voice and the voices it falls back to, in order, each once (following fallbacks of fallbacks). */
export function voiceChain(voices: Record<string, { fallback: string[] }>, name: string): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n) || !Object.hasOwn(voices, n)) return;
    out.push(n);
    for (const f of voices[n]!.fallback) visit(f);
  };
  visit(name);
  return out;
}
