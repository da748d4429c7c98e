import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Queues } from '../../queues/registry';
import { parseConfig } from '../../src/config/load';
import { aiMetrics } from '../../src/ai/ai-metrics';
import { queueDepthRegistry } from '../../src/control/metrics-page';
import { createMetrics } from '../../src/metrics';
import { PROJECT_ROOT } from '../../src/paths';

const GRAFANA = path.join(PROJECT_ROOT, 'docker', 'grafana');

interface Panel {
  title?: string;
  type: string;
  datasource?: { uid?: string };
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard, with the title of its panel. */
function expressions(dashboard: { panels: Panel[]; templating?: { list: { query?: unknown }[] } }): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? p.type, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) if (typeof v.query === 'string') out.push({ panel: 'variables', expr: v.query });
  return out;
}

/** Names of the series a process exposes: counters and gauges as named, histograms with their suffixes. */
function exposedSeries(): Set<string> {
  const metrics = createMetrics('test', 'test-1');
  aiMetrics(metrics); // registered by the processes that make AI replies
  // The control server reads the queue depths into a registry of their own; nothing is read until a scrape.
  const depth = queueDepthRegistry(parseConfig('', 'test.yaml', {}), {} as Queues);
  const names = new Set<string>();
  // The metric objects as registered (no collect: that would read the queues from Redis).
  for (const m of [...metrics.registry.getMetricsAsArray(), ...depth.getMetricsAsArray()] as unknown as { name: string; type: string }[]) {
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    if (m.type === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe('Grafana dashboard (docker/grafana)', () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, 'dashboards', 'idolcast.json'), 'utf8'));

  it('queries only metric names idolcast exposes', () => {
    const exposed = exposedSeries();
    const exprs = expressions(dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    const unknown = exprs.flatMap(({ panel, expr }) => (expr.match(/\bidolcast_[a-z0-9_]+/g) ?? []).filter((n) => !exposed.has(n)).map((n) => `${panel}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('covers latency, upstream failures, reconnects, shed and stale, and the AI replies', () => {
    const all = expressions(dashboard).map((e) => e.expr).join('\n');
    for (const name of [
      'idolcast_chat_to_speech_ready_seconds_bucket', 'idolcast_chat_to_on_air_seconds_bucket', 'idolcast_tts_fallbacks_total',
      'idolcast_obs_connect_attempts_total', 'idolcast_chat_source_reconnects_total', 'idolcast_destination_reconnects_total',
      'idolcast_chat_shed_total', 'idolcast_speech_dropped_total', 'idolcast_queue_jobs', 'idolcast_destination_on_air',
      'idolcast_ai_time_to_first_token_seconds_bucket', 'idolcast_ai_time_to_first_sentence_seconds_bucket', 'idolcast_ai_replies_total', 'idolcast_ai_skipped_total',
      'idolcast_ai_blocked_total', 'idolcast_ai_dumped_total', 'idolcast_ai_fallbacks_total', 'idolcast_ai_tokens_total',
    ]) expect(all).toContain(name);
  });

  it('every panel uses the provisioned Prometheus data source, and the provisioning files agree', () => {
    const datasources = YAML.parse(fs.readFileSync(path.join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8'));
    const uid = datasources.datasources[0].uid as string;
    const panels = (dashboard.panels as Panel[]).filter((p) => p.type !== 'row');
    expect(panels.every((p) => p.datasource?.uid === uid)).toBe(true);
    const providers = YAML.parse(fs.readFileSync(path.join(GRAFANA, 'provisioning', 'dashboards', 'idolcast.yaml'), 'utf8'));
    expect(providers.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    // Grafana needs unique panel ids.
    const ids = (dashboard.panels as { id: number }[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
