'use strict';
// Calls from the browser: INVITE/100/180/200/ACK/BYE through rtcgw to a sipp core, and CANCEL
// from the browser.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Env, freePort, sleep } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

test('originating call: INVITE 180 200 ACK BYE with double Record-Route and Service-Route', { timeout: 90000 }, () =>
  Env.run('call-orig', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);
    const serviceRoute = reg.ok.get('service-route');

    const core = await env.startSipp('uas_call.xml', { port: rt.pcscfPort });
    const call = client.invite('sip:bob@example.com');
    const ringing = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 180, 8000);
    const ok = await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 200, 8000);
    for (const r of [ringing, ok]) {
      F.assertOnlyBrowserVia(client, r, call.branch);
      F.assertOriginatingRR(rt, r.all('record-route'));
    }
    assert.match(ok.body, /m=audio /, '200 relayed without an SDP answer');
    // No response of rtcgw's own other than 100 may reach the browser for this INVITE.
    for (const m of client.inbox.filter((x) => !x.isRequest && x.callId === call.callId)) {
      assert.ok([100, 180, 200].includes(m.status), `unexpected ${m.status} to the INVITE`);
    }

    client.dialogFrom2xx(call, ok);
    // Route set as the browser computes it: reversed, WebSocket side first (RFC 3261 12.1.2).
    assert.equal(F.parseOwnUri(call.routeSet[0]).port, rt.wsPort);
    client.inDialog(call, 'ACK');
    await sleep(300);
    const bye = client.inDialog(call, 'BYE');
    const byeOk = await client.waitResponse(call.callId, 'BYE', (m) => m.status >= 200, 8000);
    assert.equal(byeOk.status, 200);
    F.assertOnlyBrowserVia(client, byeOk);
    await core.expectPass();

    const got = core.received();
    const invite = got.find((m) => m.method === 'INVITE');
    assert.ok(invite, 'core got no INVITE');
    assert.equal(invite.get('max-forwards'), '68');
    const routes = invite.all('route');
    assert.deepEqual(routes, [serviceRoute], 'INVITE Route is not exactly the learnt Service-Route');
    const rrs = F.assertOriginatingRR(rt, invite.all('record-route'));
    assert.equal(rrs.net.token, F.parseOwnUri(reg.pathRoute).token, 'Record-Route and Path name different flows');
    assert.match(invite.get('p-charging-vector') || '', /icid-value=/i, 'no P-Charging-Vector on INVITE');
    assert.equal(invite.ruri, 'sip:bob@example.com');
    // In-dialog requests arrive with rtcgw's own Route entries removed and rtcgw's Via on top.
    for (const method of ['ACK', 'BYE']) {
      const m = got.find((x) => x.method === method);
      assert.ok(m, `core got no ${method}`);
      assert.deepEqual(m.all('route'), [], `${method} still carries Route: ${m.all('route').join(', ')}`);
      assert.match(m.topVia, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${rt.sipPort};`));
      assert.equal(m.all('via').length, 2);
      assert.equal(m.get('max-forwards'), '68');
    }
    assert.equal(got.filter((x) => x.method === 'ACK').length, 1, 'core got more than one ACK');
    assert.ok(bye);

    const { metricSum } = require('./lib/harness');
    const mt = await rt.metrics();
    assert.ok(metricSum(mt, 'rtcgw_sip_requests_total', { direction: 'from_browser', method: 'INVITE' }) >= 1);
    assert.ok(metricSum(mt, 'rtcgw_sip_responses_total', { direction: 'from_core', method: 'INVITE', status: '200' }) >= 1,
      'no rtcgw_sip_responses_total{direction="from_core",method="INVITE",status="200"}');
    await F.assertCleanStop(rt);
  }));

test('CANCEL from the browser: 200 from rtcgw, CANCEL forwarded, 487 relayed', { timeout: 90000 }, () =>
  Env.run('cancel-orig', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const core = await env.startSipp('uas_cancel.xml', { port: rt.pcscfPort });
    const call = client.invite('sip:bob@example.com');
    await client.waitResponse(call.callId, 'INVITE', (m) => m.status === 180, 8000);
    client.cancel(call);
    const cancelOk = await client.waitResponse(call.callId, 'CANCEL', (m) => m.status >= 200, 5000);
    assert.equal(cancelOk.status, 200);
    F.assertOnlyBrowserVia(client, cancelOk, call.branch);
    const term = await client.waitResponse(call.callId, 'INVITE', (m) => m.status >= 300, 5000);
    assert.equal(term.status, 487);
    F.assertOnlyBrowserVia(client, term, call.branch);
    client.ackNon2xx(call, term);
    await core.expectPass();
    const got = core.received();
    assert.equal(got.filter((m) => m.method === 'CANCEL').length, 1, 'core got other than one CANCEL');
    assert.equal(got.filter((m) => m.method === 'ACK').length, 1, 'core got other than one ACK (the browser\'s hop-by-hop ACK must not be forwarded)');
    const inv = got.find((m) => m.method === 'INVITE');
    const can = got.find((m) => m.method === 'CANCEL');
    assert.equal(sip.paramOf(can.topVia, 'branch'), sip.paramOf(inv.topVia, 'branch'), 'CANCEL branch differs from the INVITE\'s (RFC 3261 9.1)');
    assert.equal(can.ruri, inv.ruri, 'CANCEL Request-URI differs from the INVITE\'s');
    assert.deepEqual(can.all('route'), inv.all('route'), 'CANCEL Route differs from the INVITE\'s');
    await F.assertCleanStop(rt);
  }));
