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

// rtcgw's configuration for a benchmark, all on loopback: the WebSocket limits raised so the load
// is never refused, the P-CSCF reached over `transport` from a listener of that transport.
// `media` is extra YAML for the media section (indented two spaces).
function rtcgwYaml({ wsPort, sipPort, pcscfPort, metricsPort, transport = 'udp', logLevel = 'warn',
  media = '' }) {
  return `websocket:
  listen: ["ws://127.0.0.1:${wsPort}"]
  allowed_origins: ["*"]
  max_connections: 100000
  max_connections_per_ip: 100000
  connection_rate_per_ip: 100000
  document_root: ""
sip:
  listen: ["${transport}://127.0.0.1:${sipPort}"]
  pcscf: "sip:127.0.0.1:${pcscfPort};transport=${transport}"
media:
  address: 127.0.0.1
${media}log:
  level: ${logLevel}
metrics:
  listen: "http://127.0.0.1:${metricsPort}"
`;
}

module.exports = { track, log, pct, rtcgwYaml };
