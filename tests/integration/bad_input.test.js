'use strict';
// Bad input from a browser: answered 400 where a response can be formed (Via, From, To, Call-ID,
// CSeq), dropped otherwise, 483 for Max-Forwards 0, WebSocket close 1009 for an oversized frame.
// Each is counted in rtcgw_bad_messages_total{source="ws"}, and a connection opened before the bad
// input still completes a REGISTER and a MESSAGE afterwards.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Env, metricSum, sleep } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');
const { answer200 } = require('./lib/fakecore');

const MAX = 4096; // websocket.max_message_size for this test

// A well-formed request as JsSIP writes it, then broken by `mutate(lines, body)`.
function request(c, { method = 'MESSAGE', body = 'hi', mutate = null } = {}) {
  const callId = sip.newCallId();
  let text = c.buildRequest(method, 'sip:bob@example.com', {
    callId, cseq: 1, extra: body ? ['Content-Type: text/plain'] : [], body,
  });
  if (mutate) text = mutate(text);
  return { callId, text };
}
const drop = (name) => (t) => t.split('\r\n').filter((l) => !l.toLowerCase().startsWith(name.toLowerCase() + ':')).join('\r\n');
const setCL = (n) => (t) => t.replace(/^Content-Length: \d+$/m, `Content-Length: ${n}`);

const CASES = [
  { name: 'garbage text', build: () => ({ text: 'hello, this is not SIP at all\r\n\r\n' }), expect: 'drop' },
  { name: 'broken start line (no SIP-Version)', build: (c) => request(c, { mutate: (t) => t.replace(/ SIP\/2\.0\r\n/, '\r\n') }), expect: 400 },
  { name: 'broken start line (garbage method line)', build: (c) => request(c, { mutate: (t) => t.replace(/^MESSAGE sip:bob@example\.com SIP\/2\.0/, 'MESSAGE<>sip:bob@@ SIP/2.0 extra') }), expect: [400, 'drop'] },
  { name: 'Content-Length larger than the body', build: (c) => request(c, { mutate: setCL(50) }), expect: 400 },
  // RFC 3261 18.3 (datagram reading, as for a WebSocket frame): extra octets after Content-Length
  // are discarded and the request processed; a 400 is what the brief asks. Either is accepted,
  // but forwarding the extra octets is not.
  { name: 'Content-Length smaller than the body', build: (c) => request(c, { body: 'hello world', mutate: setCL(5) }), expect: [400, 'forward-truncated'] },
  { name: 'missing Via', build: (c) => request(c, { mutate: drop('Via') }), expect: 'drop' },
  { name: 'missing Call-ID', build: (c) => request(c, { mutate: drop('Call-ID') }), expect: 'drop' },
  { name: 'binary non-UTF-8 frame', build: () => ({ data: Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]), crypto.randomBytes(200)]) }), expect: 'drop' },
  { name: 'oversized frame', build: (c) => request(c, { body: 'x'.repeat(MAX + 100) }), expect: 'close1009' },
  { name: 'Max-Forwards 0', build: (c) => request(c, { mutate: (t) => t.replace(/^Max-Forwards: 69$/m, 'Max-Forwards: 0') }), expect: 483, notBad: true },
];

