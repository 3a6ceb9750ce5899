'use strict';
// Requests from the core to a registered browser, routed by the Path rtcgw put in the REGISTER:
// a call the browser answers, a CANCEL from the core, MESSAGE, flow gone (430), Max-Forwards 0
// (483), and two browsers each getting only their own requests.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Env, freePort, sleep } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');
const { chromeAnswer } = require('./lib/wsclient');

function keysFor(client, reg, extra = {}) {
  return { target_uri: client.contactUri, target_aor: client.aor, path_route: reg.pathRoute, ...extra };
}

// Checks common to every request rtcgw relays to a browser.
function assertTerminating(rt, client, req, token) {
  assert.equal(req.ruri, client.contactUri, `${req.method} R-URI is not the registered Contact`);
  const vias = req.all('via');
  assert.equal(vias.length, 2, `${req.method} at the browser has ${vias.length} Via values: ${vias.join(' | ')}`);
  assert.match(vias[0], new RegExp(`^SIP/2\\.0/WSS? 127\\.0\\.0\\.1:${rt.wsPort};(.*;)?branch=z9hG4bK`),
    `top Via is not rtcgw's WebSocket Via: ${vias[0]}`);
  assert.match(vias[1], /^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;/);
  for (const r of req.all('route')) {
    const o = F.parseOwnUri(r);
    assert.ok(!o || o.token !== token, `${req.method} still carries rtcgw's own Route: ${r}`);
  }
  assert.equal(req.get('max-forwards'), '69', `${req.method} Max-Forwards not decremented from 70`);
}

test('terminating call routed by Path: 180 200 ACK BYE', { timeout: 90000 }, () =>
  Env.run('call-term', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);
    const token = F.parseOwnUri(reg.pathRoute).token;
    const toTag = sip.newTag();
    client.autoAnswer = (req, c) => {
      if (req.method === 'INVITE') {
        c.respond(req, 180, 'Ringing', { toTag, headers: [`Contact: <${c.contactUri}>`] });
        setTimeout(() => c.respond(req, 200, 'OK', { toTag, headers: [`Contact: <${c.contactUri}>`], body: chromeAnswer() }), 100);
      } else if (req.method === 'BYE') {
        c.respond(req, 200, 'OK');
      }
      return null;
    };
    const core = await env.startSipp('uac_call.xml', { remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(client, reg) });
    const inv = await client.waitRequest('INVITE', () => true, 8000);
    const ack = await client.waitRequest('ACK', () => true, 8000);
    const bye = await client.waitRequest('BYE', () => true, 8000);
    await core.expectPass();

    assertTerminating(rt, client, inv, token);
    // Record-Route on the INVITE towards the browser: WebSocket side on top, then network side.
    const rrs = inv.all('record-route');
    assert.equal(rrs.length, 2, `INVITE at the browser has ${rrs.length} Record-Route entries: ${rrs.join(' | ')}`);
    const ws = F.parseOwnUri(rrs[0]);
    const net = F.parseOwnUri(rrs[1]);
    assert.ok(ws && net, `unparseable Record-Route: ${rrs.join(' | ')}`);
    assert.equal(ws.port, rt.wsPort);
    assert.equal(ws.params.transport, 'ws');
    assert.equal(net.port, rt.sipPort);
    assert.equal(net.params.transport, 'udp');
    assert.equal(ws.token, net.token);
    for (const e of [ws, net]) { assert.ok(e.params.lr); assert.equal(e.params.r2, 'on'); }
    assert.equal(ws.token, token, 'Record-Route names another flow than the Path the INVITE came by');
    assert.match(inv.body, /m=audio /, 'INVITE reached the browser without SDP');
    for (const m of [ack, bye]) {
      assert.equal(m.ruri, client.contactUri);
      assert.deepEqual(m.all('route'), [], `${m.method} at the browser still carries Route`);
      assert.equal(m.all('via').length, 2);
      assert.equal(m.callId, inv.callId);
    }
    // The core got 100 (rtcgw's), 180 and 200 relayed with one Via (sipp checks Via and RR).
    const got = core.received();
    assert.ok(got.some((m) => m.status === 100), 'no 100 Trying from rtcgw for the INVITE');
    const ok = got.find((m) => m.status === 200 && m.cseqMethod === 'INVITE');
    assert.ok(ok);
    assert.match(ok.body, /m=audio /, '200 relayed without SDP');
    await F.assertCleanStop(rt);
  }));

test('CANCEL from the core: 200, CANCEL to the browser, its 487 relayed, ACK to the browser', { timeout: 90000 }, () =>
  Env.run('cancel-term', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);
    const toTag = sip.newTag();
    let invite = null;
    client.autoAnswer = (req, c) => {
      if (req.method === 'INVITE') {
        invite = req;
        c.respond(req, 180, 'Ringing', { toTag, headers: [`Contact: <${c.contactUri}>`] });
      } else if (req.method === 'CANCEL') {
        c.respond(req, 200, 'OK', { toTag });
        c.respond(invite, 487, 'Request Terminated', { toTag });
      }
      return null;
    };
    const core = await env.startSipp('uac_cancel.xml', { remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(client, reg) });
    const inv = await client.waitRequest('INVITE', () => true, 8000);
    const can = await client.waitRequest('CANCEL', () => true, 8000);
    const ack = await client.waitRequest('ACK', () => true, 8000);
    await core.expectPass();
    const invBranch = sip.paramOf(inv.topVia, 'branch');
    assert.equal(sip.paramOf(can.topVia, 'branch'), invBranch, 'CANCEL to the browser has another branch than the INVITE (RFC 3261 9.1)');
    assert.equal(can.ruri, inv.ruri);
    assert.equal(can.cseq.num, inv.cseq.num);
    assert.equal(can.all('via').length, 1, 'a CANCEL rtcgw generates carries only its own Via');
    // rtcgw's client transaction ACKs the 487 hop-by-hop (RFC 3261 17.1.1.3).
    assert.equal(sip.paramOf(ack.topVia, 'branch'), invBranch, 'ACK for the 487 has another branch than the INVITE');
    assert.equal(ack.cseq.num, inv.cseq.num);
    assert.equal(ack.toTag(), toTag);
    await sleep(300);
    assert.equal(client.inbox.filter((m) => m.method === 'ACK').length, 1, 'browser got more than one ACK (the core\'s ACK must be absorbed)');
    await F.assertCleanStop(rt);
  }));

