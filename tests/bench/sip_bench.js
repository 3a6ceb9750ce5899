#!/usr/bin/env node
'use strict';
// The signalling benchmark's driver (tests/bench/README.md): REGISTER over WebSocket through the
// gateway to a registrar on UDP (sipp, tests/bench/sipp_register_200.xml), at fixed offered
// rates, side by side with Kamailio 5.6 as the WebSocket edge proxy (kamailio_ws_edge.cfg).
// Meant to run through run_sip_bench.sh (Release build, private network namespace, the gateway
// pinned to core 1, everything else on core 0).
//
//   node tests/bench/sip_bench.js [--rtcgw BIN] [--gateways rtcgw,kamailio] [--rates 1000,3000]
//        [--window 10] [--warmup 8] [--conns 50] [--transport udp|tcp] [--fifo PRIO] [--out DIR]
//
// Per gateway and rate: a fresh gateway and registrar; --conns WebSocket connections (one
// "browser" each, its own AOR, Contact and +sip.instance, as JsSIP registers); the driver sends
// REGISTERs round the connections at the offered rate (each a new Call-ID: an initial
// registration), --warmup seconds first (8 by default: past Timer K, 5 s, of the gateway's UDP
// client transactions, after which a gateway's cost per request settles; docs/performance.md),
// then a --window in which the gateway's CPU (utime+stime
// of its process and every child, /proc) and every answer are counted. A REGISTER not answered
// within 2 s of the window's end is a failure. Printed: answered 200/s, success %, latency p50 /
// p99 (WebSocket send to 200 received), the gateway's CPU in % of a core and in ms per REGISTER.
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { sleep, withTimeout, httpGet } = require('../integration/lib/harness');

const HERE = __dirname;
const WS_PORT = 8080;
const SIP_PORT = 5070;
const REGISTRAR_PORT = 5060;
const METRICS_PORT = 9090;

function parseArgs(argv) {
  const o = { gateways: ['rtcgw'], rates: [1000, 3000, 6000], window: 10, warmup: 8, conns: 50,
    fifo: 0, rtcgw: null, out: null, gwCpu: '1', transport: 'udp' };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--rtcgw') o.rtcgw = v();
    else if (a === '--gateways') o.gateways = v().split(',');
    else if (a === '--rates') o.rates = v().split(',').map(Number);
    else if (a === '--window') o.window = Number(v());
    else if (a === '--warmup') o.warmup = Number(v());
    else if (a === '--conns') o.conns = Number(v());
    else if (a === '--fifo') o.fifo = Number(v());
    else if (a === '--transport') o.transport = v();
    else if (a === '--out') o.out = v();
    else throw new Error(`unknown argument ${a}`);
  }
  for (const g of o.gateways) if (!['rtcgw', 'kamailio'].includes(g)) throw new Error('--gateways rtcgw,kamailio');
  if (o.gateways.includes('rtcgw') && !o.rtcgw) throw new Error('--rtcgw is required');
  if (o.rates.some((r) => !(r > 0))) throw new Error('--rates: positive numbers');
  if (!['udp', 'tcp'].includes(o.transport)) throw new Error('--transport udp|tcp');
  if (!o.out) o.out = fs.mkdtempSync(path.join(os.tmpdir(), 'rtcgw-sip-bench-'));
  fs.mkdirSync(o.out, { recursive: true });
  return o;
}

const { track, log, pct, rtcgwYaml } = require('./bench_util');

function start(dir, name, argv) {
  const out = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = track(spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] }));
  fs.closeSync(out);
  const p = { child, pid: child.pid, exit: null };
  p.exited = new Promise((r) => child.on('exit', (code, sig) => { p.exit = { code, sig }; r(p.exit); }));
  return p;
}

async function stop(p, sig = 'SIGTERM') {
  if (p.exit) return p.exit;
  try { process.kill(p.pid, sig); } catch (_) { /* gone */ }
  try {
    return await withTimeout(p.exited, 6000, `exit of ${p.pid}`);
  } catch (_) {
    try { process.kill(p.pid, 'SIGKILL'); } catch (_) { /* gone */ }
    return p.exited;
  }
}

// ---- CPU of a process and its descendants (Kamailio forks its workers) -----------------------
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function processTree(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch (_) { /* gone */ }
  }
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, pp] of parent) {
      if (!tree.has(pid) && tree.has(pp)) { tree.add(pid); grew = true; }
    }
  }
  return [...tree];
}

// utime+stime in microseconds, summed over `pids` (each process's figure covers its threads).
function cpuUs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch (_) { /* gone */ }
  }
  return (ticks * 1e6) / CLK_TCK;
}

// ---- gateways ------------------------------------------------------------------------------
function pinned(o, argv) {
  const fifo = o.fifo ? ['chrt', '-f', String(o.fifo)] : [];
  return [...fifo, 'taskset', '-a', '-c', o.gwCpu, ...argv];
}

