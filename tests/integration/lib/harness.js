'use strict';
// Test harness: free ports, the rtcgw daemon and sipp as child processes (owned by PID, logs in a
// per-test temp dir, printed on failure), /health and /metrics, a tiny UDP "core" for tests that
// need one, and reading sipp's message log.

const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const sip = require('./sip');

const REPO = path.resolve(__dirname, '..', '..', '..');
const SIPP_DIR = path.join(REPO, 'tests', 'sipp');

function rtcgwBin() {
  for (const a of process.argv) {
    const m = a.match(/^--rtcgw=(.+)$/);
    if (m) return path.resolve(m[1]);
  }
  if (process.env.RTCGW_BIN) return path.resolve(process.env.RTCGW_BIN);
  for (const cand of ['build-it/rtcgw', 'build/rtcgw']) {
    const p = path.join(REPO, cand);
    if (fs.existsSync(p)) return p;
  }
  throw new Error('rtcgw binary not found: pass --rtcgw=PATH or set RTCGW_BIN');
}

function sharedDir() {
  if (process.env.RTCGW_SHARED_DIR) return path.resolve(process.env.RTCGW_SHARED_DIR);
  return path.resolve(REPO, '..', 'shared');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects after `ms` with a message naming what was awaited.
function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// ---- ports ---------------------------------------------------------------------------------
const handedOut = new Set();

function tryUdp(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
function tryTcpAny() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
function tryTcp(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// A port free for both TCP and UDP on 127.0.0.1 (and port+1..port+extra-1 too, for sipp's media).
async function freePort(extra = 1) {
  for (let i = 0; i < 200; i++) {
    const p = await tryTcpAny();
    if (p + extra > 65535) continue;
    let ok = true;
    for (let k = 0; k < extra && ok; k++) {
      if (handedOut.has(p + k)) ok = false;
      else if (!(await tryUdp(p + k))) ok = false;
      else if (k > 0 && !(await tryTcp(p + k))) ok = false;
    }
    if (!ok) continue;
    for (let k = 0; k < extra; k++) handedOut.add(p + k);
    return p;
  }
  throw new Error('no free port found');
}

// ---- processes ------------------------------------------------------------------------------
const liveChildren = new Set();
process.on('exit', () => {
  for (const c of liveChildren) {
    try { process.kill(c.pid, 'SIGKILL'); } catch (_) { /* gone */ }
  }
});

class Proc {
  constructor(name, cmd, args, { cwd, dir, env } = {}) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.stdoutPath = path.join(dir, `${name}.stdout.log`);
    this.stderrPath = path.join(dir, `${name}.stderr.log`);
    const out = fs.openSync(this.stdoutPath, 'w');
    const err = fs.openSync(this.stderrPath, 'w');
    this.startedAt = Date.now();
    this.child = spawn(cmd, args, {
      cwd: cwd || dir, stdio: ['ignore', out, err], env: { ...process.env, ...(env || {}) },
    });
    fs.closeSync(out);
    fs.closeSync(err);
    this.pid = this.child.pid;
    this.exit = null; // {code, signal, at}
    liveChildren.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        liveChildren.delete(this);
        resolve(this.exit);
      });
      this.child.on('error', (e) => {
        this.exit = { code: -1, signal: null, error: e, at: Date.now() };
        liveChildren.delete(this);
        resolve(this.exit);
      });
    });
  }

  get running() { return this.exit === null; }

  async wait(ms) {
    return withTimeout(this.exited, ms, `${this.name} (pid ${this.pid}) to exit`);
  }

  signal(sig) {
    if (this.running) {
      try { process.kill(this.pid, sig); } catch (_) { /* already gone */ }
    }
  }

  async kill() {
    if (!this.running) return this.exit;
    this.signal('SIGTERM');
    try {
      return await withTimeout(this.exited, 3000, `${this.name} to exit on SIGTERM`);
    } catch (_) {
      this.signal('SIGKILL');
      return this.exited;
    }
  }

  stdout() { return readOr(this.stdoutPath); }
  stderr() { return readOr(this.stderrPath); }
}

