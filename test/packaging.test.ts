// The service files a school installs: the systemd unit is valid and well hardened (checked with this machine's
// systemd-analyze, offline), and the Dockerfile keeps the shape the README promises (it cannot be built here).

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

const UNIT = join(ROOT, 'systemd', 'kmk-live.service');
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });

t.test('the systemd unit passes systemd-analyze verify and rates "OK" or better in systemd-analyze security', { skip: analyze.status === 0 ? false : 'systemd-analyze is not installed' }, async (t) => {
  const dir = testdir(t);
  const unit = join(dir, 'kmk-live.service');
  copyFileSync(UNIT, unit);
  const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  t.equal(verify.status, 0, `verify exit 0 ${verify.stderr}`);
  t.equal(verify.stderr.trim(), '', 'no warnings');
  const sec = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
  const m = /Overall exposure level for kmk-live\.service: ([\d.]+) (\w+)/.exec(sec.stdout);
  t.ok(m, 'systemd-analyze printed an exposure score');
  const score = Number(m?.[1]);
  t.ok(score <= 2.0, `exposure ${score} ${m?.[2]} (the README records 1.5 OK)`);
  t.match(m?.[2], /^(OK|SAFE|PERFECT)$/);
});

t.test('the Dockerfile runs as a non-root user with a health check and a graceful stop signal', async (t) => {
  const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const users = [...df.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  t.ok(users.length > 0 && users.every((u) => u !== 'root' && u !== '0'), `USER ${users.join(', ')}`);
  t.match(df, /^HEALTHCHECK .*\n.*\/healthz/m);
  t.match(df, /^STOPSIGNAL SIGTERM$/m);
  t.match(df, /apt-get install -y --no-install-recommends ffmpeg/, 'Debian\'s ffmpeg, not a downloaded binary');
});