test('bad input from a browser', { timeout: 110000 }, () =>
  Env.run('bad-input', async (env) => {
    const core = await env.startFakeCore({ answer: answer200 });
    const rt = await env.startRtcgw({ pcscfPort: core.port, wsMax: MAX });
    // Opened before any bad input; must keep working to the end.
    const bystander = await F.connect(rt, { user: 'carol' });
    env.onCleanup(() => bystander.terminate());

    for (const cs of CASES) {
      const victim = await F.connect(rt);
      env.onCleanup(() => victim.terminate());
      const before = metricSum(await rt.metrics(), 'rtcgw_bad_messages_total', { source: 'ws' });
      const coreBefore = core.received.length;
      const built = cs.build(victim);
      if (built.data) victim.send(built.data, { binary: true });
      else victim.send(built.text);
      const expects = [].concat(cs.expect);
      let outcome;
      if (expects.includes('close1009')) {
        const info = await Promise.race([victim.closed, sleep(3000).then(() => null)]);
        assert.ok(info, `${cs.name}: connection not closed`);
        assert.equal(info.code, 1009, `${cs.name}: closed with ${info.code}, expected 1009`);
        outcome = 'close1009';
      } else {
        await sleep(600);
        const resp = victim.inbox.filter((m) => !m.isRequest);
        const fwd = core.received.slice(coreBefore).filter((e) => e.msg && built.callId && e.msg.callId === built.callId);
        // A forwarded request also brings the core's response back: look at the core first.
        if (fwd.length) {
          outcome = 'forward';
          if (expects.includes('forward-truncated')) {
            assert.equal(fwd[0].msg.body, 'hello', `${cs.name}: forwarded body is not cut at Content-Length`);
            outcome = 'forward-truncated';
          }
        } else if (resp.length) {
          assert.equal(resp.length, 1, `${cs.name}: ${resp.length} responses`);
          outcome = resp[0].status;
          assert.equal(resp[0].callId, built.callId);
          assert.equal(resp[0].all('via').length, 1, `${cs.name}: response Via count`);
        } else {
          outcome = 'drop';
        }
        if (outcome !== 'forward' && outcome !== 'forward-truncated') {
          assert.equal(core.received.length, coreBefore, `${cs.name}: something reached the core`);
        }
        assert.ok(expects.includes(outcome), `${cs.name}: got ${outcome}, expected ${expects.join(' or ')}`);
      }
      const after = metricSum(await rt.metrics(), 'rtcgw_bad_messages_total', { source: 'ws' });
      if (!cs.notBad && outcome !== 'forward-truncated') {
        assert.ok(after > before, `${cs.name}: rtcgw_bad_messages_total{source="ws"} did not rise (${before} -> ${after})`);
      }
      assert.ok(rt.proc.running, `rtcgw died on ${cs.name}`);

      // The bystander still gets a MESSAGE through.
      const m = request(bystander, { body: `after ${cs.name}` });
      bystander.send(m.text);
      const ok = await bystander.waitFinal(m.callId, 'MESSAGE', 3000);
      assert.equal(ok.status, 200, `bystander MESSAGE after ${cs.name}`);
      victim.close();
    }
    // Keepalive (RFC 7118 / RFC 5626 CRLF keepalive) is answered with one CRLF.
    const nFrames = bystander.frames.length;
    bystander.send('\r\n\r\n');
    await sleep(300);
    const pong = bystander.frames.slice(nFrames);
    assert.equal(pong.length, 1, 'no answer to a CRLFCRLF keepalive');
    assert.equal(pong[0].data.toString('latin1'), '\r\n');

    // ... and registers.
    const reg = bystander.register();
    const regOk = await bystander.waitFinal(reg.callId, 'REGISTER', 3000);
    assert.equal(regOk.status, 200);
    assert.equal(bystander.closeInfo, null, 'the bystander connection was closed');
    await F.assertCleanStop(rt);
  }));

test('WebSocket without subprotocol sip is refused and counted', { timeout: 60000 }, () =>
  Env.run('subprotocol', async (env) => {
    const core = await env.startFakeCore({ answer: answer200 });
    const rt = await env.startRtcgw({ pcscfPort: core.port });
    const before = metricSum(await rt.metrics(), 'rtcgw_ws_rejected_total');
    let refused = false;
    try {
      const c = await F.connect(rt, { protocols: ['chat'] });
      // A server may also accept the TCP upgrade without a subprotocol and close at once.
      const info = await Promise.race([c.closed, sleep(2000).then(() => null)]);
      c.terminate();
      refused = info !== null || c.ws.protocol !== 'sip';
      assert.notEqual(c.ws.protocol, 'sip');
    } catch (_) {
      refused = true;
    }
    assert.ok(refused, 'a WebSocket without subprotocol sip was accepted');
    const after = metricSum(await rt.metrics(), 'rtcgw_ws_rejected_total');
    assert.ok(after > before, 'rtcgw_ws_rejected_total did not rise');
    const ok = await F.connect(rt);
    ok.close();
    await F.assertCleanStop(rt);
  }));
