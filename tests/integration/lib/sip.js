'use strict';
// Minimal SIP message parsing and building for the integration tests.
// Parsing is deliberately small: start line, header lines (unfolded, compact names expanded),
// body. It is used to read what rtcgw sends, never to judge what is well-formed.

const crypto = require('node:crypto');

const COMPACT = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length',
  c: 'content-type', k: 'supported', s: 'subject', e: 'content-encoding', o: 'event',
  r: 'refer-to', x: 'session-expires', u: 'allow-events', b: 'referred-by', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition', y: 'identity', n: 'identity-info',
};

// Headers whose values may be comma-separated lists (split by all()).
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'path', 'service-route', 'contact', 'supported', 'require',
  'proxy-require', 'allow', 'unsupported',
]);

function canon(name) {
  const n = name.trim().toLowerCase();
  return COMPACT[n] || n;
}

// Splits a header value on commas outside quotes and angle brackets.
function splitList(value) {
  const out = [];
  let cur = '';
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      cur += ch;
      if (ch === '\\' && i + 1 < value.length) cur += value[++i];
      else if (ch === '"') inQuote = false;
      continue;
    }
    if (ch === '"') inQuote = true;
    else if (ch === '<') inAngle = true;
    else if (ch === '>') inAngle = false;
    else if (ch === ',' && !inAngle) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

class SipMessage {
  constructor() {
    this.raw = '';
    this.isRequest = false;
    this.method = null;
    this.ruri = null;
    this.status = null;
    this.reason = null;
    this.headers = []; // [{name (as written), key (canonical lower-case), value}]
    this.body = '';
  }

  // First value of a header (whole line value), or undefined.
  get(name) {
    const key = canon(name);
    const h = this.headers.find((x) => x.key === key);
    return h ? h.value : undefined;
  }

  // Every header line value, in order.
  lines(name) {
    const key = canon(name);
    return this.headers.filter((x) => x.key === key).map((x) => x.value);
  }

  // Every value, comma lists split, in order.
  all(name) {
    const key = canon(name);
    const vals = this.lines(name);
    if (!LIST_HEADERS.has(key)) return vals;
    return vals.flatMap(splitList);
  }

  has(name) {
    return this.get(name) !== undefined;
  }

  get callId() { return this.get('call-id'); }
  get cseq() {
    const v = this.get('cseq');
    if (!v) return { num: NaN, method: null };
    const m = v.trim().match(/^(\d+)\s+(\S+)/);
    return m ? { num: Number(m[1]), method: m[2] } : { num: NaN, method: null };
  }
  get cseqMethod() { return this.cseq.method; }

  get topVia() { return this.all('via')[0]; }

  toTag() { return paramOf(this.get('to') || '', 'tag'); }
  fromTag() { return paramOf(this.get('from') || '', 'tag'); }

  describe() {
    return this.isRequest ? `${this.method} ${this.ruri}` : `${this.status} ${this.reason} (${this.cseqMethod})`;
  }
}

// The value of a ;name=value parameter of a header value, outside <...>.
function paramOf(value, name) {
  let v = value;
  const gt = v.lastIndexOf('>');
  if (gt >= 0) v = v.slice(gt + 1);
  const re = new RegExp(`;\\s*${name}\\s*=\\s*("[^"]*"|[^;,\\s]+)`, 'i');
  const m = v.match(re);
  if (!m) return undefined;
  return m[1].replace(/^"|"$/g, '');
}

// The URI inside <...>, or the bare URI up to ';'.
function uriOf(value) {
  const m = value.match(/<([^>]*)>/);
  if (m) return m[1];
  return value.trim().split(';')[0];
}

function parse(data) {
  const text = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
  const msg = new SipMessage();
  msg.raw = text;
  let sep = text.indexOf('\r\n\r\n');
  let headPart;
  if (sep < 0) {
    headPart = text;
    msg.body = '';
  } else {
    headPart = text.slice(0, sep);
    msg.body = text.slice(sep + 4);
  }
  const rawLines = headPart.split('\r\n');
  const start = rawLines.shift() || '';
  let m = start.match(/^SIP\/2\.0\s+(\d{3})\s?(.*)$/);
  if (m) {
    msg.status = Number(m[1]);
    msg.reason = m[2];
  } else {
    m = start.match(/^(\S+)\s+(\S+)\s+SIP\/2\.0$/);
    if (!m) throw new Error(`unparseable start line: ${JSON.stringify(start)}`);
    msg.isRequest = true;
    msg.method = m[1];
    msg.ruri = m[2];
  }
  // Unfold.
  const lines = [];
  for (const l of rawLines) {
    if (/^[ \t]/.test(l) && lines.length) lines[lines.length - 1] += ' ' + l.trim();
    else lines.push(l);
  }
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c <= 0) continue;
    const name = l.slice(0, c).trim();
    msg.headers.push({ name, key: canon(name), value: l.slice(c + 1).trim() });
  }
  return msg;
}

function rand(n, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789') {
  const bytes = crypto.randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[bytes[i] % alphabet.length];
  return s;
}

// Like JsSIP's Utils.newTag() / branch / Call-ID.
function newTag() { return rand(10); }
function newBranch() { return 'z9hG4bK' + String(Math.floor(Math.random() * 10000000)).padStart(7, '1'); }
function newCallId() { return rand(22); }

function md5(s) { return crypto.createHash('md5').update(s).digest('hex'); }

// RFC 2617 digest with qop=auth (what JsSIP computes).
function digestAuthorization({ username, password, realm, nonce, method, uri, qop, opaque, algorithm }) {
  const ha1 = md5(`${username}:${realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  let value;
  if (qop) {
    const cnonce = rand(12);
    const nc = '00000001';
    const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    value = `Digest algorithm=${algorithm || 'MD5'}, username="${username}", realm="${realm}", ` +
      `nonce="${nonce}", uri="${uri}", response="${response}", qop=auth, cnonce="${cnonce}", nc=${nc}`;
  } else {
    const response = md5(`${ha1}:${nonce}:${ha2}`);
    value = `Digest algorithm=${algorithm || 'MD5'}, username="${username}", realm="${realm}", ` +
      `nonce="${nonce}", uri="${uri}", response="${response}"`;
  }
  if (opaque) value += `, opaque="${opaque}"`;
  return value;
}

function parseChallenge(value) {
  const out = {};
  const re = /(\w+)\s*=\s*("([^"]*)"|[^,\s]+)/g;
  let m;
  while ((m = re.exec(value))) out[m[1].toLowerCase()] = m[3] !== undefined ? m[3] : m[2];
  return out;
}

module.exports = {
  parse, SipMessage, splitList, paramOf, uriOf, rand, newTag, newBranch, newCallId,
  digestAuthorization, parseChallenge, md5,
};
