'use strict';
// The media anchor as the two SIP sides see it: every SDP body rtcgw relays is rewritten (WebRTC
// SAVPF/ICE/DTLS towards the browser, plain RTP/AVP towards the core), unusable offers are
// answered 488 on their sender's side, the anchor's three ports are released however the call
// ends, and a call with no media is ended by rtcgw with a BYE to each side.
// The core is a FakeCore (UDP, lib/harness.js) playing P-CSCF and far end at once.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Env, freePort, sleep, responseTo, metricSum } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');
const { chromeOffer, chromeAnswer } = require('./lib/wsclient');

const REASON = 'RELEASE_CAUSE;cause=2;text="RTP/RTCP time-out"';
// Attributes of WebRTC that must never reach the core.
const WEBRTC_ATTRS = ['ice-ufrag', 'ice-pwd', 'ice-options', 'ice-lite', 'candidate', 'end-of-candidates',
  'fingerprint', 'setup', 'mid', 'group', 'rtcp-mux', 'rtcp', 'extmap', 'extmap-allow-mixed', 'ssrc',
  'ssrc-group', 'msid', 'msid-semantic', 'rtcp-fb', 'rtcp-rsize'];
// What a browser's answer must not get back from its own offer.
const BROWSER_ONLY_ATTRS = ['ssrc', 'msid', 'msid-semantic', 'extmap', 'extmap-allow-mixed', 'rtcp-fb', 'ice-options'];
const DIRECTIONS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

// ---- SDP -------------------------------------------------------------------------------------
// Parses SDP into {o, s, c, attrs, bw, media: [{type, port, proto, fmts, c, attrs, bw}]}; every
// line must be type=value and end with CRLF.
function parseSdp(text) {
  assert.ok(text && text.length > 0, 'no SDP body');
  const lines = text.split('\r\n');
  assert.equal(lines.pop(), '', `SDP does not end with CRLF: ${JSON.stringify(text.slice(-20))}`);
  const sess = { v: null, o: null, s: null, t: null, c: null, attrs: [], bw: [], media: [] };
  let cur = sess;
  for (const l of lines) {
    const m = l.match(/^([a-z])=(.*)$/);
    assert.ok(m, `SDP line is not type=value: ${JSON.stringify(l)} in\n${text}`);
    const [, type, value] = m;
    if (type === 'm') {
      const [mtype, port, proto, ...fmts] = value.split(' ');
      cur = { type: mtype, port: Number(port), proto, fmts, c: null, attrs: [], bw: [] };
      sess.media.push(cur);
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      cur.attrs.push(colon < 0 ? { name: value, value: '' } : { name: value.slice(0, colon), value: value.slice(colon + 1) });
    } else if (type === 'c') {
      cur.c = value;
    } else if (type === 'b') {
      cur.bw.push(value);
    } else if (cur === sess) {
      assert.ok(sess[type] === null, `session line ${type}= twice`);
      sess[type] = value;
    } else {
      assert.fail(`unexpected ${type}= line in a media section: ${l}`);
    }
  }
  assert.equal(sess.v, '0', 'v= is not 0');
  assert.ok(sess.o && sess.s !== null && sess.t, `SDP without o=, s= or t=:\n${text}`);
  return sess;
}

const attrVals = (x, name) => x.attrs.filter((a) => a.name === name).map((a) => a.value);
const attrVal = (x, name) => attrVals(x, name)[0];
const hasAttr = (x, name) => x.attrs.some((a) => a.name === name);
function direction(m) {
  const d = m.attrs.filter((a) => DIRECTIONS.includes(a.name)).map((a) => a.name);
  assert.ok(d.length <= 1, `more than one direction attribute: ${d.join(', ')}`);
  return d[0] || 'sendrecv';
}
// {pt: 'encoding/rate[/channels]'} of a media section.
function rtpmaps(m) {
  const out = {};
  for (const v of attrVals(m, 'rtpmap')) {
    const [pt, enc] = v.split(' ');
    assert.ok(!(pt in out), `a=rtpmap:${pt} twice`);
    out[pt] = enc;
  }
  return out;
}
function fmtps(m) {
  const out = {};
  for (const v of attrVals(m, 'fmtp')) {
    const sp = v.indexOf(' ');
    out[v.slice(0, sp)] = v.slice(sp + 1);
  }
  return out;
}
function origin(sess) {
  const f = sess.o.split(' ');
  assert.equal(f.length, 6, `o= line: ${sess.o}`);
  return { user: f[0], id: f[1], version: BigInt(f[2]), net: f[3], atype: f[4], addr: f[5] };
}
function inRange(port, range) { return port >= range[0] && port <= range[1]; }

// The body of a relayed message must match its Content-Length and be typed application/sdp.
function sdpOf(msg, what) {
  assert.ok(msg.body.length > 0, `${what} carries no SDP`);
  assert.equal(Number(msg.get('content-length')), Buffer.byteLength(msg.body, 'latin1'),
    `${what}: Content-Length does not match the body`);
  assert.match(msg.get('content-type') || '', /^application\/sdp$/i, `${what}: Content-Type`);
  return parseSdp(msg.body);
}

