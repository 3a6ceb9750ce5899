'use strict';
// Steps several tests share: registering a client through rtcgw to sipp, checks on what rtcgw
// relays, and the end-of-test daemon checks.

const assert = require('node:assert/strict');
const sip = require('./sip');
const { WsSipClient } = require('./wsclient');

const PASSWORD = 'secret123';
const TOKEN_RE = /^[A-Za-z0-9_-]+$/; // base64url

// Parses an rtcgw Path/Record-Route entry: <sip:TOKEN@host:port;params>.
function parseOwnUri(value) {
  const m = value.match(/^<sip:([^@>]+)@([0-9.]+):(\d+)((?:;[^>]*)?)>/);
  if (!m) return null;
  const params = {};
  for (const p of m[4].split(';').filter(Boolean)) {
    const [k, v] = p.split('=');
    params[k.toLowerCase()] = v === undefined ? true : v;
  }
  return { token: m[1], host: m[2], port: Number(m[3]), params };
}

// Registers `client` through rtcgw to a sipp registrar (uas_register.xml on rt.pcscfPort):
// 401, then 200. Returns {ok, pathValue, pathRoute, sipp, sent}.
async function register(env, rt, client, { calls = 1, extra = [] } = {}) {
  const sipp = await env.startSipp('uas_register.xml', {
    port: rt.pcscfPort, keys: { password: PASSWORD }, calls,
  });
  const r = await client.registerWithAuth({ password: PASSWORD, extra });
  assert.ok(r.challenge, `REGISTER first answered ${r.final && r.final.status}, expected 401`);
  assert.equal(r.challenge.status, 401);
  assert.equal(r.final.status, 200, `REGISTER with credentials answered ${r.final.status}`);
  if (calls === 1) await sipp.expectPass();
  const pathValue = r.ok.get('path');
  assert.ok(pathValue, '200 to REGISTER relayed without the Path the registrar echoed');
  return { ok: r.ok, challenge: r.challenge, pathValue, pathRoute: sip.splitList(pathValue)[0], sipp, sent: r.sent,
    authorization: r.authorization };
}

// A response relayed to the browser must carry exactly the browser's Via (rtcgw's removed).
function assertOnlyBrowserVia(client, msg, branch) {
  const vias = msg.all('via');
  assert.equal(vias.length, 1, `response ${msg.describe()} has ${vias.length} Via values: ${vias.join(' | ')}`);
  assert.match(vias[0], new RegExp(`^SIP/2\\.0/WS ${client.viaHost.replace(/\./g, '\\.')};`),
    `relayed response Via is not the browser's: ${vias[0]}`);
  if (branch) assert.equal(sip.paramOf(vias[0], 'branch'), branch, 'relayed response Via branch changed');
}

// The two Record-Route entries of rtcgw on a dialog created by the browser (network side on top).
function assertOriginatingRR(rt, rrs) {
  assert.equal(rrs.length, 2, `expected 2 Record-Route entries, got ${rrs.length}: ${rrs.join(' | ')}`);
  const net = parseOwnUri(rrs[0]);
  const ws = parseOwnUri(rrs[1]);
  assert.ok(net && ws, `Record-Route entries unparseable: ${rrs.join(' | ')}`);
  assert.equal(net.port, rt.sipPort, `top Record-Route is not the SIP side: ${rrs[0]}`);
  assert.equal(net.params.transport, 'udp');
  assert.equal(ws.port, rt.wsPort, `second Record-Route is not the WebSocket side: ${rrs[1]}`);
  assert.equal(ws.params.transport, 'ws');
  for (const e of [net, ws]) {
    assert.ok(e.params.lr, 'Record-Route without ;lr');
    assert.equal(e.params.r2, 'on', 'double Record-Route without r2=on (RFC 5658)');
    assert.match(e.token, TOKEN_RE);
  }
  assert.equal(net.token, ws.token, 'the two Record-Route entries name different flows');
  return { net, ws };
}

// Stops rtcgw: exit 0 within 5 s, no sanitizer report.
async function assertCleanStop(rt) {
  const r = await rt.stop(5000);
  assert.equal(r.signal, null, `rtcgw died by signal ${r.signal}`);
  assert.equal(r.code, 0, `rtcgw exited ${r.code} on SIGTERM`);
  const reports = rt.sanitizerReports();
  assert.deepEqual(reports, [], `sanitizer reports in rtcgw's output:\n${reports.join('\n')}`);
}

async function connect(rt, opts = {}) {
  const c = await WsSipClient.connect(rt.wsUrl, opts);
  return c;
}

module.exports = {
  PASSWORD, TOKEN_RE, parseOwnUri, register, assertOnlyBrowserVia, assertOriginatingRR, assertCleanStop,
  connect,
};
