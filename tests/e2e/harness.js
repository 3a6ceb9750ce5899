// What rtcgw's browser tests share: free ports, child processes stopped by PID, the IMS stand-in
// (Kamailio with demo/kamailio.cfg), rtcgw with a generated config, and Debian's Chromium spawned
// with the flags that WebRTC tests need, attached through the DevTools protocol.
//
// Meant to run inside a private network namespace (unshare --net, only lo up), where every port is
// free and nothing leaves the machine.
'use strict';

const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const SOURCE_DIR = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `promise`'s value, or null after `ms` (the timer is cleared, so it keeps no process alive).
function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Polls `check` (sync or async) until it returns a truthy value; throws after `ms`.
async function waitFor(what, check, ms = 10000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(every);
  }
}

// Ports handed out by this process: the kernel may give a port it just released again, and two
// listeners of one test (rtcgw's WebSocket and metrics) must not get the same one.
const handedOut = new Set();

async function freeTcpPort() {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address();
        server.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port not handed out already');
}

// A port free for both UDP and TCP (SIP listens on both).
async function freeSipPort() {
  for (let i = 0; i < 20; i++) {
    const port = await freeTcpPort();
    const ok = await new Promise((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.on('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port for SIP');
}

// Starts and tracks the test's processes; stop() ends each by its own PID (its process group, as
// each is started in one of its own: Kamailio and Chromium fork children).
class Processes {
  constructor(outDir) {
    this.outDir = outDir;
    this.list = [];
  }

  start(name, command, args, options = {}) {
    const logPath = path.join(this.outDir, `${name}.log`);
    const logFd = fs.openSync(logPath, 'w');
    const child = spawn(command, args, {
      stdio: ['ignore', logFd, logFd],
      detached: true,
      env: { ...process.env, ...(options.env || {}) },
      cwd: options.cwd || SOURCE_DIR,
    });
    fs.closeSync(logFd);
    const entry = { name, child, logPath, exit: null };
    entry.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        entry.exit = { code, signal };
        resolve(entry.exit);
      });
      child.on('error', (err) => {
        entry.exit = { code: null, signal: null, error: err.message };
        resolve(entry.exit);
      });
    });
    this.list.push(entry);
    return entry;
  }

  // Fails when a process the test needs has died.
  assertRunning(entry) {
    if (entry.exit) {
      throw new Error(`${entry.name} exited (${JSON.stringify(entry.exit)}):\n${tail(entry.logPath)}`);
    }
  }

  // SIGTERM to each process group, SIGKILL to what is left after `graceMs`.
  async stop(entry, graceMs = 5000) {
    const pid = entry.child.pid;
    if (pid === undefined) return entry.exit;  // never started
    let done = entry.exit;
    if (!done) {
      signalGroup(pid, 'SIGTERM');
      done = await within(entry.exited, graceMs);
    }
    signalGroup(pid, 'SIGKILL');  // a leader that hung, or children it left behind
    return done || { ...(await entry.exited), killed: true };
  }

  async stopAll() {
    for (const entry of [...this.list].reverse()) await this.stop(entry);
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// Sends an OPTIONS over UDP and resolves with the status line of the answer.
function sipPing(port, timeoutMs = 500) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); reject(new Error('no answer')); }, timeoutMs);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg.toString().split('\r\n')[0]);
    });
    sock.bind(0, '127.0.0.1', () => {
      const local = sock.address().port;
      const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
      const msg = [
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:probe@127.0.0.1>;tag=${branch.slice(7)}`,
        `To: <sip:127.0.0.1:${port}>`,
        `Call-ID: ${branch}@127.0.0.1`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '', ''].join('\r\n');
      sock.send(msg, port, '127.0.0.1');
    });
  });
}

function httpGet(url, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// The IMS stand-in: Kamailio with the demo's config on udp+tcp 127.0.0.1:sipPort
// (RTCGW_E2E_KAMAILIO_CFG: another config taking the same -A defines, e.g. one with rtpengine).
async function startKamailio(procs, { sipPort, echoPort, workDir }) {
  const runDir = path.join(workDir, 'kamailio');
  fs.mkdirSync(runDir, { recursive: true });
  const kam = procs.start('kamailio', 'kamailio', [
    '-f', process.env.RTCGW_E2E_KAMAILIO_CFG || path.join(SOURCE_DIR, 'demo', 'kamailio.cfg'),
    '-DD', '-E', '-m', '64', '-M', '8', '-Y', runDir, '-P', path.join(runDir, 'kamailio.pid'),
    '-l', `udp:127.0.0.1:${sipPort}`, '-l', `tcp:127.0.0.1:${sipPort}`,
    '-A', `ECHO_URI="sip:127.0.0.1:${echoPort}"`,
  ]);
  await waitFor('Kamailio to answer OPTIONS', async () => {
    procs.assertRunning(kam);
    return (await sipPing(sipPort)).startsWith('SIP/2.0 200');
  }, 15000, 200);
  return kam;
}

// rtcgw with a config written for this run; its HTTP serves the demo page from web/.
// `media` may set portRange ([min, max]) and extra lines under `media:` (e.g.
// ['inactivity_timeout: 20']); rtcgw refuses keys it does not know. `extra`: more top-level YAML,
// as text or as an object of sections (e.g. { transcoding: { browser_codecs: ['opus'] } }).
async function startRtcgw(procs, {
  bin, workDir, wsPort, sipPort, pcscfPort, metricsPort, media = {}, extra = '',
}) {
  const origin = `http://127.0.0.1:${wsPort}`;
  const config = [
    '# written by tests/e2e/harness.js',
    'websocket:',
    `  listen: ["ws://127.0.0.1:${wsPort}"]`,
    `  allowed_origins: ["${origin}"]`,
    `  document_root: "${path.join(SOURCE_DIR, 'web')}"`,
    'sip:',
    `  listen: ["udp://127.0.0.1:${sipPort}"]`,
    `  pcscf: "sip:127.0.0.1:${pcscfPort};transport=udp"`,
    'media:',
    '  address: 127.0.0.1',
    `  port_range: [${(media.portRange || [40000, 40999]).join(', ')}]`,
    ...(media.extra || []).map((line) => `  ${line}`),
    'log:',
    '  level: debug',
    'metrics:',
    `  listen: "http://127.0.0.1:${metricsPort}"`,
    ...(typeof extra === 'string' ? extra.split('\n') : yamlLines(extra)),
    ''].join('\n');
  const configPath = path.join(workDir, 'rtcgw.yaml');
  fs.writeFileSync(configPath, config);
  const rtcgw = procs.start('rtcgw', bin, ['--config', configPath]);
  await waitFor('rtcgw to serve the demo page', async () => {
    procs.assertRunning(rtcgw);
    const res = await httpGet(`${origin}/`);
    return res.status === 200 && res.body.includes('rtcgw web phone');
  }, 15000, 200);
  return { rtcgw, origin, configPath };
}

// A plain object as block YAML (scalars and arrays of scalars as flow sequences, JSON-quoted).
function yamlLines(obj, indent = '') {
  const lines = [];
  for (const [key, value] of Object.entries(obj)) {
    if (Array.isArray(value)) {
      lines.push(`${indent}${key}: [${value.map((v) => JSON.stringify(v)).join(', ')}]`);
    } else if (value !== null && typeof value === 'object') {
      lines.push(`${indent}${key}:`, ...yamlLines(value, `${indent}  `));
    } else {
      lines.push(`${indent}${key}: ${JSON.stringify(value)}`);
    }
  }
  return lines;
}

// Debian's Chromium, spawned here (exact flags, a PID to stop), attached with playwright-core.
// `extraArgs`: more flags, e.g. --use-file-for-fake-audio-capture=<wav>.
async function startChromium(procs, { workDir, extraArgs = [] }) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(workDir, 'chromium-'));
  const proc = procs.start('chromium', CHROMIUM, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`,
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
    // several phones in tabs of one window: keep the hidden ones running at full speed
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1 , EXCLUDE [::1]',
    '--window-size=1200,1100', ...extraArgs, '--remote-debugging-port=0', 'about:blank',
  ]);
  const portFile = path.join(profile, 'DevToolsActivePort');
  const port = await waitFor('Chromium to write DevToolsActivePort', () => {
    procs.assertRunning(proc);
    const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : '';
    return /^\d+\n/.test(text) ? Number(text.split('\n')[0]) : 0;
  }, 20000, 100);
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`, { timeout: 10000 });
  return { browser, proc, context: browser.contexts()[0] };
}