// An RTP/AVP SDP towards the core. `fmts`/`maps`: expected payload types and rtpmaps exactly.
function assertNetworkSdp(sess, { range, fmts, maps, dir = 'sendrecv', what }) {
  const o = origin(sess);
  assert.deepEqual([o.net, o.atype, o.addr], ['IN', 'IP4', '127.0.0.1'], `${what}: o= ${sess.o}`);
  assert.equal(sess.media.length, 1, `${what}: ${sess.media.length} m= lines`);
  const m = sess.media[0];
  assert.equal(m.c || sess.c, 'IN IP4 127.0.0.1', `${what}: connection address is not media.address`);
  assert.equal(m.type, 'audio');
  assert.equal(m.proto, 'RTP/AVP', `${what}: m= protocol`);
  assert.ok(inRange(m.port, range) && inRange(m.port + 1, range), `${what}: RTP port ${m.port} (and RTCP) not in media.port_range ${range}`);
  assert.equal(m.port % 2, 0, `${what}: RTP port ${m.port} is odd`);
  assert.deepEqual(m.fmts, fmts, `${what}: payload types`);
  assert.deepEqual(rtpmaps(m), maps, `${what}: rtpmaps`);
  assert.ok(!Object.values(rtpmaps(m)).some((e) => /^opus\//i.test(e)), `${what}: opus offered to the core`);
  const as = [...sess.bw, ...m.bw].filter((b) => b.startsWith('AS:'));
  assert.equal(as.length, 1, `${what}: expected one b=AS, got ${JSON.stringify([...sess.bw, ...m.bw])}`);
  assert.match(as[0], /^AS:[1-9]\d*$/);
  for (const x of [sess, m]) {
    for (const name of WEBRTC_ATTRS) assert.ok(!hasAttr(x, name), `${what}: a=${name} towards the core`);
  }
  assert.equal(direction(m), dir, `${what}: direction`);
  return { port: m.port, origin: o, m };
}

// A SAVPF SDP towards the browser (answer or offer), our ICE-lite side.
function assertBrowserSdp(sess, { range, fmts, maps, setup, mid = '0', dir = 'sendrecv', notPorts = [], what }) {
  const o = origin(sess);
  assert.deepEqual([o.net, o.atype, o.addr], ['IN', 'IP4', '127.0.0.1'], `${what}: o= ${sess.o}`);
  assert.ok(hasAttr(sess, 'ice-lite'), `${what}: no a=ice-lite`);
  assert.deepEqual(attrVals(sess, 'group'), [`BUNDLE ${mid}`], `${what}: a=group`);
  assert.equal(sess.media.length, 1, `${what}: ${sess.media.length} m= lines`);
  const m = sess.media[0];
  assert.equal(m.c || sess.c, 'IN IP4 127.0.0.1', `${what}: connection address`);
  assert.equal(m.type, 'audio');
  assert.equal(m.proto, 'UDP/TLS/RTP/SAVPF', `${what}: m= protocol`);
  assert.ok(inRange(m.port, range), `${what}: port ${m.port} not in media.port_range ${range}`);
  for (const p of notPorts) assert.notEqual(m.port, p, `${what}: browser leg on a network-side port ${p}`);
  assert.deepEqual(m.fmts, fmts, `${what}: payload types`);
  assert.deepEqual(rtpmaps(m), maps, `${what}: rtpmaps`);
  assert.deepEqual(attrVals(m, 'mid'), [mid], `${what}: a=mid`);
  const ufrag = attrVal(m, 'ice-ufrag') || attrVal(sess, 'ice-ufrag');
  const pwd = attrVal(m, 'ice-pwd') || attrVal(sess, 'ice-pwd');
  assert.match(ufrag || '', /^[A-Za-z0-9+/]{4,256}$/, `${what}: a=ice-ufrag`);
  assert.match(pwd || '', /^[A-Za-z0-9+/]{22,256}$/, `${what}: a=ice-pwd`);
  const fp = attrVal(m, 'fingerprint') || attrVal(sess, 'fingerprint');
  assert.match(fp || '', /^sha-256 [0-9A-F]{2}(:[0-9A-F]{2}){31}$/, `${what}: a=fingerprint`);
  assert.deepEqual(attrVals(m, 'setup'), [setup], `${what}: a=setup`);
  assert.ok(hasAttr(m, 'rtcp-mux'), `${what}: no a=rtcp-mux`);
  const cands = attrVals(m, 'candidate');
  assert.equal(cands.length, 1, `${what}: candidates ${JSON.stringify(cands)}`);
  const c = cands[0].match(/^(\S+) 1 (?:udp|UDP) (\d+) (\S+) (\d+) typ host(?: |$)/);
  assert.ok(c, `${what}: candidate is not a UDP host candidate for component 1: ${cands[0]}`);
  assert.equal(c[3], '127.0.0.1', `${what}: candidate address`);
  assert.equal(Number(c[4]), m.port, `${what}: candidate port differs from the m= port`);
  for (const x of [sess, m]) {
    for (const name of BROWSER_ONLY_ATTRS) assert.ok(!hasAttr(x, name), `${what}: a=${name} towards the browser`);
  }
  assert.equal(direction(m), dir, `${what}: direction`);
  return { port: m.port, ufrag, pwd, fingerprint: fp, origin: o, m };
}

// What the core must get of chromeOffer() (111 opus, 63 red, 9 G722, 0 PCMU, 8 PCMA, 13 CN,
// 110 telephone-event/48000, 126 telephone-event/8000): G.711 and 8 kHz DTMF, browser numbers.
const chromeToCore = (range) => ({ range, fmts: ['0', '8', '126'], maps: { 0: 'PCMU/8000', 8: 'PCMA/8000', 126: 'telephone-event/8000' } });

// An RTP/AVP SDP as an IMS core writes it.
function coreSdp({ port = 49170, codecs = [[0, 'PCMU/8000'], [101, 'telephone-event/8000']], fmtp = { 101: '0-15' },
  dir = 'sendrecv', version = 1, ptime = 20 } = {}) {
  const lines = ['v=0', `o=core 53655765 ${version} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP ${codecs.map((c) => c[0]).join(' ')}`];
  for (const [pt, enc] of codecs) {
    lines.push(`a=rtpmap:${pt} ${enc}`);
    if (fmtp[pt]) lines.push(`a=fmtp:${pt} ${fmtp[pt]}`);
  }
  if (ptime) lines.push(`a=ptime:${ptime}`);
  lines.push(`a=${dir}`);
  return lines.join('\r\n') + '\r\n';
}

// A media range of n free ports (even start) for this rtcgw alone.
async function mediaRange(n = 20) {
  const p = await freePort(n + 1);
  const lo = p + (p & 1);
  return [lo, lo + n - 1];
}

async function gauges(rt) {
  const mt = await rt.metrics();
  for (const name of ['rtcgw_media_sessions', 'rtcgw_media_ports_in_use']) {
    assert.ok(mt.some((s) => s.name === name), `/metrics has no ${name}`);
  }
  return { sessions: metricSum(mt, 'rtcgw_media_sessions'), ports: metricSum(mt, 'rtcgw_media_ports_in_use') };
}

// Waits up to `ms` for the media gauges to read `want`.
async function expectGauges(rt, want, what, ms = 3000) {
  const until = Date.now() + ms;
  for (;;) {
    const g = await gauges(rt);
    if (g.sessions === want.sessions && g.ports === want.ports) return g;
    if (Date.now() > until) assert.deepEqual(g, want, `media gauges ${what}`);
    await sleep(100);
  }
}

// ---- the fake core ---------------------------------------------------------------------------
// The core's own Record-Route entry (the P-CSCF record-routes) and Contact.
const coreRR = (core) => `<sip:pcscf-rr@127.0.0.1:${core.port};lr>`;
const coreContact = (core, user = 'bob') => `<sip:${user}@127.0.0.1:${core.port};transport=udp>`;

// Answers of the core for calls from the browser, chosen by the Request-URI user:
//   busy → 486; ring → 180 and waits (CANCEL → 200 + 487); early → 183 with SDP, then 200 with
//   the same SDP; anything else → 200 with coreSdp(). Re-INVITE → 200 mirroring the direction.
// REGISTER → 200 echoing Contact and Path; BYE and other requests → 200; ACK → nothing.
function coreAnswers(opts = {}) {
  const pending = new Map();
  const toTags = new Map();
  return (msg, rinfo, core) => {
    const callId = msg.callId;
    if (msg.method === 'ACK') return null;
    if (msg.method === 'REGISTER') {
      const headers = [`Contact: ${msg.get('contact')}`];
      if (msg.get('path')) headers.push(`Path: ${msg.get('path')}`);
      return responseTo(msg, 200, 'OK', { headers });
    }
    if (msg.method === 'CANCEL') {
      const inv = pending.get(callId);
      const out = [responseTo(msg, 200, 'OK')];
      if (inv) {
        pending.delete(callId);
        out.push(responseTo(inv, 487, 'Request Terminated', { toTag: toTags.get(callId) }));
      }
      return out;
    }
    if (msg.method !== 'INVITE') return responseTo(msg, 200, 'OK');
    if (msg.toTag()) {
      // Re-INVITE: answer with the mirrored direction, same port, next version.
      const offer = parseSdp(msg.body);
      const mirror = { sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive', sendrecv: 'sendrecv' };
      const body = coreSdp({ ...(opts.sdp || {}), version: 2, dir: mirror[direction(offer.media[0])] });
      return responseTo(msg, 200, 'OK', { headers: [`Contact: ${coreContact(core)}`, 'Content-Type: application/sdp'], body });
    }
    const user = (msg.ruri.match(/^sips?:([^@;]+)@/) || [])[1];
    const toTag = `core${sip.rand(6)}`;
    toTags.set(callId, toTag);
    const trying = responseTo(msg, 100, 'Trying');
    const dialogHeaders = [`Record-Route: ${coreRR(core)}`, ...msg.lines('record-route').map((v) => `Record-Route: ${v}`),
      `Contact: ${coreContact(core)}`];
    const ok = () => responseTo(msg, 200, 'OK', {
      toTag, headers: [...dialogHeaders, 'Content-Type: application/sdp'], body: coreSdp(opts.sdp),
    });
    if (user === 'busy') return [trying, responseTo(msg, 486, 'Busy Here', { toTag })];
    if (user === 'ring') {
      pending.set(callId, msg);
      return [trying, responseTo(msg, 180, 'Ringing', { toTag, headers: dialogHeaders })];
    }
    if (user === 'early') {
      setTimeout(() => core.send(ok(), rinfo.port, rinfo.address), 300);
      return [trying, responseTo(msg, 183, 'Session Progress', {
        toTag, headers: [...dialogHeaders, 'Content-Type: application/sdp'], body: coreSdp(opts.sdp),
      })];
    }
    return [trying, ok()];
  };
}

// The core as a UAC: a call to the registered browser through rtcgw's Path.
class CoreCall {
  constructor(core, rt, client, pathRoute) {
    this.core = core;
    this.rt = rt;
    this.client = client;
    this.pathRoute = pathRoute;
    this.callId = sip.newCallId();
    this.fromTag = `c${sip.rand(8)}`;
    this.from = `<sip:carol@ims.example.net>;tag=${this.fromTag}`;
    this.to = `<${client.aor}>`;
    this.cseq = 1;
    this.branch = sip.newBranch();
  }

  request(method, ruri, { routes = [], cseq, branch = sip.newBranch(), to = this.to, body = '', extra = [] }) {
    const lines = [`${method} ${ruri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.core.port};branch=${branch};rport`];
    for (const r of routes) lines.push(`Route: ${r}`);
    lines.push('Max-Forwards: 70', `From: ${this.from}`, `To: ${to}`, `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`, ...extra);
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    this.core.send(lines.join('\r\n'), this.rt.sipPort);
  }

  invite(body = '') {
    this.request('INVITE', this.client.contactUri, {
      routes: [this.pathRoute], cseq: this.cseq, branch: this.branch, body,
      extra: [`Record-Route: ${coreRR(this.core)}`, `Contact: ${coreContact(this.core, 'carol')}`],
    });
  }

  waitResponse(method, pred, ms = 5000, what = `a response to the core's ${method}`) {
    return this.core.waitFor((e) => e.msg && !e.msg.isRequest && e.msg.callId === this.callId &&
      e.msg.cseqMethod === method && pred(e.msg), ms, what).then((e) => e.msg);
  }

  // Route set from the 2xx (RFC 3261 12.1.2), without the core's own entry (it is that hop).
  dialogFrom2xx(ok) {
    this.routeSet = ok.all('record-route').reverse().filter((r) => r !== coreRR(this.core));
    this.remoteTarget = sip.uriOf(ok.get('contact'));
    this.toHeader = ok.get('to');
  }

  ack(body = '') {
    this.request('ACK', this.remoteTarget, { routes: this.routeSet, cseq: this.cseq, to: this.toHeader, body });
  }

  ackNon2xx(resp) {
    this.request('ACK', this.client.contactUri, { routes: [this.pathRoute], cseq: this.cseq, branch: this.branch, to: resp.get('to') });
  }

  bye() {
    this.cseq += 1;
    this.request('BYE', this.remoteTarget, { routes: this.routeSet, cseq: this.cseq, to: this.toHeader });
  }
}

// A browser that registered through rtcgw to the fake core. Returns {client, pathRoute}.
async function registeredBrowser(env, rt) {
  const client = await F.connect(rt);
  env.onCleanup(() => client.terminate());
  const r = client.register();
  const ok = await client.waitResponse(r.callId, 'REGISTER', (m) => m.status >= 200, 5000);
  assert.equal(ok.status, 200);
  const pathRoute = sip.splitList(ok.get('path') || '')[0];
  assert.ok(F.parseOwnUri(pathRoute || ''), `no rtcgw Path in the 200 to REGISTER: ${ok.get('path')}`);
  return { client, pathRoute };
}

// The browser answering the core's INVITEs: 180, then 200 with `body(req)`; 200 to BYE.
function browserAnswers(client, { body = () => chromeAnswer(), toTag = sip.newTag(), ring = true } = {}) {
  client.autoAnswer = (req, c) => {
    const headers = [`Contact: <${c.contactUri}>`];
    if (req.method === 'INVITE') {
      if (ring) c.respond(req, 180, 'Ringing', { toTag, headers });
      const b = body(req);
      if (b !== null) c.respond(req, 200, 'OK', { toTag, headers, body: b });
    } else if (req.method === 'BYE' || req.method === 'UPDATE') {
      c.respond(req, 200, 'OK');
    }
    return null;
  };
  return toTag;
}

async function startCoreAndRtcgw(env, { media = {}, sdp, extra = '' } = {}) {
  const range = await mediaRange(20);
  const core = await env.startFakeCore({ answer: coreAnswers({ sdp }) });
  const rt = await env.startRtcgw({ pcscfPort: core.port, media: { port_range: range, ...media }, extra });
  return { range, core, rt };
}

// What the core received of a call, as "METHOD" / "status" strings.
const atCore = (core, callId) => core.received.filter((e) => e.msg && e.msg.callId === callId)
  .map((e) => (e.msg.isRequest ? e.msg.method : String(e.msg.status)));

// ---- the tests -------------------------------------------------------------------------------

test('browser call: WebRTC offer becomes RTP/AVP, the core\'s answer becomes SAVPF, BYE frees the ports', { timeout: 90000 }, () =>
  Env.run('media-orig', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env);
    assert.deepEqual(await gauges(rt), { sessions: 0, ports: 0 });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const offer = chromeOffer();
    const call = client.invite('sip:bob@example.com', { body: offer });

    const inv = (await core.waitFor((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId, 5000,
      'the INVITE at the core')).msg;
    const net = assertNetworkSdp(sdpOf(inv, 'INVITE at the core'), { ...chromeToCore(range), what: 'offer to the core' });

    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    const ans = assertBrowserSdp(sdpOf(ok, '200 at the browser'), {
      range, setup: 'passive', notPorts: [net.port, net.port + 1], what: 'answer to the browser',
      // The core answered PCMU and telephone-event as 101: the browser gets its own 126 back.
      fmts: ['0', '126'], maps: { 0: 'PCMU/8000', 126: 'telephone-event/8000' },
    });
    assert.deepEqual(fmtps(ans.m), { 126: '0-15' }, 'fmtp of the core\'s answer not carried to the browser\'s payload type');
    assert.deepEqual(attrVals(ans.m, 'ptime'), ['20'], 'a=ptime of the core\'s answer lost');
    assert.notEqual(ans.ufrag, attrVal(parseSdp(offer).media[0], 'ice-ufrag'), 'rtcgw echoed the browser\'s ICE ufrag');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });

    client.dialogFrom2xx(call, ok);
    client.inDialog(call, 'ACK');
    await core.waitFor((e) => e.msg && e.msg.method === 'ACK' && e.msg.callId === call.callId, 5000, 'the ACK at the core');
    client.inDialog(call, 'BYE');
    const byeOk = await client.waitFinal(call.callId, 'BYE', 5000);
    assert.equal(byeOk.status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE from the browser');
    await F.assertCleanStop(rt);
  }));

test('early media: the 183 and the 200 both carry the SAVPF answer, same ICE and DTLS identity', { timeout: 90000 }, () =>
  Env.run('media-early', async (env) => {
    const { range, rt } = await startCoreAndRtcgw(env);
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const call = client.invite('sip:early@example.com');
    const early = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 183, 5000);
    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    const want = { range, setup: 'passive', fmts: ['0', '126'], maps: { 0: 'PCMU/8000', 126: 'telephone-event/8000' } };
    const a1 = assertBrowserSdp(sdpOf(early, '183'), { ...want, what: 'answer in the 183' });
    const a2 = assertBrowserSdp(sdpOf(ok, '200'), { ...want, what: 'answer in the 200' });
    assert.equal(a2.ufrag, a1.ufrag, 'ICE ufrag changed between 183 and 200');
    assert.equal(a2.pwd, a1.pwd, 'ICE pwd changed between 183 and 200');
    assert.equal(a2.fingerprint, a1.fingerprint, 'DTLS fingerprint changed between 183 and 200');
    assert.equal(a2.port, a1.port, 'browser-leg port changed between 183 and 200');
    assert.equal(a2.origin.id, a1.origin.id, 'o= session id changed between 183 and 200');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });
    client.dialogFrom2xx(call, ok);
    client.inDialog(call, 'ACK');
    client.inDialog(call, 'BYE');
    assert.equal((await client.waitFinal(call.callId, 'BYE', 5000)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE');
    await F.assertCleanStop(rt);
  }));