function readOr(p) {
  try { return fs.readFileSync(p, 'utf8'); } catch (_) { return ''; }
}

// ---- HTTP -----------------------------------------------------------------------------------
function httpGet(port, p, ms = 2000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
  });
}

// Parses the Prometheus text format into [{name, labels:{}, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2];
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// Sum of every sample of `name` whose labels include `want`.
function metricSum(samples, name, want = {}) {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(want).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : 0;
}

// ---- the per-test environment ---------------------------------------------------------------
class Env {
  constructor(name) {
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `rtcgw-it-${name}-`));
    this.procs = [];
    this.closers = [];
    this.rtcgw = null;
  }

  static async run(name, fn, { deadline = 90000 } = {}) {
    const env = new Env(name);
    let failed = false;
    try {
      await withTimeout(Promise.resolve().then(() => fn(env)), deadline, `test body of ${name}`);
    } catch (e) {
      failed = true;
      env.dumpLogs(e);
      throw e;
    } finally {
      await env.cleanup();
      if (!failed && !process.env.RTCGW_IT_KEEP) fs.rmSync(env.dir, { recursive: true, force: true });
    }
  }

  spawn(name, cmd, args, opts = {}) {
    const p = new Proc(name, cmd, args, { dir: this.dir, ...opts });
    this.procs.push(p);
    return p;
  }

  onCleanup(fn) { this.closers.push(fn); }

  async cleanup() {
    for (const fn of this.closers.reverse()) {
      try { await fn(); } catch (_) { /* best effort */ }
    }
    await Promise.all(this.procs.map((p) => p.kill()));
  }

  dumpLogs(err) {
    const parts = [`\n===== ${this.name} failed: ${err && err.stack ? err.stack : err}`,
      `===== logs in ${this.dir}`];
    for (const f of fs.readdirSync(this.dir).sort()) {
      const p = path.join(this.dir, f);
      if (!fs.statSync(p).isFile()) continue;
      let t = readOr(p);
      if (t.length > 20000) t = '[...]\n' + t.slice(-20000);
      parts.push(`----- ${f}\n${t}`);
    }
    process.stderr.write(parts.join('\n') + '\n');
  }

  // Starts rtcgw with a generated config. `pcscfPort`: where requests from browsers go.
  // `media`: media.* keys to set or override, e.g. { inactivity_timeout: 2, port_range: [40000, 40019] }.
  // `extra`: more top-level YAML appended as is (e.g. a transcoding: section).
  async startRtcgw({ pcscfPort, extraSip = '', wsMax = 65535, logLevel = 'debug', sipTransport = 'udp', media = {}, extra = '' } = {}) {
    const wsPort = await freePort();
    const sipPort = await freePort();
    const metricsPort = await freePort();
    if (!pcscfPort) pcscfPort = await freePort();
    const cfg = [
      'websocket:',
      `  listen: ["ws://127.0.0.1:${wsPort}"]`,
      '  allowed_origins: ["*"]',
      `  max_message_size: ${wsMax}`,
      'sip:',
      `  listen: ["${sipTransport}://127.0.0.1:${sipPort}"]`,
      `  pcscf: "sip:127.0.0.1:${pcscfPort};transport=${sipTransport}"`,
      extraSip,
      'media:',
      ...Object.entries({ address: '127.0.0.1', port_range: [30000, 39999], ...media })
        .map(([k, v]) => `  ${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`),
      'log:',
      `  level: ${logLevel}`,
      'metrics:',
      `  listen: "http://127.0.0.1:${metricsPort}"`,
      '',
    ].filter((l) => l !== '').join('\n') + '\n' + extra;
    const cfgPath = path.join(this.dir, 'rtcgw.yaml');
    fs.writeFileSync(cfgPath, cfg);
    const proc = this.spawn('rtcgw', rtcgwBin(), ['--config', cfgPath], {
      env: {
        ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0',
        UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1',
      },
    });
    const rt = new Rtcgw(proc, { wsPort, sipPort, metricsPort, pcscfPort, cfgPath });
    this.rtcgw = rt;
    await rt.waitHealthy(15000);
    return rt;
  }

  // Starts sipp with a scenario from tests/sipp. `remote`: "host:port" for UAC scenarios.
  async startSipp(scenario, { port, remote, keys = {}, calls = 1, timeout = 20, extra = [], name } = {}) {
    if (!port) port = await freePort();
    const mediaPort = await freePort(4);
    const tag = name || `sipp-${path.basename(scenario, '.xml')}-${port}`;
    const args = [];
    if (remote) args.push(remote);
    args.push('-sf', path.join(SIPP_DIR, scenario), '-i', '127.0.0.1', '-p', String(port),
      '-mp', String(mediaPort), '-m', String(calls), '-timeout', `${timeout}s`, '-timeout_error',
      '-nostdin', '-trace_err', '-error_file', path.join(this.dir, `${tag}.errors.log`),
      '-trace_msg', '-message_file', path.join(this.dir, `${tag}.messages.log`),
      '-trace_logs', '-log_file', path.join(this.dir, `${tag}.actions.log`));
    for (const [k, v] of Object.entries(keys)) args.push('-key', k, String(v));
    args.push(...extra);
    const proc = this.spawn(tag, 'sipp', args);
    const s = new Sipp(proc, port, path.join(this.dir, `${tag}.messages.log`),
      path.join(this.dir, `${tag}.errors.log`));
    // sipp binds synchronously at start; give it a moment to be listening (UAS) before traffic.
    await sleep(remote ? 50 : 300);
    if (!proc.running && proc.exit.code !== 0) {
      throw new Error(`sipp ${scenario} exited at start: ${JSON.stringify(proc.exit)}\n${proc.stderr()}`);
    }
    return s;
  }

  // A UDP socket acting as the core: records what arrives; optionally answers.
  async startFakeCore({ port, answer } = {}) {
    if (!port) port = await freePort();
    const core = new FakeCore(port, answer);
    await core.bind();
    this.onCleanup(() => core.close());
    return core;
  }
}

