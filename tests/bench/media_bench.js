#!/usr/bin/env node
'use strict';
// The media benchmark's driver (tests/bench/README.md): for each N, N concurrent calls through
// rtcgw with DTLS-SRTP on the browser side and plain RTP on the network side, and rtcgw's CPU per
// call-second, loss and added latency. Meant to run through run_media_bench.sh (Release build,
// private network namespace, rtcgw pinned to core 1, everything else on core 0).
//
//   node tests/bench/media_bench.js --rtcgw BIN --load BIN [--window 20] [--settle 3]
//        [--baseline-window 10] [--srtp-profiles P] [--concurrency 20] [--out DIR]
//        [--fifo PRIO] N...
//
// --fifo PRIO runs rtcgw and the load client SCHED_FIFO at PRIO (chrt): on a machine whose cores
// other jobs share, they then run as soon as they have work, as on a quiet machine; their CPU
// time is still their own. rtcgw's run-queue wait (schedstat) is reported either way.
//
// Per N: (1) the direct baseline: N calls of the load client straight into its own reflector,
// no gateway; (2) a fresh rtcgw and a fake P-CSCF answering every INVITE with an RTP/AVP answer
// that points at that call's reflector port; N calls set up over SIP/WebSocket (one WebSocket per
// call, the offer carrying the load client's ICE credentials and certificate fingerprint), ICE,
// DTLS and SRTP done by the load client; a steady window in which rtcgw's utime+stime are read
// from /proc; (3) BYE for every call, then rtcgw_media_ports_in_use must come back to 0.

const { spawn, execFileSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const H = require('../integration/lib/harness');
const { WsSipClient, chromeOffer } = require('../integration/lib/wsclient');
const sip = require('../integration/lib/sip');

const { sleep, withTimeout, httpGet, parseMetrics, metricSum, responseTo } = H;

// ---- arguments -------------------------------------------------------------------------------
function parseArgs(argv) {
  const o = {
    rtcgw: null, load: null, window: 20, settle: 3, baselineWindow: 10, srtpProfiles: '',
    concurrency: 20, out: null, ns: [], rtcgwCpu: '1', logLevel: 'info', fifo: 0,
    gateways: ['rtcgw'], rtpengine: '/usr/bin/rtpengine',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--rtcgw') o.rtcgw = path.resolve(next());
    else if (a === '--load') o.load = path.resolve(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--settle') o.settle = Number(next());
    else if (a === '--baseline-window') o.baselineWindow = Number(next());
    else if (a === '--srtp-profiles') o.srtpProfiles = next();
    else if (a === '--concurrency') o.concurrency = Number(next());
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--rtcgw-cpu') o.rtcgwCpu = next();
    else if (a === '--log-level') o.logLevel = next();
    else if (a === '--fifo') o.fifo = Number(next());
    else if (a === '--gateways') o.gateways = next().split(',');
    else if (a === '--rtpengine') o.rtpengine = next();
    else if (/^\d+$/.test(a)) o.ns.push(Number(a));
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.load || (o.gateways.includes('rtcgw') && !o.rtcgw)) throw new Error('--rtcgw and --load are required');
  for (const g of o.gateways) if (!['rtcgw', 'rtpengine'].includes(g)) throw new Error('--gateways rtcgw,rtpengine');
  if (!o.ns.length) o.ns = [50, 200, 500];
  if (!o.out) o.out = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcgw-bench-'));
  fs.mkdirSync(o.out, { recursive: true });
  return o;
}

const { track, log, pct, rtcgwYaml } = require('./bench_util');

// Runs fn over items with at most k in flight.
async function pool(items, k, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(k, items.length) }, worker));
  return out;
}

// ---- the load client -------------------------------------------------------------------------
class Load {
  constructor(bin, { srtpProfiles, dir }) {
    const args = srtpProfiles ? ['--srtp-profiles', srtpProfiles] : [];
    const fifo = Load.fifo ? ['chrt', '-f', String(Load.fifo)] : [];
    this.stderrPath = path.join(dir, 'load.stderr.log');
    const err = fs.openSync(this.stderrPath, 'w');
    this.child = track(fifo.length ? spawn(fifo[0], [...fifo.slice(1), bin, ...args], { stdio: ['pipe', 'pipe', err] })
      : spawn(bin, args, { stdio: ['pipe', 'pipe', err] }));
    fs.closeSync(err);
    this.pid = this.child.pid;
    this.waiters = [];
    this.lines = [];
    this.exited = new Promise((r) => this.child.on('exit', (code, sig) => r({ code, sig })));
    readline.createInterface({ input: this.child.stdout }).on('line', (l) => this._line(l));
  }