async function wsReady(until) {
  for (;;) {
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${WS_PORT}`, ['sip'], { origin: 'http://127.0.0.1' });
      await withTimeout(new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); }), 1000, 'ws');
      ws.close();
      return;
    } catch (_) { /* not yet */ }
    if (Date.now() > until) throw new Error('gateway WebSocket not open within 15 s');
    await sleep(100);
  }
}

async function startGateway(o, g, dir) {
  if (g === 'rtcgw') {
    const cfg = path.join(dir, 'rtcgw.yaml');
    fs.writeFileSync(cfg, rtcgwYaml({ wsPort: WS_PORT, sipPort: SIP_PORT, pcscfPort: REGISTRAR_PORT,
      metricsPort: METRICS_PORT, transport: o.transport }));
    const p = start(dir, 'rtcgw', pinned(o, [o.rtcgw, '--config', cfg]));
    const until = Date.now() + 15000;
    for (;;) {
      if (p.exit) throw new Error(`rtcgw exited at start: ${JSON.stringify(p.exit)}`);
      try { if ((await httpGet(METRICS_PORT, '/health', 1000)).status === 200) break; } catch (_) { /* not yet */ }
      if (Date.now() > until) throw new Error('rtcgw not healthy within 15 s');
      await sleep(100);
    }
    await wsReady(until);
    return p;
  }
  // -m: shared memory in MB. tm keeps each finished transaction for its wait timer (5 s), so at
  // 6,000/s the default 64 MB runs out and Kamailio answers 500 (seen here).
  const p = start(dir, 'kamailio', pinned(o, ['kamailio', '-DD', '-E', '-m', '2048', '-M', '32',
    '-f', path.join(HERE, 'kamailio_ws_edge.cfg'),
    '-Y', dir, '-l', `udp:127.0.0.1:${SIP_PORT}`, '-l', `tcp:127.0.0.1:${WS_PORT}`,
    '-A', `REGISTRAR="sip:127.0.0.1:${REGISTRAR_PORT};transport=${o.transport}"`]));
  await wsReady(Date.now() + 15000);
  return p;
}

// ---- the load: WebSocket "browsers" sending REGISTER ----------------------------------------
class Load {
  constructor() {
    this.conns = [];
    this.next = 0;
    this.seq = 0;
    this.pending = new Map(); // Call-ID -> send time (hrtime ns)
    this.reset();
  }

  reset() {
    this.counting = false;
    this.sent = 0;
    this.ok = 0;
    this.failed = 0;
    this.statuses = {};
    this.lat = [];
  }

  async open(n) {
    for (let i = 0; i < n; ++i) {
      const ws = new WebSocket(`ws://127.0.0.1:${WS_PORT}`, ['sip'], { origin: 'http://127.0.0.1', perMessageDeflate: false });
      await withTimeout(new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); }), 5000, 'ws open');
      const host = `${crypto.randomBytes(6).toString('hex')}.invalid`;
      const c = {
        ws, user: `bench${i}`, host, contact: `sip:${crypto.randomBytes(4).toString('hex')}@${host};transport=ws`,
        instance: `<urn:uuid:${crypto.randomUUID()}>`, tag: crypto.randomBytes(5).toString('hex'),
      };
      ws.on('message', (d) => this.onAnswer(d.toString()));
      ws.on('error', () => { /* counted as unanswered */ });
      this.conns.push(c);
    }
  }

  send() {
    const c = this.conns[this.next];
    this.next = (this.next + 1) % this.conns.length;
    const n = ++this.seq;
    const callId = `${n.toString(36)}${c.tag}`;
    const aor = `sip:${c.user}@ims.example.net`;
    const msg = `REGISTER sip:ims.example.net SIP/2.0\r\n` +
      `Via: SIP/2.0/WSS ${c.host};branch=z9hG4bK${n.toString(36)}x${c.tag}\r\n` +
      'Max-Forwards: 69\r\n' +
      `To: <${aor}>\r\n` +
      `From: <${aor}>;tag=${c.tag}\r\n` +
      `Call-ID: ${callId}\r\n` +
      'CSeq: 1 REGISTER\r\n' +
      `Contact: <${c.contact}>;+sip.ice;reg-id=1;+sip.instance="${c.instance}";expires=600\r\n` +
      'Expires: 600\r\n' +
      'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n' +
      'Supported: path,gruu,outbound\r\n' +
      'User-Agent: JsSIP 3.10.0\r\n' +
      'Content-Length: 0\r\n\r\n';
    if (this.counting) {
      this.pending.set(callId, process.hrtime.bigint());
      ++this.sent;
    }
    c.ws.send(msg);
  }

  onAnswer(s) {
    const status = s.slice(8, 11);
    if (status === '100') return;
    const m = /\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)/i.exec(s);
    if (!m) return;
    const t0 = this.pending.get(m[1].trim());
    if (t0 === undefined) return;
    this.pending.delete(m[1].trim());
    if (status === '200') {
      ++this.ok;
      this.lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } else {
      ++this.failed;
      this.statuses[status] = (this.statuses[status] || 0) + 1;
    }
  }

  // Sends at `rate` per second for `ms`, in steps of about 1 ms.
  async drive(rate, ms) {
    const t0 = Date.now();
    let done = 0;
    for (;;) {
      const el = Date.now() - t0;
      if (el >= ms) break;
      const due = Math.floor((el * rate) / 1000);
      while (done < due) { this.send(); ++done; }
      await sleep(1);
    }
  }

  close() {
    for (const c of this.conns) c.ws.terminate();
  }
}

