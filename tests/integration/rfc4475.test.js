'use strict';
// RFC 4475 torture messages, each in one WebSocket frame from a fresh connection (binary when not
// valid UTF-8). Expectations per message follow index.tsv and RFC 4475 for an element acting as a
// proxy (datagram reading, see the testdata README): forwarded to the P-CSCF, answered, or dropped.
// After each, rtcgw is alive and a control connection still gets its OPTIONS answered; at the end
// rtcgw exits 0 on SIGTERM with no sanitizer report.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Env, sharedDir, sleep, responseTo } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

const DIR = path.join(sharedDir(), 'testdata', 'rfc4475');
const FWD = 'forward';
const DROP = 'drop';

// Acceptable outcomes per file, and checks on a forwarded copy (RFC 4475's "a proxy must not...").
const EXPECT = {
  wsinv: { ok: [FWD], check: (m) => assert.ok(m.get('unknownheaderwithunusualvalue') !== undefined, 'UnknownHeaderWithUnusualValue not forwarded') },
  intmeth: { ok: [FWD, 404, 405, 501] },
  esc01: { ok: [FWD] },
  escnull: { ok: [FWD] },
  esc02: { ok: [FWD, 501] },
  lwsdisp: { ok: [FWD] },
  longreq: { ok: [FWD] },
  dblreq: { ok: [FWD], check: (m, raw) => { assert.equal(m.body, '', 'trailing octets forwarded as a body'); assert.ok(!/INVITE sip:/.test(raw), 'trailing INVITE octets forwarded'); } },
  semiuri: { ok: [FWD] },
  transports: { ok: [FWD] },
  mpart01: { ok: [FWD] },
  unreason: { ok: [DROP] },
  noreason: { ok: [DROP] },
  badinv01: { ok: [400, DROP] },
  clerr: { ok: [400] },
  ncl: { ok: [400, DROP] },
  scalar02: { ok: [400, DROP] },
  scalarlg: { ok: [DROP] },
  quotbal: { ok: [400, DROP, FWD] },
  ltgtruri: { ok: [400, DROP, FWD], check: (m) => assert.ok(!m.ruri.includes('<'), 'brackets forwarded in the Request-URI') },
  lwsruri: { ok: [400, DROP, FWD], check: (m) => assert.ok(!/;\s/.test(m.ruri)) },
  lwsstart: { ok: [400, DROP, FWD], check: (m, raw) => assert.match(raw.split('\r\n')[0], /^\S+ \S+ SIP\/2\.0$/, 'extra SP forwarded in the request line') },
  trws: { ok: [400, DROP, FWD], check: (m, raw) => assert.match(raw.split('\r\n')[0], /^\S+ \S+ SIP\/2\.0$/, 'trailing SP forwarded in the request line') },
  escruri: { ok: [400, DROP, FWD], check: (m) => { assert.ok(!m.ruri.includes('?'), 'escaped headers left in the forwarded Request-URI'); assert.ok(!m.all('route').some((r) => /sip:example\.com>/.test(r)), 'escaped Route turned into a header'); } },
  baddate: { ok: [FWD, 400] },
  regbadct: { ok: [400, DROP, FWD] },
  badaspec: { ok: [400, DROP, FWD] },
  baddn: { ok: [400, DROP, FWD], check: (m) => assert.ok(!/^Bell, Alexander/.test(m.get('from')), 'unquoted display name with a comma propagated') },
  badvers: { ok: [505, 400] },
  mismatch01: { ok: [400] },
  mismatch02: { ok: [501, 400] },
  bigcode: { ok: [DROP] },
  badbranch: { ok: [400, FWD] },
  insuf: { ok: [400, DROP] },
  unkscm: { ok: [416] },
  novelsc: { ok: [416] },
  unksm2: { ok: [FWD, 400, 403, 404, 416] },
  bext01: { ok: [420], checkResp: (r) => { const u = r.all('unsupported').join(',').toLowerCase(); assert.ok(u.includes('noproxiessupportthis') && u.includes('nordoanyproxiessupportthis'), `420 Unsupported lists ${u}`); assert.ok(!u.includes('nothingsupportsthis'), 'a proxy lists Require tags in Unsupported'); } },
  invut: { ok: [FWD] },
  regaut01: { ok: [FWD], check: (m, raw, orig) => assert.equal(m.get('authorization'), sip.parse(orig).get('authorization'), 'Authorization modified') },
  multi01: { ok: [400, DROP] },
  mcl01: { ok: [400, DROP] },
  bcast: { ok: [DROP] },
  zeromf: { ok: [483, 200] },
  cparam01: { ok: [FWD] },
  cparam02: { ok: [FWD], check: (m) => assert.match(m.get('contact'), /<[^>]*;unknownparam[^>]*>/, 'url-parameter moved out of <>') },
  regescrt: { ok: [FWD], check: (m) => assert.match(m.get('contact'), /\?Route=%3Csip:sip\.example\.com%3E/i, 'escaped header in the Contact URI changed') },
  sdp01: { ok: [FWD] },
  inv2543: { ok: [FWD] },
  test: { ok: [400, DROP] },
};

