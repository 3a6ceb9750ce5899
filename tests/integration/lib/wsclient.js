'use strict';
// A SIP-over-WebSocket client that puts on the wire what JsSIP 3.13.8 does (header order, Via,
// Contact, Supported, Max-Forwards 69, User-Agent), one SIP message per frame (RFC 7118).
// It keeps every message it receives, lets a test wait for one, and can answer requests.

const WebSocket = require('ws');
const sip = require('./sip');
const { withTimeout } = require('./harness');

const ALLOW = 'INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY,SUBSCRIBE';
const USER_AGENT = 'JsSIP 3.13.8';

// What Chrome offers (trimmed to audio), as JsSIP sends it.
function chromeOffer() {
  const sess = String(Math.floor(Math.random() * 1e15));
  return [
    'v=0',
    `o=- ${sess} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 5f1c0a4e-8f6f-4b9a-9d8e-6c2d3a1b0e7f',
    'm=audio 50000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1467250027 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 network-id 1',
    'a=ice-ufrag:' + sip.rand(4),
    'a=ice-pwd:' + sip.rand(24),
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=sendrecv',
    'a=msid:5f1c0a4e-8f6f-4b9a-9d8e-6c2d3a1b0e7f 0d7a4b65-0e0b-4d0c-9a3a-2c8e4f6d1b2a',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:3735928559 cname:abcdEFGHijklMNOP',
    '',
  ].join('\r\n');
}

class WsSipClient {
  constructor(ws, { user = 'alice', domain = 'example.com' } = {}) {
    this.ws = ws;
    this.user = user;
    this.domain = domain;
    this.aor = `sip:${user}@${domain}`;
    this.viaHost = `${sip.rand(12)}.invalid`;
    this.contactUser = sip.rand(8);
    this.contactUri = `sip:${this.contactUser}@${this.viaHost};transport=ws`;
    this.instance = `<urn:uuid:${require('node:crypto').randomUUID()}>`;
    this.regCallId = sip.newCallId();
    this.regFromTag = sip.newTag();
    this.regCseq = 0;
    this.inbox = [];        // every parsed message, in arrival order
    this.unparsed = [];     // frames that did not parse as SIP
    this.frames = [];       // raw frames: {data: Buffer, binary}
    this.waiters = [];
    this.closeInfo = null;
    this.autoAnswer = null; // (req) => response text | null
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => { /* surfaces as close */ });
    ws.on('message', (data, isBinary) => this._onFrame(Buffer.from(data), isBinary));
  }

  static async connect(url, opts = {}) {
    const protocols = opts.protocols === undefined ? ['sip'] : opts.protocols;
    const ws = new WebSocket(url, protocols, {
      origin: opts.origin || 'http://127.0.0.1', handshakeTimeout: 5000, maxPayload: 1 << 20,
    });
    await withTimeout(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`WS handshake answered ${res.statusCode}`)));
    }), 6000, `WebSocket open ${url}`);
    return new WsSipClient(ws, opts);
  }

  _onFrame(buf, binary) {
    this.frames.push({ data: buf, binary });
    let msg;
    try {
      msg = sip.parse(buf);
    } catch (_) {
      this.unparsed.push(buf);
      this._wake({ unparsed: buf });
      return;
    }
    this.inbox.push(msg);
    if (msg.isRequest && this.autoAnswer) {
      const r = this.autoAnswer(msg, this);
      if (r) for (const one of [].concat(r)) this.send(one);
    }
    this._wake(msg);
  }

  _wake(item) {
    for (const w of [...this.waiters]) {
      if (w.pred(item)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(item);
      }
    }
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  send(data, { binary = false } = {}) {
    if (Buffer.isBuffer(data)) this.ws.send(data, { binary });
    else this.ws.send(binary ? Buffer.from(data, 'latin1') : data, { binary });
  }

  // Waits for a message matching pred (already received ones count). `from` skips older ones.
  waitFor(pred, ms = 5000, what = 'a SIP message on the WebSocket', { from = 0 } = {}) {
    const hit = this.inbox.slice(from).find(pred);
    if (hit) return Promise.resolve(hit);
    return withTimeout(new Promise((resolve) => this.waiters.push({
      pred: (m) => m instanceof sip.SipMessage && pred(m), resolve,
    })), ms, `${what} (inbox: ${this.inbox.map((m) => m.describe()).join(' | ') || 'empty'})`);
  }

  waitResponse(callId, cseqMethod, pred = () => true, ms = 5000) {
    return this.waitFor((m) => !m.isRequest && m.callId === callId && m.cseqMethod === cseqMethod && pred(m),
      ms, `a response to ${cseqMethod} ${callId}`);
  }
  waitFinal(callId, cseqMethod, ms = 5000) {
    return this.waitResponse(callId, cseqMethod, (m) => m.status >= 200, ms);
  }
  waitRequest(method, pred = () => true, ms = 5000) {
    return this.waitFor((m) => m.isRequest && m.method === method && pred(m), ms, `a ${method} request`);
  }

  // Resolves true if nothing arrives for `ms` from now (frames of any kind).
  async quietFor(ms) {
    const n = this.frames.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.length === n;
  }

  via(branch) { return `SIP/2.0/WS ${this.viaHost};branch=${branch || sip.newBranch()}`; }

  // Builds a request as JsSIP's OutgoingRequest.toString() does.
  buildRequest(method, ruri, {
    branch, callId, cseq, fromTag, toTag, toUri, fromUri, routes = [], extra = [], body = '',
    maxForwards = 69, supported,
  } = {}) {
    const lines = [`${method} ${ruri} SIP/2.0`];
    if (routes.length) lines.push(`Route: ${routes.join(',')}`);
    lines.push(`Via: ${this.via(branch)}`);
    lines.push(`Max-Forwards: ${maxForwards}`);
    lines.push(`To: <${toUri || ruri}>${toTag ? `;tag=${toTag}` : ''}`);
    lines.push(`From: <${fromUri || this.aor}>;tag=${fromTag || sip.newTag()}`);
    lines.push(`Call-ID: ${callId || sip.newCallId()}`);
    lines.push(`CSeq: ${cseq || Math.floor(Math.random() * 10000)} ${method}`);
    lines.push(...extra);
    lines.push(`Allow: ${ALLOW}`);
    if (supported === undefined) {
      supported = method === 'REGISTER' ? 'path,gruu,outbound'
        : method === 'INVITE' ? 'timer,ice,replaces,outbound' : 'outbound';
    }
    lines.push(`Supported: ${supported}`);
    lines.push(`User-Agent: ${USER_AGENT}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    return lines.join('\r\n') + '\r\n\r\n' + body;
  }

  // REGISTER as JsSIP sends it. Returns {callId, cseq, branch, text}.
  register({ expires = 600, authorization, extra = [] } = {}) {
    this.regCseq += 1;
    const branch = sip.newBranch();
    const hdrs = [`Expires: ${expires}`,
      `Contact: <${this.contactUri}>;+sip.ice;reg-id=1;+sip.instance="${this.instance}";expires=${expires}`];
    if (authorization) hdrs.push(`Authorization: ${authorization}`);
    hdrs.push(...extra);
    const text = this.buildRequest('REGISTER', `sip:${this.domain}`, {
      branch, callId: this.regCallId, cseq: this.regCseq, fromTag: this.regFromTag, toUri: this.aor,
      extra: hdrs,
    });
    this.send(text);
    return { callId: this.regCallId, cseq: this.regCseq, branch, text };
  }

  // REGISTER, answer a 401/407 with digest, expect 200. Returns {challenge, ok: SipMessage}.
  async registerWithAuth({ password, username = this.user, ms = 5000, extra = [] } = {}) {
    const r1 = this.register({ extra });
    const first = await this.waitResponse(r1.callId, 'REGISTER', (m) => m.status >= 200 && m.cseq.num === r1.cseq, ms);
    if (first.status !== 401 && first.status !== 407) {
      return { challenge: null, first, ok: first.status === 200 ? first : null, final: first };
    }
    const hdr = first.get(first.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
    const ch = sip.parseChallenge(hdr);
    const authorization = sip.digestAuthorization({
      username, password, realm: ch.realm, nonce: ch.nonce, method: 'REGISTER',
      uri: `sip:${this.domain}`, qop: ch.qop ? 'auth' : undefined, opaque: ch.opaque,
    });
    const r2 = this.register({ authorization, extra });
    const final = await this.waitResponse(r2.callId, 'REGISTER', (m) => m.status >= 200 && m.cseq.num === r2.cseq, ms);
    return { challenge: first, authorization, final, ok: final.status === 200 ? final : null, sent: r2 };
  }

  // A new INVITE with a Chrome-like offer. Returns the dialog-ish state for ACK/BYE/CANCEL.
  invite(target, { extra = [], body = chromeOffer(), maxForwards = 69, routes = [] } = {}) {
    const callId = sip.newCallId();
    const fromTag = sip.newTag();
    const branch = sip.newBranch();
    const cseq = Math.floor(Math.random() * 10000) + 1;
    const text = this.buildRequest('INVITE', target, {
      branch, callId, cseq, fromTag, routes, maxForwards,
      extra: [`Contact: <${this.contactUri};ob>`, 'Content-Type: application/sdp',
        'Session-Expires: 90', ...extra],
      body,
    });
    this.send(text);
    return { target, callId, fromTag, branch, cseq, text, localCseq: cseq };
  }

  // CANCEL for an INVITE sent with invite(): same branch, same R-URI, CSeq number, To, From.
  cancel(call) {
    const lines = [`CANCEL ${call.target} SIP/2.0`, `Via: ${this.via(call.branch)}`, 'Max-Forwards: 69',
      `To: <${call.target}>`, `From: <${this.aor}>;tag=${call.fromTag}`, `Call-ID: ${call.callId}`,
      `CSeq: ${call.cseq} CANCEL`, `Allow: ${ALLOW}`, 'Supported: outbound', `User-Agent: ${USER_AGENT}`,
      'Content-Length: 0'];
    this.send(lines.join('\r\n') + '\r\n\r\n');
  }

  // ACK for a non-2xx final response (same branch as the INVITE, hop-by-hop, RFC 3261 17.1.1.3).
  ackNon2xx(call, resp) {
    const lines = [`ACK ${call.target} SIP/2.0`, `Via: ${this.via(call.branch)}`, 'Max-Forwards: 69',
      `To: ${resp.get('to')}`, `From: <${this.aor}>;tag=${call.fromTag}`, `Call-ID: ${call.callId}`,
      `CSeq: ${call.cseq} ACK`, `Allow: ${ALLOW}`, 'Supported: outbound', `User-Agent: ${USER_AGENT}`,
      'Content-Length: 0'];
    this.send(lines.join('\r\n') + '\r\n\r\n');
  }

  // After a 2xx to our INVITE: route set = reversed Record-Route, remote target = Contact.
  dialogFrom2xx(call, ok) {
    call.routeSet = ok.all('record-route').reverse();
    call.remoteTarget = sip.uriOf(ok.get('contact'));
    call.toTag = ok.toTag();
    call.toHeader = ok.get('to');
    return call;
  }

  // An in-dialog request of the UAC side (ACK for 2xx, BYE, MESSAGE, ...).
  inDialog(call, method, { extra = [], body = '' } = {}) {
    const cseq = method === 'ACK' ? call.cseq : ++call.localCseq;
    const text = this.buildRequest(method, call.remoteTarget, {
      callId: call.callId, cseq, fromTag: call.fromTag, toTag: call.toTag, toUri: call.target,
      routes: call.routeSet, extra, body,
      supported: method === 'ACK' ? 'outbound' : undefined,
    });
    this.send(text);
    return { text, cseq };
  }

  // A UAS response to a request we received (JsSIP's reply(): RR copied on 101..200 to INVITE).
  respond(req, status, reason, { toTag, headers = [], body = '', contentType } = {}) {
    const lines = [`SIP/2.0 ${status} ${reason}`];
    const isDialogCreating = ['INVITE', 'SUBSCRIBE', 'REFER'].includes(req.method);
    if (isDialogCreating && status > 100 && status < 300) {
      for (const rr of req.lines('record-route')) lines.push(`Record-Route: ${rr}`);
    }
    for (const v of req.lines('via')) lines.push(`Via: ${v}`);
    let to = req.get('to');
    if (status > 100 && !sip.paramOf(to, 'tag')) to += `;tag=${toTag || sip.newTag()}`;
    lines.push(`To: ${to}`, `From: ${req.get('from')}`, `Call-ID: ${req.get('call-id')}`,
      `CSeq: ${req.get('cseq')}`);
    lines.push(...headers);
    lines.push('Supported: outbound');
    if (body) lines.push(`Content-Type: ${contentType || 'application/sdp'}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    const text = lines.join('\r\n') + '\r\n\r\n' + body;
    this.send(text);
    return text;
  }

  close() {
    try { this.ws.close(1000); } catch (_) { /* ignore */ }
  }
  terminate() {
    try { this.ws.terminate(); } catch (_) { /* ignore */ }
  }
}

// A browser-side SDP answer for calls from the core.
function chromeAnswer() {
  return chromeOffer().replace('a=setup:actpass', 'a=setup:active');
}

module.exports = { WsSipClient, chromeOffer, chromeAnswer, ALLOW, USER_AGENT };