test('call from the core: RTP/AVP offer becomes an actpass SAVPF offer, the browser\'s answer becomes RTP/AVP', { timeout: 90000 }, () =>
  Env.run('media-term', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env);
    const { client, pathRoute } = await registeredBrowser(env, rt);
    browserAnswers(client); // 200 with chromeAnswer(): setup:active, telephone-event as 126
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.invite(coreSdp({ codecs: [[0, 'PCMU/8000'], [8, 'PCMA/8000'], [101, 'telephone-event/8000']] }));

    const inv = await client.waitRequest('INVITE', (m) => m.callId === cc.callId, 5000);
    const off = assertBrowserSdp(sdpOf(inv, 'INVITE at the browser'), {
      range, setup: 'actpass', what: 'offer to the browser',
      fmts: ['0', '8', '101'], maps: { 0: 'PCMU/8000', 8: 'PCMA/8000', 101: 'telephone-event/8000' },
    });
    assert.deepEqual(fmtps(off.m), { 101: '0-15' });

    const ok = await cc.waitResponse('INVITE', (m) => m.status === 200);
    const ans = assertNetworkSdp(sdpOf(ok, '200 at the core'), {
      range, what: 'answer to the core',
      // chromeAnswer() lists PCMU, PCMA, telephone-event/8000 as 126: the core gets its 101.
      fmts: ['0', '8', '101'], maps: { 0: 'PCMU/8000', 8: 'PCMA/8000', 101: 'telephone-event/8000' },
    });
    assert.ok(![ans.port, ans.port + 1].includes(off.port), 'browser leg and network leg share a port');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });

    cc.dialogFrom2xx(ok);
    cc.ack();
    const ack = await client.waitRequest('ACK', (m) => m.callId === cc.callId, 5000);
    assert.equal(ack.body, '', 'ACK without SDP got a body');
    cc.bye();
    const byeOk = await cc.waitResponse('BYE', (m) => m.status >= 200);
    assert.equal(byeOk.status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE from the core');
    await F.assertCleanStop(rt);
  }));

