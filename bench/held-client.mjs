// Helper of bench/latency.mjs: fires N identical requests at once from its own process (so the server's process
// measures only itself) and prints, as JSON, how many were answered 200 and when each answer arrived (epoch ms).
// Usage: node bench/held-client.mjs <url> <n>
const [url, count] = process.argv.slice(2);
const n = Number(count);
const answers = await Promise.all(Array.from({ length: n }, () => fetch(url).then(async (r) => {
  await r.arrayBuffer();
  return { ok: r.status === 200, at: performance.timeOrigin + performance.now() };
}, () => ({ ok: false, at: performance.timeOrigin + performance.now() }))));
process.stdout.write(JSON.stringify({ ok: answers.filter((a) => a.ok).length, at: answers.map((a) => a.at) }));