class Rtcgw {
  constructor(proc, ports) {
    this.proc = proc;
    Object.assign(this, ports);
    this.wsUrl = `ws://127.0.0.1:${ports.wsPort}`;
  }

  async waitHealthy(ms) {
    const until = Date.now() + ms;
    let last = null;
    while (Date.now() < until) {
      if (!this.proc.running) {
        throw new Error(`rtcgw exited during start-up: ${JSON.stringify(this.proc.exit)}`);
      }
      try {
        const r = await httpGet(this.metricsPort, '/health', 1000);
        if (r.status === 200) return r;
        last = `status ${r.status}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(100);
    }
    throw new Error(`rtcgw /health not 200 within ${ms} ms (last: ${last})`);
  }

  async metrics() {
    const r = await httpGet(this.metricsPort, '/metrics');
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    return parseMetrics(r.body);
  }

  async metric(name, labels = {}) {
    return metricSum(await this.metrics(), name, labels);
  }

  // SIGTERM; returns {code, signal, ms}. Throws if it does not exit within `ms`.
  async stop(ms = 5000) {
    const t0 = Date.now();
    this.proc.signal('SIGTERM');
    const e = await this.proc.wait(ms);
    return { code: e.code, signal: e.signal, ms: Date.now() - t0 };
  }

  sanitizerReports() {
    const text = this.proc.stderr() + this.proc.stdout();
    return text.split('\n').filter((l) =>
      /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)/.test(l));
  }
}

class Sipp {
  constructor(proc, port, messagesPath, errorsPath) {
    this.proc = proc;
    this.port = port;
    this.messagesPath = messagesPath;
    this.errorsPath = errorsPath;
  }

  // Waits for sipp to finish; returns its exit code.
  async done(ms = 25000) {
    const e = await this.proc.wait(ms);
    return e.code;
  }

  // Asserts sipp passed (exit 0), with its error log in the message otherwise.
  async expectPass(ms = 25000) {
    const code = await this.done(ms);
    if (code !== 0) {
      throw new Error(`sipp ${this.proc.name} exited ${code}\n${readOr(this.errorsPath)}\n${this.proc.stdout().slice(-3000)}`);
    }
  }

  // Messages from sipp's -trace_msg log: [{dir: 'recv'|'sent', msg: SipMessage}].
  messages() {
    const text = readOr(this.messagesPath);
    const out = [];
    const re = /^-{20,} [^\n]*\n(UDP|TCP) message (received|sent) [^\n]*\n\n/gm;
    const marks = [];
    let m;
    while ((m = re.exec(text))) marks.push({ idx: m.index, end: re.lastIndex, dir: m[2] === 'received' ? 'recv' : 'sent' });
    for (let i = 0; i < marks.length; i++) {
      let chunk = text.slice(marks[i].end, i + 1 < marks.length ? marks[i + 1].idx : text.length);
      // sipp appends "\n\n" after each message.
      chunk = chunk.replace(/\n\n$/, '');
      try {
        const msg = sip.parse(chunk);
        const cl = msg.get('content-length');
        if (cl !== undefined && /^\d+$/.test(cl.trim())) msg.body = msg.body.slice(0, Number(cl.trim()));
        out.push({ dir: marks[i].dir, msg });
      } catch (_) { /* not SIP: ignore */ }
    }
    return out;
  }

  received() { return this.messages().filter((x) => x.dir === 'recv').map((x) => x.msg); }
}

class FakeCore {
  // answer(msg, rinfo, core) may return a response string / array of strings, or null.
  constructor(port, answer) {
    this.port = port;
    this.answer = answer || null;
    this.received = []; // {msg|null, raw: Buffer, rinfo}
    this.sock = dgram.createSocket('udp4');
    this.waiters = [];
  }

  bind() {
    return new Promise((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(this.port, '127.0.0.1', () => {
        this.sock.on('message', (raw, rinfo) => this._onMessage(raw, rinfo));
        resolve();
      });
    });
  }

  _onMessage(raw, rinfo) {
    let msg = null;
    try { msg = sip.parse(raw); } catch (_) { msg = null; }
    const entry = { msg, raw, rinfo };
    this.received.push(entry);
    if (msg && msg.isRequest && this.answer) {
      let r = this.answer(msg, rinfo, this);
      if (r) for (const one of [].concat(r)) this.send(one, rinfo.port, rinfo.address);
    }
    for (const w of [...this.waiters]) {
      if (w.pred(entry)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  }

  send(text, port, host = '127.0.0.1') {
    this.sock.send(Buffer.from(text, 'latin1'), port, host);
  }

  waitFor(pred, ms = 5000, what = 'a message at the fake core') {
    const hit = this.received.find(pred);
    if (hit) return Promise.resolve(hit);
    return withTimeout(new Promise((resolve) => this.waiters.push({ pred, resolve })), ms, what);
  }

  close() {
    return new Promise((resolve) => {
      try { this.sock.close(resolve); } catch (_) { resolve(); }
    });
  }
}

// A response to `req` (parsed) as a UAS would form it: Via, From, To (+tag), Call-ID, CSeq copied.
function responseTo(req, status, reason, { toTag, headers = [], body = '', copyRR = false } = {}) {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  if (copyRR) for (const rr of req.lines('record-route')) lines.push(`Record-Route: ${rr}`);
  for (const v of req.lines('via')) lines.push(`Via: ${v}`);
  let to = req.get('to');
  if (status > 100 && !sip.paramOf(to, 'tag')) to += `;tag=${toTag || sip.newTag()}`;
  lines.push(`From: ${req.get('from')}`, `To: ${to}`, `Call-ID: ${req.get('call-id')}`,
    `CSeq: ${req.get('cseq')}`);
  lines.push(...headers);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

module.exports = {
  REPO, SIPP_DIR, rtcgwBin, sharedDir, sleep, withTimeout, freePort, Env, Rtcgw, Sipp, FakeCore,
  parseMetrics, metricSum, httpGet, responseTo,
};