  _line(l) {
    this.lines.push(l);
    if (this.lines.length > 10000) this.lines.splice(0, 5000);
    for (const w of [...this.waiters]) {
      if (w.pred(l)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  }

  waitLine(pred, ms, what) {
    return withTimeout(new Promise((resolve) => this.waiters.push({ pred, resolve })), ms, what);
  }

  send(cmd) { this.child.stdin.write(cmd + '\n'); }

  async ready() {
    const l = await this.waitLine((x) => x.startsWith('READY '), 10000, 'load client READY');
    [, this.fingerprint] = l.split(' ');
  }

  async call(id, direct = false) {
    const p = this.waitLine((x) => x.startsWith(`CALL ${id} `) || x.startsWith(`FAIL ${id} `), 5000, `CALL ${id}`);
    const up = direct ? this.waitLine((x) => x.startsWith(`UP ${id} `) || x.startsWith(`FAIL ${id} `), 5000, `UP ${id}`) : null;
    this.send(`CALL ${id}${direct ? ' direct' : ''}`);
    const l = await p;
    if (l.startsWith('FAIL')) throw new Error(l);
    const [, , bport, rport, ufrag, pwd] = l.split(' ');
    const c = { id, bport: Number(bport), rport: Number(rport), ufrag, pwd };
    if (up) c.up = await up;
    return c;
  }

  answer(id, a) {
    const p = this.waitLine((x) => x.startsWith(`UP ${id} `) || x.startsWith(`FAIL ${id} `), 20000, `UP ${id}`);
    this.send(`ANSWER ${id} ${a.ip} ${a.port} ${a.ufrag} ${a.pwd} ${a.fingerprint}`);
    return p;
  }

  async window(seconds) {
    const started = this.waitLine((x) => x.startsWith('WINDOW '), 5000, 'WINDOW');
    this.send('WINDOW START');
    await started;
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const stats = this.waitLine((x) => x.startsWith('STATS '), 10000, 'STATS');
    this.send('WINDOW STOP');
    const l = await stats;
    return { stats: parseKv(l), wallS: Number(process.hrtime.bigint() - t0) / 1e9 };
  }

  async windowAround(seconds, before, after) {
    const started = this.waitLine((x) => x.startsWith('WINDOW '), 5000, 'WINDOW');
    const b = before();
    this.send('WINDOW START');
    await started;
    await sleep(seconds * 1000);
    const a = after();
    const stats = this.waitLine((x) => x.startsWith('STATS '), 10000, 'STATS');
    this.send('WINDOW STOP');
    return { stats: parseKv(await stats), before: b, after: a };
  }

  async hangup() {
    const p = this.waitLine((x) => x.startsWith('HUNG '), 10000, 'HUNG');
    this.send('HANGUP all');
    return p;
  }

  async quit() {
    try { this.send('QUIT'); } catch (_) { /* gone */ }
    try {
      await withTimeout(this.exited, 3000, 'load client exit');
    } catch (_) {
      try { process.kill(this.pid, 'SIGKILL'); } catch (_) { /* gone */ }
    }
  }
}

function parseKv(line) {
  const o = {};
  for (const kv of line.split(' ').slice(1)) {
    const [k, v] = kv.split('=');
    o[k] = Number(v);
  }
  return o;
}

// ---- rtcgw -----------------------------------------------------------------------------------
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// utime+stime of every thread (/proc/PID/stat), in microseconds, and the precise sum of the
// threads' run time from schedstat (ns -> us) as a cross-check.
function cpuOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  let schedNs = 0;
  let waitNs = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ');
      schedNs += Number(f[0]);
      waitNs += Number(f[1]);
    } catch (_) { /* thread gone */ }
  }
  let switches = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      for (const m of st.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) switches += Number(m[1]);
    } catch (_) { /* thread gone */ }
  }
  return { statUs: (ticks * 1e6) / CLK_TCK, schedUs: schedNs / 1000, waitUs: waitNs / 1000, t: process.hrtime.bigint(),
    threads: fs.readdirSync(`/proc/${pid}/task`).length, switches };
}

// UDP error counters of this network namespace (the private one: only this benchmark's sockets).
function udpErrors() {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1).map(Number);
  const o = {};
  names.forEach((n, i) => { o[n] = vals[i]; });
  return { InErrors: o.InErrors, RcvbufErrors: o.RcvbufErrors, SndbufErrors: o.SndbufErrors, NoPorts: o.NoPorts };
}