test('MESSAGE both ways', { timeout: 90000 }, () =>
  Env.run('message', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);
    const token = F.parseOwnUri(reg.pathRoute).token;

    // Browser -> core.
    const core = await env.startSipp('uas_message.xml', { port: rt.pcscfPort });
    const callId = sip.newCallId();
    const branch = sip.newBranch();
    client.send(client.buildRequest('MESSAGE', 'sip:bob@example.com', {
      callId, branch, cseq: 1, extra: ['Content-Type: text/plain'], body: 'hello core',
    }));
    const ok = await client.waitFinal(callId, 'MESSAGE', 8000);
    assert.equal(ok.status, 200);
    F.assertOnlyBrowserVia(client, ok, branch);
    await core.expectPass();
    const atCore = core.received().find((m) => m.method === 'MESSAGE');
    assert.deepEqual(atCore.all('route'), [reg.ok.get('service-route')], 'MESSAGE out of dialog without the Service-Route');
    assert.equal(atCore.body, 'hello core');

    // Core -> browser.
    client.autoAnswer = (req, c) => { if (req.method === 'MESSAGE') c.respond(req, 200, 'OK'); return null; };
    const uac = await env.startSipp('uac_message.xml', {
      port: rt.pcscfPort, remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(client, reg, { text: 'hello browser' }),
    });
    const msg = await client.waitRequest('MESSAGE', () => true, 8000);
    await uac.expectPass();
    assertTerminating(rt, client, msg, token);
    assert.equal(msg.body, 'hello browser\r\n');
    assert.equal(msg.all('record-route').length, 0, 'MESSAGE is not dialog-creating: no Record-Route');
    await F.assertCleanStop(rt);
  }));

test('flow gone: 430 Flow Failed; Max-Forwards 0 from the core: 483', { timeout: 90000 }, () =>
  Env.run('flow-gone', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);

    // Max-Forwards 0 on a request for a live flow: 483, and nothing reaches the browser.
    const mf = await env.startSipp('uac_maxfwd0.xml', { remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(client, reg) });
    await mf.expectPass();
    assert.equal(client.inbox.filter((m) => m.isRequest).length, 0, 'a Max-Forwards: 0 request reached the browser');

    client.close();
    await client.closed;
    await sleep(300);
    const gone = await env.startSipp('uac_flow_gone.xml', { remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(client, reg) });
    await gone.expectPass();
    const got = gone.received();
    const r430 = got.find((m) => m.status === 430);
    assert.ok(r430);
    assert.equal(r430.all('via').length, 1);
    await F.assertCleanStop(rt);
  }));

test('two browsers registered at once each get only their own requests', { timeout: 90000 }, () =>
  Env.run('two-browsers', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const a = await F.connect(rt, { user: 'alice' });
    const b = await F.connect(rt, { user: 'bob' });
    env.onCleanup(() => { a.terminate(); b.terminate(); });
    const regSipp = await env.startSipp('uas_register.xml', { port: rt.pcscfPort, keys: { password: F.PASSWORD }, calls: 2 });
    const [ra, rb] = await Promise.all([
      a.registerWithAuth({ password: F.PASSWORD }), b.registerWithAuth({ password: F.PASSWORD }),
    ]);
    await regSipp.expectPass();
    assert.equal(ra.final.status, 200);
    assert.equal(rb.final.status, 200);
    const regA = { pathRoute: sip.splitList(ra.ok.get('path'))[0] };
    const regB = { pathRoute: sip.splitList(rb.ok.get('path'))[0] };
    assert.notEqual(F.parseOwnUri(regA.pathRoute).token, F.parseOwnUri(regB.pathRoute).token,
      'two WebSocket connections got the same flow token');
    for (const c of [a, b]) c.autoAnswer = (req, cl) => { cl.respond(req, 200, 'OK'); return null; };

    for (const [c, reg, text] of [[a, regA, 'for alice'], [b, regB, 'for bob']]) {
      const s = await env.startSipp('uac_message.xml', { remote: `127.0.0.1:${rt.sipPort}`, keys: keysFor(c, reg, { text }) });
      await c.waitRequest('MESSAGE', (m) => m.body.includes(text), 8000);
      await s.expectPass();
    }
    await sleep(200);
    const msgsA = a.inbox.filter((m) => m.method === 'MESSAGE');
    const msgsB = b.inbox.filter((m) => m.method === 'MESSAGE');
    assert.deepEqual(msgsA.map((m) => m.body.trim()), ['for alice']);
    assert.deepEqual(msgsB.map((m) => m.body.trim()), ['for bob']);
    const { metricSum } = require('./lib/harness');
    assert.equal(metricSum(await rt.metrics(), 'rtcgw_registrations'), 2);
    assert.equal(metricSum(await rt.metrics(), 'rtcgw_ws_connections'), 2);
    await F.assertCleanStop(rt);
  }));