// A page of the demo phone, with its console kept in <outDir>/<name>.console.log.
async function openPhone(context, origin, name, outDir, query = '') {
  const page = await context.newPage();
  const consoleLog = fs.createWriteStream(path.join(outDir, `${name}.console.log`));
  page.on('console', (m) => consoleLog.write(`${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => consoleLog.write(`pageerror: ${e.message}\n`));
  await page.goto(`${origin}/${query}`, { waitUntil: 'load', timeout: 10000 });
  await page.waitForFunction(() => window.phone && typeof JsSIP !== 'undefined', null,
    { timeout: 5000 });
  return page;
}

// Waits for a condition on the page's window.phone; on timeout, shows the page's own log.
async function waitPhone(page, what, fn, arg, ms = 10000) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
  } catch (e) {
    const events = await page.evaluate(() => window.phone.events.map(
      (x) => `${x.time} ${x.kind} ${x.text}`).join('\n')).catch(() => '(page gone)');
    throw new Error(`${what}: ${e.message.split('\n')[0]}\npage log:\n${events}`);
  }
}

// An even UDP port with the next three free too (sipp's -rtp_echo binds -mp and -mp + 2).
async function freeRtpPort() {
  const bindable = (port) => new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.on('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
  for (let i = 0; i < 50; i++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 9000);
    let ok = true;
    for (let p = port; p < port + 4 && ok; p++) ok = !handedOut.has(p) && await bindable(p);
    if (ok) {
      for (let p = port; p < port + 4; p++) handedOut.add(p);
      return port;
    }
  }
  throw new Error('no free RTP port');
}

// sipp with a scenario; its messages and errors go to <outDir>/<name>.messages.log and
// <name>.errors.log, its screen to <name>.log. Resolves once started (not once listening).
function startSipp(procs, name, scenario, args, outDir) {
  return procs.start(name, 'sipp', [
    '-sf', scenario, ...args, '-nostdin',
    '-trace_msg', '-message_file', path.join(outDir, `${name}.messages.log`),
    '-trace_err', '-error_file', path.join(outDir, `${name}.errors.log`),
  ]);
}

// Waits until something listens on udp 127.0.0.1:port (binding it fails).
async function waitUdpListening(what, port, entry, procs, ms = 10000) {
  await waitFor(`${what} to listen on udp ${port}`, () => new Promise((resolve, reject) => {
    if (entry) {
      try { procs.assertRunning(entry); } catch (e) { reject(e); return; }
    }
    const sock = dgram.createSocket('udp4');
    sock.on('error', () => resolve(true));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(false)));
  }), ms, 100);
}

// Prometheus text exposition -> { name: total over its label sets }, and the samples with labels.
function parseMetrics(text) {
  const totals = {};
  const samples = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    const value = Number(m[3]);
    samples.push({ name: m[1], labels, value });
    totals[m[1]] = (totals[m[1]] || 0) + value;
  }
  return { totals, samples };
}

async function scrapeMetrics(metricsPort) {
  const res = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return { ...parseMetrics(res.body), text: res.body };
}

// A mono 16-bit WAV of a steady sine (Chromium's fake microphone plays it in a loop).
function writeToneWav(file, { hz = 440, seconds = 10, rate = 48000, amplitude = 0.5 } = {}) {
  const n = seconds * rate;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + 2 * n, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22); buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(2 * rate, 28);
  buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    buf.writeInt16LE(Math.round(amplitude * 32767 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  }
  fs.writeFileSync(file, buf);
  return file;
}

function makeDirs(outArg) {
  const outDir = path.resolve(outArg || path.join(SOURCE_DIR, 'tests', 'e2e', 'out'));
  fs.mkdirSync(outDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcgw-e2e-'));
  return { outDir, workDir };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    assert.ok(argv[i].startsWith('--') && i + 1 < argv.length, `bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

// Stops rtcgw (`entry`) with SIGTERM: null when it exited 0 by itself, else an Error with its
// log's tail (a sanitizer report makes it exit non-zero).
async function stopCleanly(procs, entry, ms = 10000) {
  const exit = await procs.stop(entry, ms);
  if (exit && exit.code === 0 && !exit.killed) return null;
  return new Error(`rtcgw did not stop cleanly on SIGTERM: exit ${JSON.stringify(exit)}\n` +
    tail(entry.logPath));
}

module.exports = {
  SOURCE_DIR, Processes, stopCleanly, freeRtpPort, freeSipPort, freeTcpPort, httpGet, makeDirs, openPhone,
  parseArgs, parseMetrics, scrapeMetrics, sleep, startChromium, startKamailio, startRtcgw,
  startSipp, tail, waitFor, waitPhone, waitUdpListening, within, writeToneWav,
};