test('call from the core sharing no codec with the browser leg: opus offered to the browser, the core answered PCMU with its own numbers', { timeout: 90000 }, () =>
  Env.run('media-term-transcode', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env, { extra: 'transcoding:\n  browser_codecs: [ opus ]\n' });
    const { client, pathRoute } = await registeredBrowser(env, rt);
    // Chrome answers with what it was offered: opus and telephone-event/48000.
    browserAnswers(client, { body: () => chromeAnswer().replace('SAVPF 111 63 9 0 8 13 110 126', 'SAVPF 111 110') });
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.invite(coreSdp({ codecs: [[8, 'PCMA/8000'], [0, 'PCMU/8000'], [97, 'telephone-event/8000']], fmtp: { 97: '0-15' } }));

    const inv = await client.waitRequest('INVITE', (m) => m.callId === cc.callId, 5000);
    const off = assertBrowserSdp(sdpOf(inv, 'INVITE at the browser'), {
      range, setup: 'actpass', what: 'offer to the browser',
      fmts: ['111', '110'], maps: { 111: 'opus/48000/2', 110: 'telephone-event/48000' },
    });
    assert.deepEqual(fmtps(off.m), { 111: 'minptime=10;useinbandfec=1', 110: '0-15' });

    const ok = await cc.waitResponse('INVITE', (m) => m.status === 200);
    const ans = assertNetworkSdp(sdpOf(ok, '200 at the core'), {
      range, what: 'answer to the core',
      // network_codecs [PCMU, PCMA]: PCMU first, and the core's own telephone-event number.
      fmts: ['0', '97'], maps: { 0: 'PCMU/8000', 97: 'telephone-event/8000' },
    });
    assert.deepEqual(attrVals(ans.m, 'ptime'), ['20'], 'rtcgw sends 20 ms packets to the core');
    assert.ok(![ans.port, ans.port + 1].includes(off.port), 'browser leg and network leg share a port');

    cc.dialogFrom2xx(ok);
    cc.ack();
    await client.waitRequest('ACK', (m) => m.callId === cc.callId, 5000);
    cc.bye();
    assert.equal((await cc.waitResponse('BYE', (m) => m.status >= 200)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE from the core');
    await F.assertCleanStop(rt);
  }));

test('offerless INVITE from the core: offer in the browser\'s 200, answer in the core\'s ACK', { timeout: 90000 }, () =>
  Env.run('media-offerless', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env);
    const { client, pathRoute } = await registeredBrowser(env, rt);
    const offer = chromeOffer();
    browserAnswers(client, { body: () => offer });
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.invite('');

    const inv = await client.waitRequest('INVITE', (m) => m.callId === cc.callId, 5000);
    assert.equal(inv.body, '', 'offerless INVITE reached the browser with a body');
    assert.equal(Number(inv.get('content-length')), 0);
    const ok = await cc.waitResponse('INVITE', (m) => m.status === 200);
    const net = assertNetworkSdp(sdpOf(ok, '200 at the core'), { ...chromeToCore(range), what: 'offer in the 200' });
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });

    cc.dialogFrom2xx(ok);
    cc.ack(coreSdp({ codecs: [[8, 'PCMA/8000'], [126, 'telephone-event/8000']], fmtp: { 126: '0-16' } }));
    const ack = await client.waitRequest('ACK', (m) => m.callId === cc.callId, 5000);
    const ans = assertBrowserSdp(sdpOf(ack, 'ACK at the browser'), {
      range, setup: 'passive', notPorts: [net.port, net.port + 1], what: 'answer in the ACK',
      fmts: ['8', '126'], maps: { 8: 'PCMA/8000', 126: 'telephone-event/8000' },
    });
    assert.deepEqual(fmtps(ans.m), { 126: '0-16' });

    cc.bye();
    assert.equal((await cc.waitResponse('BYE', (m) => m.status >= 200)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE from the core');
    await F.assertCleanStop(rt);
  }));

test('hold re-INVITE from the browser: sendonly to the core on the same port, recvonly back, no ICE restart', { timeout: 90000 }, () =>
  Env.run('media-hold', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env);
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const offer = chromeOffer();
    const call = client.invite('sip:bob@example.com', { body: offer });
    const inv1 = (await core.waitFor((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId, 5000)).msg;
    const net1 = assertNetworkSdp(sdpOf(inv1, 'INVITE'), { ...chromeToCore(range), what: 'first offer' });
    const ok1 = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    const want = { range, setup: 'passive', fmts: ['0', '126'], maps: { 0: 'PCMU/8000', 126: 'telephone-event/8000' } };
    const ans1 = assertBrowserSdp(sdpOf(ok1, 'first 200'), { ...want, what: 'first answer' });
    client.dialogFrom2xx(call, ok1);
    client.inDialog(call, 'ACK');

    // The same offer again (same ICE credentials, fingerprint), sendonly, o= version + 1.
    const hold = offer.replace('a=sendrecv', 'a=sendonly').replace(/^(o=- \d+ )2 /m, (_, head) => `${head}3 `);
    assert.notEqual(hold, offer);
    const re = client.inDialog(call, 'INVITE', {
      extra: [`Contact: <${client.contactUri};ob>`, 'Content-Type: application/sdp'], body: hold,
    });
    const inv2 = (await core.waitFor((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId &&
      e.msg.cseq.num === re.cseq, 5000, 'the re-INVITE at the core')).msg;
    const net2 = assertNetworkSdp(sdpOf(inv2, 're-INVITE'), { ...chromeToCore(range), dir: 'sendonly', what: 'hold offer' });
    assert.equal(net2.port, net1.port, 'the hold offer moved the network-side port');
    assert.equal(net2.origin.id, net1.origin.id, 'o= session id changed in the re-offer');
    assert.ok(net2.origin.version > net1.origin.version, `o= version not incremented: ${net1.origin.version} → ${net2.origin.version}`);

    const ok2 = await client.waitFor((m) => !m.isRequest && m.callId === call.callId && m.cseqMethod === 'INVITE' &&
      m.cseq.num === re.cseq && m.status >= 200, 5000, 'the 200 to the re-INVITE');
    assert.equal(ok2.status, 200);
    const ans2 = assertBrowserSdp(sdpOf(ok2, '200 to the re-INVITE'), { ...want, dir: 'recvonly', what: 'hold answer' });
    assert.equal(ans2.ufrag, ans1.ufrag, 'ICE ufrag changed on hold (an ICE restart nobody asked for)');
    assert.equal(ans2.pwd, ans1.pwd, 'ICE pwd changed on hold');
    assert.equal(ans2.fingerprint, ans1.fingerprint);
    assert.equal(ans2.port, ans1.port, 'the browser-leg port changed on hold');
    assert.equal(ans2.origin.id, ans1.origin.id, 'o= session id changed towards the browser');
    assert.ok(ans2.origin.version > ans1.origin.version, 'o= version towards the browser not incremented on a changed answer');
    call.cseq = re.cseq;
    client.inDialog(call, 'ACK');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });

    client.inDialog(call, 'BYE');
    assert.equal((await client.waitFinal(call.callId, 'BYE', 5000)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE');
    await F.assertCleanStop(rt);
  }));

