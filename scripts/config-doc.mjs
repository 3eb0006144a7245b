// Rewrites the key table of docs/configuration.md from the schema and config/default.json (run after adding a key;
// test/config.test.ts checks every key is documented). Usage: npm run build && node scripts/config-doc.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { flatten } from '../dist/config/load.js';
import { SCHEMA, envName } from '../dist/config/schema.js';

const defaults = flatten(JSON.parse(readFileSync('config/default.json', 'utf8')));
let table = '| key | environment variable | default | allowed | description |\n|---|---|---|---|---|\n';
for (const [key, s] of Object.entries(SCHEMA)) {
  const allowed = s.type === 'enum' ? s.values.join(' \\| ') : (s.type === 'integer' ? `integer ${s.min}–${s.max}` : s.type) + (s.secret ? ' (secret)' : '');
  table += `| \`${key}\` | \`${envName(key)}\` | \`${JSON.stringify(defaults.get(key))}\` | ${allowed} | ${s.description.replace(/\|/g, '\\|')} |\n`;
}
const doc = readFileSync('docs/configuration.md', 'utf8');
const at = doc.indexOf('| key | environment variable');
writeFileSync('docs/configuration.md', doc.slice(0, at) + table);
console.log(`docs/configuration.md: ${Object.keys(SCHEMA).length} keys`);