async function startRtcgw(o, dir) {
  const wsPort = 8080;
  const sipPort = 5070;
  const pcscfPort = 5060;
  const metricsPort = 9090;
  const cfg = rtcgwYaml({ wsPort, sipPort, pcscfPort, metricsPort, logLevel: o.logLevel,
    media: '  port_range: [20000, 29999]\n  inactivity_timeout: 60\n' });
  const cfgPath = path.join(dir, 'rtcgw.yaml');
  fs.writeFileSync(cfgPath, cfg);
  const out = fs.openSync(path.join(dir, 'rtcgw.stdout.log'), 'w');
  const err = fs.openSync(path.join(dir, 'rtcgw.stderr.log'), 'w');
  // taskset execs rtcgw: the PID is rtcgw's. -a: every thread on that core.
  // BENCH_RTCGW_WRAP (debugging only, e.g. "gdb -batch -ex run -ex bt --args"): a command put
  // in front of rtcgw; the CPU figures are then the wrapper's.
  const wrap = (process.env.BENCH_RTCGW_WRAP || '').split(' ').filter(Boolean);
  const fifo = o.fifo ? ['chrt', '-f', String(o.fifo)] : [];
  const argv = [...fifo, 'taskset', '-a', '-c', o.rtcgwCpu, ...wrap, o.rtcgw, '--config', cfgPath];
  const child = track(spawn(argv[0], argv.slice(1),
    { stdio: ['ignore', out, err] }));
  fs.closeSync(out);
  fs.closeSync(err);
  fs.writeFileSync(path.join(dir, 'rtcgw.pid'), `${child.pid}\n`);
  const rt = {
    child, pid: child.pid, wsUrl: `ws://127.0.0.1:${wsPort}`, wsPort, sipPort, pcscfPort, metricsPort,
    exited: new Promise((r) => child.on('exit', (code, sig) => r({ code, sig }))), exit: null,
  };
  rt.exited.then((e) => { rt.exit = e; });
  const until = Date.now() + 15000;
  for (;;) {
    if (rt.exit) throw new Error(`rtcgw exited at start: ${JSON.stringify(rt.exit)}`);
    try {
      if ((await httpGet(metricsPort, '/health', 1000)).status === 200) break;
    } catch (_) { /* not yet */ }
    if (Date.now() > until) throw new Error('rtcgw not healthy within 15 s');
    await sleep(100);
  }
  return rt;
}

async function metrics(rt) {
  const r = await httpGet(rt.metricsPort, '/metrics', 5000);
  return parseMetrics(r.body);
}

async function stopRtcgw(rt) {
  if (rt.exit) return rt.exit;
  try { process.kill(rt.pid, 'SIGTERM'); } catch (_) { /* gone */ }
  try {
    return await withTimeout(rt.exited, 6000, 'rtcgw exit on SIGTERM');
  } catch (_) {
    try { process.kill(rt.pid, 'SIGKILL'); } catch (_) { /* gone */ }
    return rt.exited;
  }
}

// ---- the fake P-CSCF ---------------------------------------------------------------------------
// 200 with an RTP/AVP PCMU answer to each INVITE (reflector port by Call-ID), 200 to BYE and
// anything else but ACK.
class Core {
  constructor(port) {
    this.port = port;
    this.byCallId = new Map(); // Call-ID -> {rport, toTag}
    this.sock = dgram.createSocket('udp4');
    this.counts = {};
  }

  bind() {
    return new Promise((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(this.port, '127.0.0.1', () => {
        this.sock.on('message', (raw, rinfo) => this._msg(raw, rinfo));
        resolve();
      });
    });
  }

  _msg(raw, rinfo) {
    let m;
    try { m = sip.parse(raw); } catch (_) { return; }
    if (!m.isRequest) return;
    this.counts[m.method] = (this.counts[m.method] || 0) + 1;
    if (m.method === 'ACK') return;
    let resp;
    if (m.method === 'INVITE') {
      const c = this.byCallId.get(m.callId);
      if (!c) {
        resp = responseTo(m, 404, 'Not Found');
      } else {
        c.toTag = c.toTag || sip.newTag();
        const body = [
          'v=0', `o=core ${c.rport} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
          `m=audio ${c.rport} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', '',
        ].join('\r\n');
        resp = responseTo(m, 200, 'OK', {
          toTag: c.toTag, copyRR: true, body,
          headers: [`Contact: <sip:far@127.0.0.1:${this.port}>`, 'Content-Type: application/sdp'],
        });
      }
    } else {
      resp = responseTo(m, 200, 'OK');
    }
    this.sock.send(Buffer.from(resp, 'latin1'), rinfo.port, rinfo.address);
  }

  close() { return new Promise((r) => { try { this.sock.close(r); } catch (_) { r(); } }); }
}

// ---- SDP -------------------------------------------------------------------------------------
function browserOffer(c, fingerprint) {
  return chromeOffer()
    .replace(/^m=audio 50000 /m, `m=audio ${c.bport} `)
    .replace(/ 127\.0\.0\.1 50000 typ host/, ` 127.0.0.1 ${c.bport} typ host`)
    .replace(/^a=ice-ufrag:.*$/m, `a=ice-ufrag:${c.ufrag}`)
    .replace(/^a=ice-pwd:.*$/m, `a=ice-pwd:${c.pwd}`)
    .replace(/^a=fingerprint:sha-256 .*$/m, `a=fingerprint:sha-256 ${fingerprint}`);
}