async function run(o, g, rate, dir) {
  const registrar = start(dir, 'sipp', ['taskset', '-c', '0', 'sipp', '-sf', path.join(HERE, 'sipp_register_200.xml'),
    '-i', '127.0.0.1', '-p', String(REGISTRAR_PORT), '-nostdin', '-max_socket', '65536',
    '-t', o.transport === 'tcp' ? 't1' : 'u1']);
  let gw = null;
  const load = new Load();
  try {
    await sleep(300);
    if (registrar.exit) throw new Error(`sipp exited at start: ${JSON.stringify(registrar.exit)}`);
    gw = await startGateway(o, g, dir);
    await load.open(o.conns);
    await load.drive(rate, o.warmup * 1000);
    await sleep(200);
    load.reset();
    load.counting = true;
    const pids = processTree(gw.pid);
    const c0 = cpuUs(pids);
    const t0 = process.hrtime.bigint();
    await load.drive(rate, o.window * 1000);
    const c1 = cpuUs(pids);
    const t1 = process.hrtime.bigint();
    load.counting = false;
    const drainUntil = Date.now() + 2000;
    while (load.pending.size && Date.now() < drainUntil) await sleep(20);
    const unanswered = load.pending.size;
    const wallS = Number(t1 - t0) / 1e9;
    const lat = load.lat.sort((a, b) => a - b);
    const r = {
      gateway: g, rate, conns: o.conns, windowS: wallS, sent: load.sent, ok: load.ok, failed: load.failed, unanswered,
      failedStatuses: load.statuses,
      okPerS: load.ok / wallS, successPct: load.sent ? (100 * load.ok) / load.sent : NaN,
      latP50Ms: pct(lat, 0.5), latP99Ms: pct(lat, 0.99),
      cpuPct: (100 * (c1 - c0)) / (wallS * 1e6), cpuMsPerRegister: (c1 - c0) / 1000 / Math.max(1, load.ok),
      processes: pids.length,
    };
    return r;
  } finally {
    load.close();
    if (gw) await stop(gw);
    await stop(registrar, 'SIGKILL');
  }
}

function fmt(x, d = 0) { return Number.isFinite(x) ? x.toFixed(d) : '-'; }

async function main() {
  const o = parseArgs(process.argv.slice(2));
  log(`results and logs in ${o.out}`);
  const all = [];
  const header = 'gateway    offered/s  200/s    success%  p50_ms  p99_ms  cpu%core  cpu_ms/REGISTER  failed  unanswered';
  const lines = [];
  for (const rate of o.rates) {
    for (const g of o.gateways) {
      const dir = path.join(o.out, `${g}-${rate}`);
      fs.mkdirSync(dir, { recursive: true });
      const r = await run(o, g, rate, dir);
      all.push(r);
      const line = [g.padEnd(10), String(rate).padStart(9), fmt(r.okPerS).padStart(6), fmt(r.successPct, 2).padStart(10),
        fmt(r.latP50Ms, 2).padStart(7), fmt(r.latP99Ms, 2).padStart(7), fmt(r.cpuPct, 1).padStart(9),
        fmt(r.cpuMsPerRegister, 4).padStart(16), String(r.failed).padStart(7), String(r.unanswered).padStart(11)].join(' ');
      lines.push(line);
      log(line);
      if (r.failed) log(`${g} at ${rate}/s: failed answers by status ${JSON.stringify(r.failedStatuses)}`);
      await sleep(500);
    }
  }
  fs.writeFileSync(path.join(o.out, 'results.json'), JSON.stringify(all, null, 2));
  console.log(`REGISTER over WebSocket -> gateway -> ${o.transport.toUpperCase()} registrar (200, no challenge); ${o.conns} connections;`);
  console.log(`${o.window} s window after ${o.warmup} s warm-up; gateway pinned to core ${o.gwCpu}, the rest on core 0`);
  console.log(header);
  for (const l of lines) console.log(l);
  console.log(`details: ${o.out}/results.json`);
}

main().catch((e) => {
  log(`failed: ${e.stack || e}`);
  process.exit(2); // the exit handler stops every child still running
});
