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

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
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
      done = await Promise.race([entry.exited, sleep(graceMs).then(() => null)]);
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

// The IMS stand-in: Kamailio with the demo's config on udp+tcp 127.0.0.1:sipPort.
async function startKamailio(procs, { sipPort, echoPort, workDir }) {
  const runDir = path.join(workDir, 'kamailio');
  fs.mkdirSync(runDir, { recursive: true });
  const kam = procs.start('kamailio', 'kamailio', [
    '-f', path.join(SOURCE_DIR, 'demo', 'kamailio.cfg'),
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
async function startRtcgw(procs, { bin, workDir, wsPort, sipPort, pcscfPort, metricsPort }) {
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
    '  port_range: [40000, 40999]',
    'log:',
    '  level: debug',
    'metrics:',
    `  listen: "http://127.0.0.1:${metricsPort}"`,
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

// Debian's Chromium, spawned here (exact flags, a PID to stop), attached with playwright-core.
async function startChromium(procs, { workDir }) {
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
    '--window-size=1200,1100', '--remote-debugging-port=0', 'about:blank',
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

module.exports = {
  SOURCE_DIR, Processes, freeSipPort, freeTcpPort, httpGet, makeDirs, openPhone, parseArgs, sleep,
  startChromium, startKamailio, startRtcgw, tail, waitFor, waitPhone,
};