test('unusable offers are answered 488 on their sender\'s side, counted, and forwarded nowhere', { timeout: 90000 }, () =>
  Env.run('media-bad-sdp', async (env) => {
    const { range, core, rt } = await startCoreAndRtcgw(env);
    const { client, pathRoute } = await registeredBrowser(env, rt);
    const rejected = async (side) => metricSum(await rt.metrics(), 'rtcgw_sdp_rejected_total', { side });

    // A plain RTP/AVP offer from a browser (no ICE, no DTLS).
    const plain = coreSdp({ codecs: [[0, 'PCMU/8000'], [8, 'PCMA/8000'], [101, 'telephone-event/8000']] });
    const cases = [['plain RTP/AVP', plain], ['unparseable', 'this is not SDP\r\nat all\r\n']];
    let count = await rejected('browser');
    for (const [what, body] of cases) {
      const call = client.invite('sip:bob@example.com', { body });
      const fin = await client.waitFinal(call.callId, 'INVITE', 5000);
      assert.equal(fin.status, 488, `${what} offer answered ${fin.status}`);
      F.assertOnlyBrowserVia(client, fin, call.branch);
      assert.equal(await rejected('browser'), count + 1, `${what}: rtcgw_sdp_rejected_total{side="browser"} did not grow by 1`);
      count += 1;
      await sleep(300);
      assert.deepEqual(atCore(core, call.callId), [], `${what}: the refused offer reached the core`);
      assert.deepEqual(await gauges(rt), { sessions: 0, ports: 0 }, `${what}: an anchor was left`);
    }

    // The core offers only G.729: 488 to the core, nothing to the browser.
    const netBefore = await rejected('network');
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.invite(coreSdp({ codecs: [[18, 'G729/8000']], fmtp: { 18: 'annexb=no' } }));
    const fin = await cc.waitResponse('INVITE', (m) => m.status >= 200);
    assert.equal(fin.status, 488, `G.729-only offer from the core answered ${fin.status}`);
    assert.equal(fin.all('via').length, 1);
    cc.ackNon2xx(fin);
    assert.equal(await rejected('network'), netBefore + 1, 'rtcgw_sdp_rejected_total{side="network"} did not grow by 1');
    await sleep(300);
    assert.ok(!client.inbox.some((m) => m.callId === cc.callId), 'the browser got something of the refused call');
    assert.deepEqual(await gauges(rt), { sessions: 0, ports: 0 });

    // rtcgw keeps serving: a good call right after.
    const call = client.invite('sip:bob@example.com');
    const inv = (await core.waitFor((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId, 5000)).msg;
    assertNetworkSdp(sdpOf(inv, 'INVITE'), { ...chromeToCore(range), what: 'offer after the refusals' });
    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    assertBrowserSdp(sdpOf(ok, '200'), { range, setup: 'passive', fmts: ['0', '126'], maps: { 0: 'PCMU/8000', 126: 'telephone-event/8000' }, what: 'answer after the refusals' });
    client.dialogFrom2xx(call, ok);
    client.inDialog(call, 'ACK');
    client.inDialog(call, 'BYE');
    assert.equal((await client.waitFinal(call.callId, 'BYE', 5000)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after the good call');
    await F.assertCleanStop(rt);
  }));

test('failed, cancelled and orphaned calls release their ports', { timeout: 90000 }, () =>
  Env.run('media-release', async (env) => {
    const { core, rt } = await startCoreAndRtcgw(env);
    const { client, pathRoute } = await registeredBrowser(env, rt);

    // 486 from the core.
    const busy = client.invite('sip:busy@example.com');
    const r486 = await client.waitFinal(busy.callId, 'INVITE', 5000);
    assert.equal(r486.status, 486);
    client.ackNon2xx(busy, r486);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after 486');

    // CANCEL from the browser while the core rings.
    const ring = client.invite('sip:ring@example.com');
    await client.waitResponse(ring.callId, 'INVITE', (m) => m.status === 180, 5000);
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 }, 'no anchor while ringing');
    client.cancel(ring);
    assert.equal((await client.waitFinal(ring.callId, 'CANCEL', 5000)).status, 200);
    const r487 = await client.waitFinal(ring.callId, 'INVITE', 5000);
    assert.equal(r487.status, 487);
    client.ackNon2xx(ring, r487);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after CANCEL from the browser');

    // CANCEL from the core while the browser rings: the browser's 487 releases the anchor.
    let invAtBrowser = null;
    const toTag = sip.newTag();
    client.autoAnswer = (req, c) => {
      if (req.method === 'INVITE') {
        invAtBrowser = req;
        c.respond(req, 180, 'Ringing', { toTag, headers: [`Contact: <${c.contactUri}>`] });
      } else if (req.method === 'CANCEL') {
        c.respond(req, 200, 'OK', { toTag });
        c.respond(invAtBrowser, 487, 'Request Terminated', { toTag });
      }
      return null;
    };
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.invite(coreSdp());
    await cc.waitResponse('INVITE', (m) => m.status === 180);
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });
    cc.request('CANCEL', client.contactUri, { routes: [pathRoute], cseq: cc.cseq, branch: cc.branch });
    const r487c = await cc.waitResponse('INVITE', (m) => m.status >= 200);
    assert.equal(r487c.status, 487);
    cc.ackNon2xx(r487c);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after CANCEL from the core');

    // The WebSocket closes mid-call (answered).
    const other = await F.connect(rt, { user: 'dave' });
    env.onCleanup(() => other.terminate());
    const live = other.invite('sip:bob@example.com');
    const ok = await other.waitResponse(live.callId, 'INVITE', (m) => m.status === 200, 5000);
    other.dialogFrom2xx(live, ok);
    other.inDialog(live, 'ACK');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });
    other.terminate();
    await other.closed;
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after the WebSocket closed mid-call');
    // The call cannot go on without its flow: rtcgw ends it towards the core.
    const flowBye = await core.waitFor((e) => e.msg && e.msg.method === 'BYE' && e.msg.callId === live.callId,
      5000, 'a BYE at the core after the WebSocket closed');
    assert.match(flowBye.msg.get('reason') || '', /^SIP;cause=430;text="Flow Failed"$/);
    assert.equal(sip.paramOf(flowBye.msg.get('to'), 'tag'), sip.paramOf(ok.get('to'), 'tag'));
    await F.assertCleanStop(rt);
  }));

test('no free media port: 503 to the browser, and the port is usable again after the call', { timeout: 90000 }, () =>
  Env.run('media-no-port', async (env) => {
    const range = await mediaRange(4); // one call: an RTP/RTCP pair and one browser port
    const core = await env.startFakeCore({ answer: coreAnswers() });
    const rt = await env.startRtcgw({ pcscfPort: core.port, media: { port_range: range } });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const first = client.invite('sip:bob@example.com');
    const ok = await client.waitResponse(first.callId, 'INVITE', (m) => m.status === 200, 5000);
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });
    const second = client.invite('sip:bob@example.com');
    const r503 = await client.waitFinal(second.callId, 'INVITE', 5000);
    assert.equal(r503.status, 503);
    await sleep(300);
    assert.deepEqual(atCore(core, second.callId), [], 'the INVITE without a port reached the core');
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });
    client.dialogFrom2xx(first, ok);
    client.inDialog(first, 'ACK');
    client.inDialog(first, 'BYE');
    assert.equal((await client.waitFinal(first.callId, 'BYE', 5000)).status, 200);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE');
    const third = client.invite('sip:bob@example.com');
    assert.equal((await client.waitFinal(third.callId, 'INVITE', 5000)).status, 200);
    await F.assertCleanStop(rt);
  }));

