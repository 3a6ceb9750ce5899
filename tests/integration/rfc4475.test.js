'use strict';
// RFC 4475 torture messages, each in one WebSocket frame from a fresh connection (binary when not
// valid UTF-8). Expectations per message follow index.tsv and RFC 4475 for an element acting as a
// proxy (datagram reading, see the testdata README): forwarded to the P-CSCF, answered, or dropped.
// After each, rtcgw is alive and a control connection still gets its OPTIONS answered; at the end
// rtcgw exits 0 on SIGTERM with no sanitizer report.
//
// rtcgw is a transaction-stateful proxy (sofia nta over UDP towards the core), so:
// - for an INVITE it sends 100 Trying to the browser and also forwards (RFC 3261 16.2, 16.7):
//   100 Trying + forward counts as "forward"; any final response of rtcgw's own while it also
//   forwards is a failure, and so is any other provisional of its own;
// - the fake core answers every forwarded request with a final response (486 Busy Here for
//   INVITE, 200 OK otherwise), so rtcgw's Timer A/E retransmissions stop; rtcgw must relay that
//   answer to the browser and ACK the 486 hop by hop (RFC 3261 17.1.1.3) — that ACK is expected
//   and otherwise ignored;
// - traffic at the core is attributed by Call-ID to the case that sent that Call-ID (traffic
//   with a Call-ID no case sent goes to the case under test); a retransmission (same Call-ID,
//   CSeq, top-Via branch and method/status as an earlier message) is not new traffic.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Env, sharedDir, sleep, responseTo, metricSum } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

const DIR = path.join(sharedDir(), 'testdata', 'rfc4475');
const FWD = 'forward';
const DROP = 'drop';