// What the load client needs from rtcgw's answer.
function parseAnswer(sdp) {
  const get = (re) => { const m = sdp.match(re); return m ? m[1].trim() : null; };
  const cand = sdp.match(/^a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/m);
  const a = {
    ip: cand ? cand[1] : get(/^c=IN IP[46] (\S+)/m),
    port: cand ? Number(cand[2]) : Number(get(/^m=audio (\d+)/m)),
    ufrag: get(/^a=ice-ufrag:(\S+)/m),
    pwd: get(/^a=ice-pwd:(\S+)/m),
    fingerprint: get(/^a=fingerprint:sha-256 (\S+)/m),
    setup: get(/^a=setup:(\S+)/m),
    proto: get(/^m=audio \d+ (\S+)/m),
    iceLite: /^a=ice-lite/m.test(sdp),
  };
  for (const k of ['ip', 'port', 'ufrag', 'pwd', 'fingerprint']) {
    if (!a[k]) throw new Error(`rtcgw's answer has no ${k}:\n${sdp}`);
  }
  return a;
}

// ---- one N -----------------------------------------------------------------------------------
async function baseline(o, n, dir) {
  const load = new Load(o.load, { srtpProfiles: o.srtpProfiles, dir });
  try {
    await load.ready();
    await pool(Array.from({ length: n }, (_, i) => i + 1), 50, (id) => load.call(id, true));
    await sleep(o.settle * 1000);
    const w = await load.window(o.baselineWindow);
    await load.hangup();
    return w.stats;
  } finally {
    await load.quit();
  }
}

// ---- the gateways under test ------------------------------------------------------------------
// rtcgw: calls over SIP/WebSocket with the fake P-CSCF; packet counters and ports from /metrics.
class RtcgwGateway {
  constructor(o, dir) {
    this.o = o;
    this.dir = dir;
    this.name = 'rtcgw';
    this.core = new Core(5060);
    this.clients = [];
  }

  async start() {
    await this.core.bind();
    this.rt = await startRtcgw(this.o, this.dir);
    this.pid = this.rt.pid;
  }

  get exit() { return this.rt && this.rt.exit; }

  // Returns {answer, signalMs, teardown: async () => status}.
  async setup(id, c, fingerprint) {
    const ws = await WsSipClient.connect(this.rt.wsUrl, { user: `b${id}`, domain: 'bench.invalid' });
    this.clients.push(ws);
    const ti = Date.now();
    const inv = ws.invite('sip:far@bench.invalid', { body: browserOffer(c, fingerprint) });
    this.core.byCallId.set(inv.callId, { rport: c.rport });
    const fin = await ws.waitFinal(inv.callId, 'INVITE', 15000);
    if (fin.status !== 200) throw new Error(`INVITE answered ${fin.status}`);
    const signalMs = Date.now() - ti;
    ws.dialogFrom2xx(inv, fin);
    ws.inDialog(inv, 'ACK');
    return {
      answer: parseAnswer(fin.body), signalMs,
      teardown: async () => {
        ws.inDialog(inv, 'BYE');
        return (await ws.waitFinal(inv.callId, 'BYE', 10000)).status;
      },
    };
  }

  async snapshot() { return metrics(this.rt); }

  // What /metrics says about the window (m0, m1: snapshots around it).
  windowFigures(m0, m1, res, wallS, cpuUs) {
    const d = (name, labels) => metricSum(m1, name, labels) - metricSum(m0, name, labels);
    res.gwPackets = {
      browserIn: d('rtcgw_media_packets_total', { leg: 'browser', direction: 'in' }),
      browserOut: d('rtcgw_media_packets_total', { leg: 'browser', direction: 'out' }),
      networkIn: d('rtcgw_media_packets_total', { leg: 'network', direction: 'in' }),
      networkOut: d('rtcgw_media_packets_total', { leg: 'network', direction: 'out' }),
    };
    const inPkts = res.gwPackets.browserIn + res.gwPackets.networkIn;
    res.gwUsPerPacket = cpuUs / inPkts;
    const drops = {};
    for (const x of m1) {
      if (x.name !== 'rtcgw_media_dropped_total') continue;
      const before = metricSum(m0, x.name, x.labels);
      if (x.value - before) drops[x.labels.reason] = x.value - before;
    }
    res.gwDropsInWindow = drops;
    res.mediaSessions = metricSum(m1, 'rtcgw_media_sessions');
    res.portsInUse = metricSum(m1, 'rtcgw_media_ports_in_use');
    res.dtlsHandshakes = {};
    for (const x of m1) if (x.name === 'rtcgw_dtls_handshakes_total') res.dtlsHandshakes[x.labels.result] = x.value;
  }