test('the browser\'s hop-by-hop ACK to rtcgw\'s own 488 and 503 stays in rtcgw', { timeout: 90000 }, () =>
  Env.run('media-ack-own', async (env) => {
    const range = await mediaRange(4); // room for one call: the second INVITE gets 503
    const core = await env.startFakeCore({ answer: coreAnswers() });
    const rt = await env.startRtcgw({ pcscfPort: core.port, media: { port_range: range } });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const bad = client.invite('sip:bob@example.com', { body: coreSdp() });
    const r488 = await client.waitFinal(bad.callId, 'INVITE', 5000);
    assert.equal(r488.status, 488);
    client.ackNon2xx(bad, r488); // RFC 3261 17.1.1.3, as JsSIP does
    const first = client.invite('sip:bob@example.com');
    await client.waitResponse(first.callId, 'INVITE', (m) => m.status === 200, 5000);
    const full = client.invite('sip:bob@example.com');
    const r503 = await client.waitFinal(full.callId, 'INVITE', 5000);
    assert.equal(r503.status, 503);
    client.ackNon2xx(full, r503);
    await sleep(500);
    const leaked = core.received.filter((e) => e.msg && [bad.callId, full.callId].includes(e.msg.callId));
    assert.deepEqual(leaked.map((e) => `${e.msg.describe()} (${e.msg.callId === bad.callId ? 'after 488' : 'after 503'})`), [],
      `ACKs to rtcgw's own final responses were forwarded to the core:\n${leaked.map((e) => e.raw.toString('latin1')).join('\n')}`);
    await F.assertCleanStop(rt);
  }));

// The BYEs rtcgw sends itself when the media stops.
function assertOwnBye(bye, { callId, ruri, from, to, minCseq, what }) {
  assert.equal(bye.ruri, ruri, `${what}: Request-URI is not the remote target`);
  assert.equal(bye.callId, callId, `${what}: Call-ID`);
  assert.equal(sip.uriOf(bye.get('from')), sip.uriOf(from), `${what}: From URI`);
  assert.equal(bye.fromTag(), sip.paramOf(from, 'tag'), `${what}: From tag`);
  assert.equal(sip.uriOf(bye.get('to')), sip.uriOf(to), `${what}: To URI`);
  assert.equal(bye.toTag(), sip.paramOf(to, 'tag'), `${what}: To tag`);
  assert.equal(bye.cseqMethod, 'BYE', `${what}: CSeq method`);
  assert.ok(bye.cseq.num > minCseq, `${what}: CSeq ${bye.cseq.num} not above ${minCseq}`);
  assert.deepEqual(bye.lines('reason'), [REASON], `${what}: Reason`);
  assert.ok(Number(bye.get('max-forwards')) > 0, `${what}: Max-Forwards`);
}