function isUtf8(buf) {
  try { new TextDecoder('utf-8', { fatal: true }).decode(buf); return true; } catch (_) { return false; }
}

test('RFC 4475 torture messages over WebSocket', { timeout: 115000 }, () =>
  Env.run('rfc4475', async (env) => {
    const index = fs.readFileSync(path.join(DIR, 'index.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    assert.equal(index.length, 50, 'index.tsv rows');
    const core = await env.startFakeCore({
      answer: (m) => (m.callId && m.callId.startsWith('ctl-') ? responseTo(m, 200, 'OK') : null),
    });
    const rt = await env.startRtcgw({ pcscfPort: core.port, logLevel: 'info' });
    const control = await F.connect(rt, { user: 'control' });
    env.onCleanup(() => control.terminate());
    const failures = [];
    let n = 0;
    for (const [file, section, valid] of index) {
      const name = file.replace(/\.dat$/, '');
      const exp = EXPECT[name];
      assert.ok(exp, `no expectation for ${file}`);
      const raw = fs.readFileSync(path.join(DIR, file));
      const text = raw.toString('latin1');
      const callIdM = text.match(/^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im);
      const callId = callIdM ? callIdM[1] : null;
      const c = await F.connect(rt);
      const coreBefore = core.received.length;
      c.send(raw, { binary: !isUtf8(raw) });
      await sleep(500);
      let outcome;
      let detail = '';
      try {
        const resp = c.inbox.filter((m) => !m.isRequest);
        const fwd = core.received.slice(coreBefore).filter((e) => e.msg && e.msg.isRequest && (callId ? e.msg.callId === callId : !e.msg.callId || !e.msg.callId.startsWith('ctl-')));
        const isResponse = /^SIP\//.test(text);
        if (isResponse) assert.equal(resp.length, 0, 'a response was answered with a response');
        if (resp.length && fwd.length) throw new Error(`both answered ${resp[0].status} and forwarded`);
        if (resp.length) {
          outcome = resp[0].status;
          if (exp.checkResp) exp.checkResp(resp[0]);
        } else if (fwd.length) {
          outcome = FWD;
          if (exp.ok.includes(FWD) && exp.check) exp.check(fwd[0].msg, fwd[0].raw.toString('latin1'), text);
          assert.match(fwd[0].msg.topVia, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${rt.sipPort};`), 'forwarded without rtcgw\'s Via on top');
        } else {
          const any = core.received.slice(coreBefore).filter((e) => !(e.msg && e.msg.callId && e.msg.callId.startsWith('ctl-')));
          outcome = any.length ? `unmatched traffic to the core (${any.length})` : DROP;
        }
        assert.ok(exp.ok.includes(outcome), `got ${outcome}, expected ${exp.ok.join(' or ')}`);
      } catch (e) {
        detail = e.message;
      }
      c.terminate();
      // Alive, and the control connection still works.
      let alive = rt.proc.running;
      if (alive) {
        const id = `ctl-${++n}-${sip.newCallId()}`;
        control.send(control.buildRequest('OPTIONS', 'sip:ping@example.com', { callId: id, cseq: n }));
        try {
          const r = await control.waitFinal(id, 'OPTIONS', 3000);
          if (r.status !== 200) detail += ` control OPTIONS answered ${r.status}`;
        } catch (e) {
          detail += ` control OPTIONS unanswered: ${e.message}`;
        }
      } else {
        detail += ' rtcgw died';
      }
      process.stdout.write(`# ${file} (${section}, valid=${valid}): ${outcome}${detail ? ' FAIL: ' + detail : ''}\n`);
      if (detail) failures.push(`${file}: ${detail}`);
      if (!alive) break;
    }
    await F.assertCleanStop(rt);
    assert.deepEqual(failures, [], `RFC 4475 failures:\n${failures.join('\n')}`);
  }));