  // After every BYE: rtcgw_media_ports_in_use and rtcgw_media_sessions must come back to 0.
  async afterTeardown(res) {
    let ports = -1;
    let sessions = -1;
    const until = Date.now() + 5000;
    do {
      const m = await metrics(this.rt);
      ports = metricSum(m, 'rtcgw_media_ports_in_use');
      sessions = metricSum(m, 'rtcgw_media_sessions');
      if (ports === 0 && sessions === 0) break;
      await sleep(200);
    } while (Date.now() < until);
    res.portsAfterBye = ports;
    res.sessionsAfterBye = sessions;
    const mEnd = await metrics(this.rt);
    res.droppedTotal = {};
    for (const x of mEnd) if (x.name === 'rtcgw_media_dropped_total') res.droppedTotal[x.labels.reason] = x.value;
  }

  async stop(res) {
    for (const c of this.clients) c.terminate();
    if (this.rt) res.gwExit = await stopRtcgw(this.rt);
    await this.core.close();
    const errText = readOr(path.join(this.dir, 'rtcgw.stderr.log')) + readOr(path.join(this.dir, 'rtcgw.stdout.log'));
    res.gwWarnings = errText.split('\n').filter((l) => /\b(warn|warning|error|critical)\b/i.test(l)).length;
  }
}

function readOr(p) { try { return fs.readFileSync(p, 'utf8'); } catch (_) { return ''; } }

// Bencode for rtpengine's ng protocol.
function bencode(v) {
  if (typeof v === 'number') return `i${Math.trunc(v)}e`;
  if (typeof v === 'string') return `${Buffer.byteLength(v)}:${v}`;
  if (Array.isArray(v)) return `l${v.map(bencode).join('')}e`;
  return `d${Object.keys(v).sort().map((k) => bencode(k) + bencode(v[k])).join('')}e`;
}
function bdecode(buf) {
  let i = 0;
  function next() {
    const ch = String.fromCharCode(buf[i]);
    if (ch === 'i') {
      const e = buf.indexOf(0x65, i);
      const n = Number(buf.slice(i + 1, e).toString());
      i = e + 1;
      return n;
    }
    if (ch === 'l' || ch === 'd') {
      i++;
      const out = ch === 'l' ? [] : {};
      while (buf[i] !== 0x65) {
        if (ch === 'l') out.push(next());
        else { const k = next(); out[k] = next(); }
      }
      i++;
      return out;
    }
    const colon = buf.indexOf(0x3a, i);
    const len = Number(buf.slice(i, colon).toString());
    const str = buf.slice(colon + 1, colon + 1 + len).toString('latin1');
    i = colon + 1 + len;
    return str;
  }
  return next();
}

// rtpengine (userspace, one worker thread) driven over ng as Kamailio's rtpengine module would,
// with the flags of a WebRTC <-> RTP/AVP bridge; the same load client and reflector.
class RtpengineGateway {
  constructor(o, dir) {
    this.o = o;
    this.dir = dir;
    this.name = 'rtpengine';
    this.ngPort = 2223;
    this.waiters = new Map();
    this.seq = 0;
  }