test('no media on an answered browser call: rtcgw sends BYE to the core and to the browser', { timeout: 90000 }, () =>
  Env.run('media-inactive-orig', async (env) => {
    const { core, rt } = await startCoreAndRtcgw(env, { media: { inactivity_timeout: 2 } });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    client.autoAnswer = (req, c) => {
      if (req.method === 'BYE') c.respond(req, 200, 'OK');
      return null;
    };

    // A call that only rings: not answered, so left alone.
    const ringing = client.invite('sip:ring@example.com');
    await client.waitResponse(ringing.callId, 'INVITE', (m) => m.status === 180, 5000);

    const call = client.invite('sip:bob@example.com');
    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    const answeredAt = Date.now();
    client.dialogFrom2xx(call, ok);
    client.inDialog(call, 'ACK');
    assert.deepEqual(await gauges(rt), { sessions: 2, ports: 6 });

    const coreBye = (await core.waitFor((e) => e.msg && e.msg.method === 'BYE' && e.msg.callId === call.callId, 10000,
      'the BYE from rtcgw at the core')).msg;
    const elapsed = Date.now() - answeredAt;
    assert.ok(elapsed >= 1500, `BYE after ${elapsed} ms, before media.inactivity_timeout (2 s)`);
    const browserBye = await client.waitRequest('BYE', (m) => m.callId === call.callId, 5000);

    assertOwnBye(coreBye, {
      what: 'BYE to the core', callId: call.callId, ruri: sip.uriOf(coreContact(core)),
      from: `<${client.aor}>;tag=${call.fromTag}`, to: ok.get('to'), minCseq: call.cseq,
    });
    assert.deepEqual(coreBye.all('route'), [coreRR(core)], 'BYE to the core: Route is not the dialog\'s route set after rtcgw');
    assert.match(coreBye.topVia, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${rt.sipPort};`));
    assert.equal(coreBye.all('via').length, 1);

    assertOwnBye(browserBye, {
      what: 'BYE to the browser', callId: call.callId, ruri: `${client.contactUri};ob`,
      from: ok.get('to'), to: `<${client.aor}>;tag=${call.fromTag}`, minCseq: 0,
    });
    assert.deepEqual(browserBye.all('route'), []);
    assert.equal(browserBye.all('via').length, 1);
    assert.match(browserBye.topVia, new RegExp(`^SIP/2\\.0/WSS? 127\\.0\\.0\\.1:${rt.wsPort};(.*;)?branch=z9hG4bK`));

    // Both 200s are rtcgw's own business: neither crosses over.
    await sleep(700);
    assert.ok(!client.inbox.some((m) => !m.isRequest && m.callId === call.callId && m.cseqMethod === 'BYE'),
      'the core\'s 200 to rtcgw\'s BYE reached the browser');
    assert.ok(!core.received.some((e) => e.msg && !e.msg.isRequest && e.msg.cseqMethod === 'BYE'),
      'the browser\'s 200 to rtcgw\'s BYE reached the core');
    assert.equal(core.received.filter((e) => e.msg && e.msg.method === 'BYE').length, 1, 'more than one BYE at the core');
    assert.equal(client.inbox.filter((m) => m.method === 'BYE').length, 1, 'more than one BYE at the browser');

    // The ringing call is untouched.
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 }, 'the answered call\'s ports are not freed, or the ringing call\'s are');
    assert.ok(!core.received.some((e) => e.msg && e.msg.isRequest && e.msg.callId === ringing.callId && e.msg.method !== 'INVITE'),
      'rtcgw sent something on the unanswered call');
    client.cancel(ringing);
    client.ackNon2xx(ringing, await client.waitFinal(ringing.callId, 'INVITE', 5000));
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after cancelling the ringing call');
    await F.assertCleanStop(rt);
  }));

test('no media on an answered call from the core: BYE to both sides with the dialog\'s tags', { timeout: 90000 }, () =>
  Env.run('media-inactive-term', async (env) => {
    const { core, rt } = await startCoreAndRtcgw(env, { media: { inactivity_timeout: 2 } });
    const { client, pathRoute } = await registeredBrowser(env, rt);
    const browserTag = browserAnswers(client);
    const cc = new CoreCall(core, rt, client, pathRoute);
    cc.cseq = 17;
    cc.invite(coreSdp());
    const ok = await cc.waitResponse('INVITE', (m) => m.status === 200);
    assert.equal(ok.toTag(), browserTag);
    cc.dialogFrom2xx(ok);
    cc.ack();
    await client.waitRequest('ACK', (m) => m.callId === cc.callId, 5000);
    assert.deepEqual(await gauges(rt), { sessions: 1, ports: 3 });

    const coreBye = (await core.waitFor((e) => e.msg && e.msg.method === 'BYE' && e.msg.callId === cc.callId, 10000,
      'the BYE from rtcgw at the core')).msg;
    const browserBye = await client.waitRequest('BYE', (m) => m.callId === cc.callId, 5000);
    assertOwnBye(coreBye, {
      what: 'BYE to the core', callId: cc.callId, ruri: sip.uriOf(coreContact(core, 'carol')),
      from: ok.get('to'), to: cc.from, minCseq: 0,
    });
    assert.deepEqual(coreBye.all('route'), [coreRR(core)], 'BYE to the core: Route is not the dialog\'s route set after rtcgw');
    assertOwnBye(browserBye, {
      what: 'BYE to the browser', callId: cc.callId, ruri: client.contactUri,
      from: cc.from, to: ok.get('to'), minCseq: 17,
    });
    await sleep(700);
    assert.ok(!client.inbox.some((m) => !m.isRequest && m.callId === cc.callId && m.cseqMethod === 'BYE'),
      'the core\'s 200 to rtcgw\'s BYE reached the browser');
    assert.ok(!core.received.some((e) => e.msg && !e.msg.isRequest && e.msg.cseqMethod === 'BYE'),
      'the browser\'s 200 to rtcgw\'s BYE reached the core');
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after the inactivity BYEs');
    await F.assertCleanStop(rt);
  }));

test('INFO DTMF on a transcoded call becomes RFC 4733 events towards the core, answered 200 by rtcgw', { timeout: 90000 }, () =>
  Env.run('media-info-dtmf', async (env) => {
    const dgram = require('node:dgram');
    const far = dgram.createSocket('udp4');
    const got = [];
    far.on('message', (b) => got.push(b));
    await new Promise((resolve) => far.bind(0, '127.0.0.1', resolve));
    env.onCleanup(() => far.close());
    const { core, rt } = await startCoreAndRtcgw(env, {
      sdp: { port: far.address().port },
      extra: 'transcoding:\n  browser_codecs: [ opus ]\n  network_codecs: [ PCMU ]\n',
    });
    const { client } = await registeredBrowser(env, rt);
    const call = client.invite('sip:bob@example.com');
    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
    const answer = parseSdp(ok.body);
    assert.deepEqual(answer.media[0].fmts.filter((f) => f !== '110'), ['111'], `the browser leg is not opus only:\n${ok.body}`);
    client.dialogFrom2xx(call, ok);
    client.inDialog(call, 'ACK');
    const offer = core.received.find((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId);
    assert.deepEqual(parseSdp(offer.msg.body).media[0].fmts, ['0', '101'], 'the core was not offered PCMU + telephone-event');

    // JsSIP's INFO: answered 200 by rtcgw, not forwarded, digit 5 as events with PT 101.
    client.inDialog(call, 'INFO', { extra: ['Content-Type: application/dtmf-relay'], body: 'Signal=5\r\nDuration=100\r\n' });
    const infoOk = await client.waitResponse(call.callId, 'INFO', (m) => m.status >= 200, 5000);
    assert.equal(infoOk.status, 200);
    const events = () => got.filter((b) => b.length === 16 && (b[1] & 0x7f) === 101);
    const deadline = Date.now() + 5000;
    while (events().filter((b) => b[13] & 0x80).length < 3 && Date.now() < deadline) await sleep(50);
    const ev = events();
    assert.ok(ev.length >= 4, `only ${ev.length} telephone-event packets at the far end`);
    assert.ok(ev.every((b) => b[12] === 5), 'an event other than 5');
    assert.equal(ev[0][1] & 0x80, 0x80, 'the first report has no marker bit');
    const ends = ev.filter((b) => b[13] & 0x80);
    assert.equal(ends.length, 3, 'not three end packets');
    assert.ok(ends.every((b) => b.readUInt16BE(14) === 800), 'end duration is not 100 ms at 8 kHz');

    // A body that does not parse: 400; another INFO package passes to the core.
    client.inDialog(call, 'INFO', { extra: ['Content-Type: application/dtmf-relay'], body: 'Signal=Z\r\n' });
    const bad = await client.waitResponse(call.callId, 'INFO', (m) => m.status >= 400, 5000);
    assert.equal(bad.status, 400);
    assert.equal(core.received.filter((e) => e.msg && e.msg.method === 'INFO').length, 0, 'a DTMF INFO reached the core');
    client.inDialog(call, 'INFO', { extra: ['Content-Type: application/x-other'], body: 'hello' });
    await core.waitFor((e) => e.msg && e.msg.method === 'INFO' && e.msg.callId === call.callId, 5000, 'the other INFO at the core');

    client.inDialog(call, 'BYE');
    await client.waitResponse(call.callId, 'BYE', (m) => m.status >= 200, 5000);
    await expectGauges(rt, { sessions: 0, ports: 0 }, 'after BYE');
    await F.assertCleanStop(rt);
  }));

// ---- DTMF by INFO on relayed calls -------------------------------------------------------------
// These need a browser that sends SRTP for real: rtcgw_bench_media_load (tests/bench) does ICE
// (libnice's STUN usage), DTLS (rtcgw's DtlsSession) and SRTP (libsrtp2) like Chrome towards an
// ICE-lite gateway, then PCMU (PT 0, 20 ms; payload "benc" + 16 bytes of counters, then u-law
// silence) with a random SSRC and first sequence number. ctest names it in RTCGW_MEDIA_LOAD.
const MEDIA_LOAD = process.env.RTCGW_MEDIA_LOAD;
const NO_MEDIA_LOAD = !MEDIA_LOAD && 'RTCGW_MEDIA_LOAD (the rtcgw_bench_media_load binary) not set';

async function srtpBrowser(env) {
  const { spawn } = require('node:child_process');
  const child = spawn(MEDIA_LOAD, ['--bind', '127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  let partial = '', stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    partial += d;
    for (let i; (i = partial.indexOf('\n')) >= 0; partial = partial.slice(i + 1)) lines.push(partial.slice(0, i));
  });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('error', (e) => { stderr += String(e); });
  env.onCleanup(async () => {
    try { child.stdin.end('QUIT\n'); } catch (_) { /* gone */ }
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(2000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const say = (l) => child.stdin.write(`${l}\n`);
  const line = async (re, what, ms = 10000) => {
    for (const until = Date.now() + ms; ; await sleep(20)) {
      const l = lines.find((x) => re.test(x));
      if (l) return l.split(' ');
      if (Date.now() > until || child.exitCode !== null) {
        throw new Error(`test browser: no ${what} (stdout: ${lines.join(' | ')}; stderr: ${stderr})`);
      }
    }
  };
  const [, fingerprint] = await line(/^READY /, 'READY');
  say('CALL 1');
  const [, , port, , ufrag, pwd] = await line(/^CALL 1 /, 'CALL');
  const offer = chromeOffer().replace('m=audio 50000', `m=audio ${port}`)
    .replace('127.0.0.1 50000 typ host', `127.0.0.1 ${port} typ host`)
    .replace(/a=ice-ufrag:.*/, `a=ice-ufrag:${ufrag}`).replace(/a=ice-pwd:.*/, `a=ice-pwd:${pwd}`)
    .replace(/a=fingerprint:sha-256 .*/, `a=fingerprint:sha-256 ${fingerprint}`);
  return {
    offer,
    // rtcgw's SAVPF answer -> ICE check, DTLS, SRTP; PCMU flows from then on.
    async answer(sdp) {
      const cand = sdp.match(/a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/);
      const get = (name) => (sdp.match(new RegExp(`a=${name}:(\\S+)`)) || [])[1];
      const fp = (sdp.match(/a=fingerprint:sha-256 (\S+)/) || [])[1];
      assert.ok(cand && fp, `no candidate or fingerprint in rtcgw's answer:\n${sdp}`);
      say(`ANSWER 1 ${cand[1]} ${cand[2]} ${get('ice-ufrag')} ${get('ice-pwd')} ${fp}`);
      const up = await line(/^(UP|FAIL) 1/, 'UP');
      assert.equal(up[0], 'UP', `test browser: ${up.join(' ')}`);
    },
  };
}

// The IMS's media end: a UDP socket that keeps what rtcgw sends it.
async function farEnd(env) {
  const dgram = require('node:dgram');
  const sock = dgram.createSocket('udp4');
  const got = [];
  sock.on('message', (b) => got.push(b));
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  env.onCleanup(() => sock.close());
  return { port: sock.address().port, got };
}

async function until(pred, ms, what) {
  for (const end = Date.now() + ms; !pred(); await sleep(20)) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
  }
}