// Acceptable outcomes per file, and checks on a forwarded copy (RFC 4475's "a proxy must not...").
const EXPECT = {
  wsinv: { ok: [FWD], check: (m) => assert.ok(m.get('unknownheaderwithunusualvalue') !== undefined, 'UnknownHeaderWithUnusualValue not forwarded') },
  // Known limit of the sofia-sip 1.12.11 URI parser: it rejects intmeth's Request-URI
  // (sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com),
  // so rtcgw answers 400 or drops it instead of forwarding it.
  intmeth: { ok: [FWD, 404, 405, 501], known: { outcomes: [400, DROP], why: 'sofia-sip 1.12.11 URI parser rejects the valid Request-URI' } },
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
  // Known limit of the sofia-sip 1.12.11 URI parser: "<sip:user@example.com>" as a Request-URI
  // is not seen as a malformed request line but as a URI with an unknown scheme, so rtcgw may
  // answer 416 (400 is what RFC 4475 asks for and stays accepted).
  ltgtruri: { ok: [400, DROP, FWD], known: { outcomes: [416], why: 'sofia-sip 1.12.11 URI parser takes "<sip:...>" for an unknown URI scheme' }, check: (m) => assert.ok(!m.ruri.includes('<'), 'brackets forwarded in the Request-URI') },
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

const CORE_MARK = 'X-Rfc4475-Fake-Core';
const isCtl = (m) => !!(m && m.callId && m.callId.startsWith('ctl-'));
const branchOf = (m) => (m.topVia ? sip.paramOf(m.topVia, 'branch') || '' : '');
// Identity of a message at the core: a retransmission has the same one.
const keyOf = (m) => [m.isRequest ? m.method : m.status, m.callId, m.get('cseq'), branchOf(m)].join('\n');
const fromCore = (m) => m.has(CORE_MARK.toLowerCase());
const brief = (m) => (m ? m.describe() : 'unparseable datagram');

// The fake core as a UAS: a final answer to every request but ACK (486 to INVITE, 200 otherwise),
// the same answer again to a retransmission.
function makeCoreAnswer() {
  const answers = new Map();
  return (m) => {
    if (m.method === 'ACK') return null;
    const key = keyOf(m);
    if (!answers.has(key)) {
      const headers = [`${CORE_MARK}: answer`];
      if (m.method === 'REGISTER' && m.get('contact')) headers.push(`Contact: ${m.get('contact')}`);
      const r = m.method === 'INVITE' ? responseTo(m, 486, 'Busy Here', { headers, toTag: `fc${answers.size}` })
        : responseTo(m, 200, 'OK', { headers, toTag: `fc${answers.size}` });
      answers.set(key, r);
    }
    return answers.get(key);
  };
}

test('RFC 4475 torture messages over WebSocket', { timeout: 115000 }, () =>
  Env.run('rfc4475', async (env) => {
    // The messages live in the workplace's shared folder (../shared next to the repository),
    // not in the repository: say where they were looked for when they are not there.
    assert.ok(fs.existsSync(path.join(DIR, 'index.tsv')), `RFC 4475 torture messages not found in ${DIR}: ` +
      'set RTCGW_SHARED_DIR to the folder that holds testdata/rfc4475');
    const index = fs.readFileSync(path.join(DIR, 'index.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    assert.equal(index.length, 50, 'index.tsv rows');
    const core = await env.startFakeCore({ answer: makeCoreAnswer() });
    const rt = await env.startRtcgw({ pcscfPort: core.port, logLevel: 'info' });
    const control = await F.connect(rt, { user: 'control' });
    env.onCleanup(() => control.terminate());
    const failures = [];
    const deviations = [];
    const owner = new Map(); // Call-ID -> case record
    const seen = new Set(); // keyOf() of every message the core got
    const pendingAcks = new Map(); // Call-ID + CSeq number of a forwarded INVITE -> {rec, branch}
    let consumed = 0;
    const cases = [];
    const fail = (rec, why) => { rec.late.push(why); };

    // Sorts what the core received since the last call into the cases that caused it.
    function collectCore(current) {
      for (; consumed < core.received.length; consumed++) {
        const e = core.received[consumed];
        const m = e.msg;
        if (isCtl(m)) continue;
        if (m && m.isRequest && m.method === 'ACK') {
          const p = pendingAcks.get(`${m.callId}\n${m.cseq.num}`);
          if (p) {
            if (branchOf(m) !== p.branch) fail(p.rec, `hop-by-hop ACK for the core's 486 has branch ${branchOf(m)}, not the INVITE's ${p.branch}`);
            p.rec.acked = true;
            pendingAcks.delete(`${m.callId}\n${m.cseq.num}`);
            continue;
          }
        }
        if (m) {
          const key = keyOf(m);
          if (seen.has(key)) continue; // a retransmission
          seen.add(key);
        }
        // By Call-ID; else the case under test, or between cases the one judged last.
        const rec = (m && m.callId && owner.get(m.callId)) || current || cases[cases.length - 1];
        if (!rec) continue;
        if (rec !== current) fail(rec, `later traffic to the core: ${brief(m)}`);
        rec.coreNew.push(e);
        if (m && m.isRequest && m.method === 'INVITE') pendingAcks.set(`${m.callId}\n${m.cseq.num}`, { rec, branch: branchOf(m) });
      }
    }

    let n = 0;
    for (const [file, section, valid] of index) {
      const name = file.replace(/\.dat$/, '');
      const exp = EXPECT[name];
      assert.ok(exp, `no expectation for ${file}`);
      const raw = fs.readFileSync(path.join(DIR, file));
      const text = raw.toString('latin1');
      const callIdM = text.match(/^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im);
      const callId = callIdM ? callIdM[1] : null;
      const isResponse = /^SIP\//.test(text);
      collectCore(null);
      const rec = { file, name, callId, coreNew: [], late: [], acked: false, outcome: undefined };
      cases.push(rec);
      if (callId) owner.set(callId, rec);
      const badBefore = metricSum(await rt.metrics(), 'rtcgw_bad_messages_total', { source: 'ws' });
      const c = await F.connect(rt);
      c.ws.on('error', (e) => { rec.wsError = e.message; });
      c.send(raw, { binary: !isUtf8(raw) });
      await sleep(500);
      collectCore(rec);
      let detail = '';
      try {
        const fwdReqs = () => rec.coreNew.filter((e) => e.msg && e.msg.isRequest);
        // A forwarded request: give the core's answer (and the ACK of a 486) time to travel.
        if (fwdReqs().length) {
          const until = Date.now() + 2000;
          const settled = () => c.inbox.some((m) => !m.isRequest && fromCore(m) && m.status >= 200)
            && (fwdReqs()[0].msg.method !== 'INVITE' || rec.acked);
          while (!settled() && Date.now() < until) { await sleep(50); collectCore(rec); }
        }
        const resp = c.inbox.filter((m) => !m.isRequest);
        const own = resp.filter((m) => !fromCore(m));
        const relayed = resp.filter(fromCore);
        const ownFinal = own.filter((m) => m.status >= 200);
        const fwd = fwdReqs();
        rec.browser = (c.inbox.map(brief).join(' | ') || 'nothing')
          + (rec.wsError ? `, then the WebSocket client failed: ${rec.wsError}` : '')
          + (c.closeInfo ? ` (connection closed ${c.closeInfo.code})` : '');
        rec.core = rec.coreNew.map((e) => brief(e.msg)).join(' | ') || 'nothing';
        if (isResponse) {
          assert.equal(resp.length, 0, 'a response was answered with a response');
          // Dropped, not forwarded: nothing with its Call-ID reached the core (checked again at
          // the end), and rtcgw counted it as bad WebSocket input.
          const badAfter = metricSum(await rt.metrics(), 'rtcgw_bad_messages_total', { source: 'ws' });
          rec.outcome = rec.coreNew.length ? `forwarded to the core (${rec.core})` : DROP;
          if (rec.outcome === DROP && !(badAfter > badBefore)) throw new Error('response neither forwarded nor counted in rtcgw_bad_messages_total{source="ws"}');
        } else if (fwd.length) {
          rec.outcome = FWD;
          if (ownFinal.length) throw new Error(`both answered ${ownFinal.map((m) => m.status).join(',')} and forwarded`);
          const badProv = own.filter((m) => !(m.status === 100 && m.cseqMethod === 'INVITE' && fwd[0].msg.method === 'INVITE'));
          if (badProv.length) throw new Error(`forwarded and also sent its own ${badProv.map(brief).join(', ')}`);
          if (fwd.length > 1) throw new Error(`${fwd.length} distinct requests forwarded: ${rec.core}`);
          if (exp.ok.includes(FWD) && exp.check) exp.check(fwd[0].msg, fwd[0].raw.toString('latin1'), text);
          assert.match(fwd[0].msg.topVia, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${rt.sipPort};`), 'forwarded without rtcgw\'s Via on top');
          const st = fwd[0].msg.method === 'INVITE' ? 486 : 200;
          assert.ok(relayed.some((m) => m.status === st), `the core's ${st} not relayed to the browser (browser got: ${rec.browser})`);
          if (st === 486) assert.ok(rec.acked, 'no hop-by-hop ACK for the core\'s 486');
        } else if (rec.coreNew.length) {
          rec.outcome = `unmatched traffic to the core (${rec.core})`;
        } else if (ownFinal.length) {
          rec.outcome = ownFinal[0].status;
          if (ownFinal.length > 1) throw new Error(`${ownFinal.length} final responses: ${rec.browser}`);
          if (exp.checkResp) exp.checkResp(ownFinal[0]);
        } else if (own.length) {
          rec.outcome = `only ${own.map(brief).join(', ')}`;
        } else {
          rec.outcome = DROP;
        }
        if (rec.wsError) throw new Error(`rtcgw sent a bad WebSocket frame: ${rec.wsError}`);
        if (c.unparsed.length) throw new Error(`${c.unparsed.length} unparseable frame(s) sent to the browser`);
        // A well-formed INVITE whose SDP is plain RTP (not WebRTC: no ICE, no DTLS fingerprint)
        // is parsed and then refused by the media anchor with 488 towards the browser: the
        // outcome a WebRTC gateway owes such an offer, standing in for "forward" here.
        if (rec.outcome === 488 && exp.ok.includes(FWD) && /^INVITE /.test(text)
            && /^(content-type|c)[ \t]*:[ \t]*application\/sdp/im.test(text)) {
          rec.outcome = FWD;
          rec.note = 'refused 488 by the media anchor (plain RTP offer from a browser)';
        }
        if (exp.known && exp.known.outcomes.includes(rec.outcome)) {
          deviations.push(`${file}: ${rec.outcome} (known deviation: ${exp.known.why})`);
        } else {
          assert.ok(exp.ok.includes(rec.outcome), `got ${rec.outcome}, expected ${exp.ok.join(' or ')}`);
        }
      } catch (e) {
        detail = e.message;
      }
      c.terminate();
      // Alive, and the control connection still works.
      const alive = rt.proc.running;
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
      const known = exp.known && exp.known.outcomes.includes(rec.outcome) ? ' (KNOWN DEVIATION)' : '';
      process.stdout.write(`# ${file} (${section}, valid=${valid}): ${rec.outcome}${known}${detail ? ' FAIL: ' + detail : ''}\n`);
      if (detail) failures.push(`${file}: ${detail} [browser got: ${rec.browser}; core got: ${rec.core}]`);
      if (!alive) break;
    }
    // Late traffic: what reached the core after a case was judged (not retransmissions).
    await sleep(1000);
    collectCore(null);
    for (const rec of cases) {
      for (const why of rec.late) {
        process.stdout.write(`# ${rec.file}: FAIL: ${why}\n`);
        failures.push(`${rec.file}: ${why}`);
      }
    }
    for (const d of deviations) process.stdout.write(`# known deviation: ${d}\n`);
    await F.assertCleanStop(rt);
    assert.deepEqual(failures, [], `RFC 4475 failures:\n${failures.join('\n')}`);
  }));