  async start() {
    const o = this.o;
    const out = fs.openSync(path.join(this.dir, 'rtpengine.stdout.log'), 'w');
    const err = fs.openSync(path.join(this.dir, 'rtpengine.stderr.log'), 'w');
    const fifo = o.fifo ? ['chrt', '-f', String(o.fifo)] : [];
    const argv = [...fifo, 'taskset', '-a', '-c', o.rtcgwCpu, o.rtpengine, '--config-file=none', '--table=-1',
      '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${this.ngPort}`, '--foreground', '--log-stderr',
      '--dtls-passive', '--num-threads=1', '--port-min=20000', '--port-max=29999', '--log-level=5',
      '--pidfile=none'];
    const child = track(spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, err] }));
    fs.closeSync(out);
    fs.closeSync(err);
    this.child = child;
    this.pid = child.pid;
    this.exitInfo = null;
    child.on('exit', (code, sig) => { this.exitInfo = { code, sig }; });
    this.exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
    this.sock = dgram.createSocket('udp4');
    await new Promise((r) => this.sock.bind(0, '127.0.0.1', r));
    this.sock.on('message', (msg) => {
      const sp = msg.indexOf(0x20);
      const cookie = msg.slice(0, sp).toString();
      const w = this.waiters.get(cookie);
      if (!w) return;
      this.waiters.delete(cookie);
      try { w.resolve(bdecode(msg.slice(sp + 1))); } catch (e) { w.reject(e); }
    });
    const until = Date.now() + 15000;
    for (;;) {
      if (this.exitInfo) throw new Error(`rtpengine exited at start: ${JSON.stringify(this.exitInfo)}`);
      try {
        const r = await this.ng({ command: 'ping' }, 500);
        if (r.result === 'pong') break;
      } catch (_) { /* not yet */ }
      if (Date.now() > until) throw new Error('rtpengine does not answer ng ping within 15 s');
    }
  }

  get exit() { return this.exitInfo; }

  ng(dict, ms = 10000) {
    const cookie = `c${process.pid}_${++this.seq}`;
    const p = new Promise((resolve, reject) => this.waiters.set(cookie, { resolve, reject }));
    this.sock.send(Buffer.from(`${cookie} ${bencode(dict)}`, 'latin1'), this.ngPort, '127.0.0.1');
    return withTimeout(p, ms, `rtpengine ${dict.command}`).finally(() => this.waiters.delete(cookie));
  }

  async setup(id, c, fingerprint) {
    const callId = `bench-${id}-${sip.rand(8)}`;
    const fromTag = sip.newTag();
    const toTag = sip.newTag();
    const ti = Date.now();
    const offer = await this.ng({
      command: 'offer', 'call-id': callId, 'from-tag': fromTag, sdp: browserOffer(c, fingerprint),
      ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'], DTLS: 'off', SDES: ['off'],
      replace: ['origin', 'session-connection'],
    });
    if (offer.result !== 'ok') throw new Error(`rtpengine offer: ${offer['error-reason'] || offer.result}`);
    const coreSdp = [
      'v=0', `o=core ${c.rport} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${c.rport} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', '',
    ].join('\r\n');
    const ans = await this.ng({
      command: 'answer', 'call-id': callId, 'from-tag': fromTag, 'to-tag': toTag, sdp: coreSdp,
      ICE: 'force', 'transport-protocol': 'UDP/TLS/RTP/SAVPF', 'rtcp-mux': ['require'], DTLS: 'passive',
      SDES: ['off'], replace: ['origin', 'session-connection'],
    });
    if (ans.result !== 'ok') throw new Error(`rtpengine answer: ${ans['error-reason'] || ans.result}`);
    const signalMs = Date.now() - ti;
    return {
      answer: parseAnswer(ans.sdp), signalMs,
      teardown: async () => {
        const r = await this.ng({ command: 'delete', 'call-id': callId, 'from-tag': fromTag });
        return r.result;
      },
    };
  }

  async snapshot() { return null; }

  windowFigures(m0, m1, res, wallS, cpuUs) {
    // rtpengine has no per-packet counters here: packets from the load client's own count.
    const pkts = 2 * (res.load.sent + res.load.recv); // each packet crosses rtpengine once each way
    res.gwUsPerPacket = cpuUs / (pkts / 2);
  }

  async afterTeardown(res) {
    const r = await this.ng({ command: 'list' });
    res.callsAfterDelete = Array.isArray(r.calls) ? r.calls.length : null;
  }

  async stop(res) {
    if (this.child && !this.exitInfo) {
      try { process.kill(this.pid, 'SIGTERM'); } catch (_) { /* gone */ }
      try {
        res.gwExit = await withTimeout(this.exited, 6000, 'rtpengine exit');
      } catch (_) {
        try { process.kill(this.pid, 'SIGKILL'); } catch (_) { /* gone */ }
        res.gwExit = await this.exited;
      }
    }
    if (this.sock) this.sock.close();
    const errText = readOr(path.join(this.dir, 'rtpengine.stderr.log'));
    res.gwWarnings = errText.split('\n').filter((l) => /\b(WARNING|ERR|CRIT|warn|error)\b/.test(l)).length;
  }
}

async function gatewayRun(o, n, dir) {
  const res = { n, gateway: o.gateway };
  const load = new Load(o.load, { srtpProfiles: o.srtpProfiles, dir });
  const gw = o.gateway === 'rtpengine' ? new RtpengineGateway(o, dir) : new RtcgwGateway(o, dir);
  try {
    await load.ready();
    await gw.start();
    const cpuStart = cpuOf(gw.pid);
    res.gwNice = os.getPriority(gw.pid);
    res.gwAffinity = execFileSync('taskset', ['-p', String(gw.pid)]).toString().trim().split(' ').pop();

    // Set-up.
    const t0 = Date.now();
    const signalMs = [];
    const dtlsMs = [];
    const profiles = {};
    const failures = {};
    const calls = await pool(Array.from({ length: n }, (_, i) => i + 1), o.concurrency, async (id) => {
      try {
        const c = await load.call(id);
        const s = await gw.setup(id, c, load.fingerprint);
        signalMs.push(s.signalMs);
        const up = await load.answer(id, s.answer);
        if (up.startsWith('FAIL')) throw new Error(up);
        const [, , profile, ms] = up.split(' ');
        profiles[profile] = (profiles[profile] || 0) + 1;
        dtlsMs.push(Number(ms));
        return { id, ok: true, answer: s.answer, teardown: s.teardown };
      } catch (e) {
        const why = String(e.message || e).split('\n')[0].slice(0, 120);
        failures[why] = (failures[why] || 0) + 1;
        return { id, ok: false, why };
      }
    });
    res.setupS = (Date.now() - t0) / 1000;
    const up = calls.filter((c) => c.ok);
    res.callsUp = up.length;
    res.failures = failures;
    res.profiles = profiles;
    signalMs.sort((a, b) => a - b);
    dtlsMs.sort((a, b) => a - b);
    res.signalMsP50 = pct(signalMs, 0.5);
    res.signalMsP99 = pct(signalMs, 0.99);
    res.iceDtlsMsP50 = pct(dtlsMs, 0.5);
    res.iceDtlsMsP99 = pct(dtlsMs, 0.99);
    if (up.length) res.answerSample = up[0].answer;
    if (gw.exit) throw new Error(`${gw.name} died during set-up: ${JSON.stringify(gw.exit)}; failures ${JSON.stringify(failures)}`);
    const cpuSetup = cpuOf(gw.pid);
    res.setupCpuMsPerCall = up.length ? (cpuSetup.statUs - cpuStart.statUs) / 1000 / up.length : NaN;
    log(`N=${n}: ${up.length} calls up through ${gw.name} in ${res.setupS.toFixed(1)} s; failures ${JSON.stringify(failures)}`);

    // Steady window.
    await sleep(o.settle * 1000);
    const m0 = await gw.snapshot();
    // BENCH_PERF=1: perf record of the gateway over the window (changes the CPU figures a little).
    let perf = null;
    if (process.env.BENCH_PERF) {
      perf = track(spawn('perf', ['record', '-q', '-g', '-p', String(gw.pid), '-o', path.join(dir, `perf-${gw.name}.data`),
        '--', 'sleep', String(o.window)], { stdio: 'ignore' }));
    }
    const udp0 = udpErrors();
    const w = await load.windowAround(o.window, () => cpuOf(gw.pid), () => cpuOf(gw.pid));
    const udp1 = udpErrors();
    res.udpErrorsInWindow = {};
    for (const k of Object.keys(udp0)) res.udpErrorsInWindow[k] = udp1[k] - udp0[k];
    if (perf) await new Promise((r) => (perf.exitCode !== null ? r() : perf.on('exit', r)));
    const m1 = await gw.snapshot();
    const wallS = Number(w.after.t - w.before.t) / 1e9;
    const cpuUs = w.after.statUs - w.before.statUs;
    const schedUs = w.after.schedUs - w.before.schedUs;
    res.windowS = wallS;
    res.gwThreads = w.after.threads;
    res.gwCpuPct = (100 * cpuUs) / (wallS * 1e6);
    res.gwCpuPctSched = (100 * schedUs) / (wallS * 1e6);
    res.gwSwitchesPerS = (w.after.switches - w.before.switches) / wallS;
    res.gwRunqueueWaitPct = (100 * (w.after.waitUs - w.before.waitUs)) / (wallS * 1e6);
    res.sched = o.fifo ? `SCHED_FIFO ${o.fifo}` : 'SCHED_OTHER';
    res.usPerCallSecond = cpuUs / (wallS * res.callsUp);
    res.usPerCallSecondSched = schedUs / (wallS * res.callsUp);
    res.load = w.stats;
    gw.windowFigures(m0, m1, res, wallS, cpuUs);

    // Tear-down: media stops (close_notify, as a browser closing its PeerConnection), then BYE
    // (or rtpengine's delete).
    await load.hangup();
    const byeStatus = {};
    await pool(up, o.concurrency, async (c) => {
      let st;
      try { st = await c.teardown(); } catch (e) { st = 'timeout'; }
      byeStatus[st] = (byeStatus[st] || 0) + 1;
    });
    res.byeStatus = byeStatus;
    await gw.afterTeardown(res);
  } finally {
    await gw.stop(res);
    await load.quit();
  }
  return res;
}

function fmt(x, d = 0) { return Number.isFinite(x) ? x.toFixed(d) : '-'; }

async function main() {
  const o = parseArgs(process.argv.slice(2));
  Load.fifo = o.fifo;
  log(`results and logs in ${o.out}`);
  const sha = (f) => require('node:crypto').createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 16);
  const info = { started: new Date().toISOString(), argv: process.argv.slice(2), loadClient: sha(o.load),
    rtcgwBinary: o.rtcgw && fs.existsSync(o.rtcgw) ? sha(o.rtcgw) : null, kernel: os.release(), cpus: os.cpus().map((c) => c.model) };
  fs.writeFileSync(path.join(o.out, 'run.json'), JSON.stringify(info, null, 2));
  log(`rtcgw binary sha256 ${info.rtcgwBinary}`);
  const all = [];
  const header = 'gateway    N     up  cpu_us/call-s  cpu%core  pkts_sent  pkts_recv  loss%    rtt_p50  rtt_p99  base_p50  base_p99  added_p50  added_p99  jit_p99  load_cpu%  srtp';
  const lines = [];
  for (const n of o.ns) {
    const dir = path.join(o.out, `n${n}`);
    fs.mkdirSync(dir, { recursive: true });
    log(`N=${n}: direct baseline (${o.baselineWindow} s)`);
    const base = await baseline(o, n, dir);
    log(`N=${n}: baseline rtt p50 ${base.rtt_p50_us} us p99 ${base.rtt_p99_us} us, loss ${base.loss_pct} %`);
    for (const g of o.gateways) {
      const gdir = path.join(dir, g);
      fs.mkdirSync(gdir, { recursive: true });
      const loadavg = os.loadavg();
      const r = await gatewayRun({ ...o, gateway: g }, n, gdir);
      r.baseline = base;
      r.loadavgBefore = loadavg;
      r.loadavgAfter = os.loadavg();
      r.addedP50Us = r.load.rtt_p50_us - base.rtt_p50_us;
      r.addedP99Us = r.load.rtt_p99_us - base.rtt_p99_us;
      all.push(r);
      fs.writeFileSync(path.join(gdir, 'result.json'), JSON.stringify(r, null, 2));
      const line = [
        g.padEnd(10), String(n).padEnd(5), String(r.callsUp).padStart(3), fmt(r.usPerCallSecond).padStart(14),
        fmt(r.gwCpuPct, 1).padStart(9), String(r.load.sent).padStart(10), String(r.load.recv).padStart(10),
        fmt(r.load.loss_pct, 3).padStart(6), fmt(r.load.rtt_p50_us).padStart(9), fmt(r.load.rtt_p99_us).padStart(8),
        fmt(base.rtt_p50_us).padStart(9), fmt(base.rtt_p99_us).padStart(9), fmt(r.addedP50Us).padStart(10),
        fmt(r.addedP99Us).padStart(10), fmt(r.load.jitter_p99_us).padStart(8), fmt(r.load.load_cpu_pct, 1).padStart(10),
        '  ' + Object.entries(r.profiles).map(([k, v]) => `${k}x${v}`).join(','),
      ].join(' ');
      lines.push(line);
      log(`N=${n}: ${line}`);
      log(`N=${n} ${g}: setup ${r.setupS.toFixed(1)} s, signalling p50/p99 ${r.signalMsP50}/${r.signalMsP99} ms, ` +
        `ICE+DTLS p50/p99 ${r.iceDtlsMsP50}/${r.iceDtlsMsP99} ms, setup CPU ${fmt(r.setupCpuMsPerCall, 2)} ms/call; ` +
        `${fmt(r.gwSwitchesPerS)} context switches/s, waited runnable ${fmt(r.gwRunqueueWaitPct, 1)} % of the window (${r.sched}); ` +
        `schedstat ${fmt(r.usPerCallSecondSched)} us/call-s; ${fmt(r.gwUsPerPacket, 2)} us/packet; ` +
        `drops ${JSON.stringify(r.gwDropsInWindow || {})}; UDP errors ${JSON.stringify(r.udpErrorsInWindow)}; ` +
        `teardown ${JSON.stringify(r.byeStatus)}; after: ports ${r.portsAfterBye}, sessions ${r.sessionsAfterBye}, ` +
        `rtpengine calls ${r.callsAfterDelete}; warnings in log ${r.gwWarnings}; loadavg ${loadavg.map((x) => x.toFixed(2)).join(' ')}`);
    }
  }
  fs.writeFileSync(path.join(o.out, 'results.json'), JSON.stringify(all, null, 2));
  console.log('media relay, SRTP (browser side) <-> RTP (network side), PCMU 20 ms; rtt/base/added/jitter in us;');
  console.log('rtt = round trip load client -> gateway -> reflector -> gateway -> load client; base = the same load');
  console.log('client straight into its reflector (no gateway); added = rtt - base at p50 / p99 (two traversals)');
  console.log(header);
  for (const l of lines) console.log(l);
  let bad = false;
  for (const r of all) {
    if (r.gateway === 'rtcgw' && (r.portsAfterBye !== 0 || r.sessionsAfterBye !== 0)) {
      console.log(`N=${r.n}: rtcgw_media_ports_in_use ${r.portsAfterBye}, rtcgw_media_sessions ${r.sessionsAfterBye} after BYE (expected 0)`);
      bad = true;
    }
    if (r.callsUp !== r.n) {
      console.log(`${r.gateway} N=${r.n}: only ${r.callsUp} calls set up: ${JSON.stringify(r.failures)}`);
      bad = true;
    }
  }
  console.log(`details: ${o.out}/results.json`);
  process.exitCode = bad ? 1 : 0;
}

main().catch((e) => {
  log(`failed: ${e.stack || e}`);
  process.exitCode = 2;
});