// A relayed PCMU call from the SRTP browser, answered by the core with `codecs`; media flowing.
async function relayedCall(env, codecs) {
  const far = await farEnd(env);
  const { core, rt } = await startCoreAndRtcgw(env, { sdp: { port: far.port, codecs } });
  const { client } = await registeredBrowser(env, rt);
  const browser = await srtpBrowser(env);
  const call = client.invite('sip:bob@example.com', { body: browser.offer });
  const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 5000);
  client.dialogFrom2xx(call, ok);
  client.inDialog(call, 'ACK');
  const offer = core.received.find((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === call.callId);
  assert.deepEqual(parseSdp(offer.msg.body).media[0].fmts, ['0', '8', '126'], 'not a relayed offer to the core');
  return { far, core, rt, client, call, browser, ok };
}

const seqOf = (b) => b.readUInt16BE(2);
const isAudio = (b) => (b[1] & 0x7f) === 0;
const infosAtCore = (core, callId) => core.received.filter((e) => e.msg && e.msg.method === 'INFO' && e.msg.callId === callId).length;

async function sendInfo(client, call, body) {
  const { cseq } = client.inDialog(call, 'INFO', { extra: ['Content-Type: application/dtmf-relay'], body });
  return client.waitResponse(call.callId, 'INFO', (m) => m.status >= 200 && m.cseq.num === cseq, 5000);
}

function assertContiguous(packets, what) {
  for (let i = 1; i < packets.length; i++) {
    assert.equal(seqOf(packets[i]), (seqOf(packets[i - 1]) + 1) & 0xffff,
      `${what}: packet ${i} of ${packets.length} has ${seqOf(packets[i])} after ${seqOf(packets[i - 1])}`);
  }
}

test('INFO DTMF on a relayed PCMU call: RFC 4733 events in the browser\'s stream, numbering contiguous, 200 from rtcgw', { timeout: 90000, skip: NO_MEDIA_LOAD }, () =>
  Env.run('media-info-relay', async (env) => {
    const { far, core, client, call, browser, ok } = await relayedCall(env);

    // No browser RTP yet: nothing to put the digit in, so the INFO goes on to the core.
    const early = await sendInfo(client, call, 'Signal=1\r\nDuration=100\r\n');
    assert.equal(early.status, 200);
    assert.equal(infosAtCore(core, call.callId), 1, 'the INFO before any browser RTP did not reach the core');

    await browser.answer(ok.body);
    await until(() => far.got.filter(isAudio).length >= 10, 10000, 'the browser\'s PCMU at the far end');
    const info = await sendInfo(client, call, 'Signal=5\r\nDuration=100\r\n');
    assert.equal(info.status, 200);
    const events = () => far.got.filter((b) => (b[1] & 0x7f) === 101);
    await until(() => events().filter((b) => b[13] & 0x80).length >= 3, 5000, 'three end packets');
    const n = far.got.length;
    await until(() => far.got.length >= n + 10, 5000, 'audio after the event');
    assert.equal(infosAtCore(core, call.callId), 1, 'the DTMF INFO reached the core');

    const ev = events();
    assert.ok(ev.length >= 4, `only ${ev.length} telephone-event packets`);
    assert.ok(ev.every((b) => b.length === 16 && b[12] === 5), 'an event other than 5');
    assert.equal(ev[0][1] & 0x80, 0x80, 'the first report has no marker bit');
    const ssrc = far.got[0].readUInt32BE(8);
    assert.ok(far.got.every((b) => b.readUInt32BE(8) === ssrc), 'the events are not in the browser\'s stream (SSRC)');
    const ends = ev.filter((b) => b[13] & 0x80);
    assert.equal(ends.length, 3, 'not three end packets');
    assert.ok(ends.every((b) => b.readUInt16BE(14) === 800), 'end duration is not 100 ms at 8 kHz');
    // The event starts where the stream has got to: after the audio before it, before the audio after it.
    const first = far.got.indexOf(ev[0]);
    const before = far.got.slice(0, first).filter(isAudio).pop();
    const after = far.got.slice(far.got.indexOf(ends[0])).find(isAudio);
    const notBefore = (a, b) => ((a - b) >>> 0) < 0x80000000; // a >= b, modulo 2^32
    assert.ok(notBefore(ev[0].readUInt32BE(4), before.readUInt32BE(4)), 'the event\'s timestamp is behind the audio before it');
    assert.ok(notBefore(after.readUInt32BE(4), ev[0].readUInt32BE(4) + 1), 'the audio after the event is not later than its start');
    assert.ok(far.got.indexOf(after) > far.got.indexOf(ends[0]), 'no audio after the first end packet');
    // Audio under the digit is dropped: the browser stamps 160 more per packet, so its
    // timestamps tell how many it sent; about 100 ms of them (5) did not come.
    const audio = far.got.filter(isAudio);
    const sent = ((audio[audio.length - 1].readUInt32BE(4) - audio[0].readUInt32BE(4)) >>> 0) / 160 + 1;
    assert.ok(sent - audio.length >= 3, `${sent} audio packets sent, ${audio.length} relayed`);
    // One numbering for audio and events, in the order they came (loopback keeps it).
    assertContiguous(far.got, 'the stream at the far end');

    client.inDialog(call, 'BYE');
    await client.waitResponse(call.callId, 'BYE', (m) => m.status >= 200, 5000);
  }));

// G.711 mu-law to linear (ITU-T G.711), and the Goertzel power of `f` in x[from, from + n).
function ulaw(u) {
  const v = ~u & 0xff;
  const s = ((((v & 0x0f) << 3) + 0x84) << ((v >> 4) & 7)) - 0x84;
  return v & 0x80 ? -s : s;
}
function goertzel(x, from, n, f) {
  const c = 2 * Math.cos(2 * Math.PI * f / 8000);
  let s1 = 0, s2 = 0;
  for (let i = from; i < from + n; i++) [s1, s2] = [x[i] + c * s1 - s2, s1];
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

test('INFO DTMF on a relayed call whose core took no telephone-event: the tone in the PCMU payload', { timeout: 90000, skip: NO_MEDIA_LOAD }, () =>
  Env.run('media-info-inband', async (env) => {
    const { far, core, client, call, browser, ok } = await relayedCall(env, [[0, 'PCMU/8000']]);
    await browser.answer(ok.body);
    await until(() => far.got.length >= 10, 10000, 'the browser\'s PCMU at the far end');
    const info = await sendInfo(client, call, 'Signal=1\r\nDuration=200\r\n');
    assert.equal(info.status, 200);
    assert.equal(infosAtCore(core, call.callId), 0, 'the DTMF INFO reached the core');
    const n = far.got.length;
    await until(() => far.got.length >= n + 25, 5000, '500 ms of audio after the INFO');

    // Every packet is the browser's (PCMU, its numbering); the tone's are those without the
    // test browser's "benc" payload.
    assert.ok(far.got.every(isAudio), 'not only PCMU at the far end');
    assertContiguous(far.got, 'the stream at the far end');
    const tonePackets = far.got.filter((b) => b.readUInt32BE(12) !== 0x62656e63);
    assert.equal(tonePackets.length, 10, '200 ms of tone is not 10 packets');
    assertContiguous(tonePackets, 'the tone\'s packets');
    const pcm = [];
    for (const b of tonePackets) for (let i = 12; i < b.length; i++) pcm.push(ulaw(b[i]));
    const lo = goertzel(pcm, 160, 640, 697), hi = goertzel(pcm, 160, 640, 1209);
    assert.ok(lo > 1e9 && hi > 1e9, `no '1' tone (697 Hz: ${lo}, 1209 Hz: ${hi})`);
    for (const f of [770, 852, 941, 1336, 1477, 1633]) {
      const other = goertzel(pcm, 160, 640, f);
      assert.ok(lo > 100 * other && hi > 100 * other, `${f} Hz too strong in the tone: ${other}`);
    }

    client.inDialog(call, 'BYE');
    await client.waitResponse(call.callId, 'BYE', (m) => m.status >= 200, 5000);
  }));
