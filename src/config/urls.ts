// Public addresses derived from the configuration. Pure.

import type { Config } from './schema.js';

/** What an instructor pastes into OBS → Settings → Stream → Server (Service: Custom). */
export function obsServerUrl(config: Config): string {
  const host = config.publicHost.includes(':') && !config.publicHost.startsWith('[') ? `[${config.publicHost}]` : config.publicHost;
  return `rtmp://${host}:${config['rtmp.port']}/live`;
}

/** The base URL learners and the LMS reach this box by: publicUrl, or http://<publicHost>:<http.port>. */
export function publicBaseUrl(config: Config): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.publicHost.includes(':') && !config.publicHost.startsWith('[') ? `[${config.publicHost}]` : config.publicHost;
  return `http://${host}:${config['http.port']}`;
}


/** "host:port" or "[v6]:port" (a checked config value) → its parts; undefined for ''. */
export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  return m ? { host: m[1] ?? m[2]!, port: Number(m[3]) } : undefined;
}
