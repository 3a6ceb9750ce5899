'use strict';
// What the benchmark drivers (media_bench.js, sip_bench.js) share: the children they start,
// stopped by PID when the driver exits or is signalled; a timestamped log on stderr; percentiles.
const children = new Set();

// Remembers `child` (a ChildProcess) until it exits; returns it.
function track(child) {
  children.add(child.pid);
  child.on('exit', () => children.delete(child.pid));
  return child;
}

function killChildren() {
  for (const pid of children) {
    try { process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ }
  }
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}

const log = (...a) => process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${a.join(' ')}\n`);

// The q-quantile (0..1) of an ascending array, NaN when empty.
function pct(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

module.exports = { track, log, pct };
