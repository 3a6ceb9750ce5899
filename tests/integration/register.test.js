'use strict';
// REGISTER through rtcgw: Path with a flow token (RFC 3327, RFC 5626), 401 and Authorization passed
// unchanged, IMS header handling, then a request from the core routed by that Path reaches this
// very WebSocket.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Env, freePort } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

test('register: 401 then 200, Path flow token routes back to this WebSocket', { timeout: 90000 }, () =>
  Env.run('register', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());

    const reg = await F.register(env, rt, client, {
      extra: ['P-Preferred-Identity: <sip:alice@example.com>',
        'P-Asserted-Identity: <sip:mallory@example.com>',
        'Security-Client: sdes-srtp;mediasec'],
    });
    // The 401 and the 200 come back with only the browser's Via.
    F.assertOnlyBrowserVia(client, reg.challenge);
    F.assertOnlyBrowserVia(client, reg.ok, reg.sent.branch);
    assert.ok(reg.challenge.get('www-authenticate'), '401 relayed without WWW-Authenticate');
    assert.match(reg.challenge.get('www-authenticate'), /^Digest realm="example\.com"/);
    assert.ok(reg.ok.get('service-route'), '200 relayed without Service-Route');

    // What the registrar got.
    const regs = reg.sipp.received().filter((m) => m.method === 'REGISTER');
    assert.equal(regs.length, 2, `registrar got ${regs.length} REGISTERs`);
    for (const m of regs) {
      const paths = m.all('path');
      assert.equal(paths.length, 1, `REGISTER carries ${paths.length} Path values`);
      const p = F.parseOwnUri(paths[0]);
      assert.ok(p, `Path unparseable: ${paths[0]}`);
      assert.equal(p.host, '127.0.0.1');
      assert.equal(p.port, rt.sipPort, 'Path does not name rtcgw\'s SIP listener');
      assert.equal(p.params.transport, 'udp');
      assert.ok(p.params.lr, 'Path without ;lr');
      assert.ok(p.params.ob, 'Path without ;ob (RFC 5626 5.1: the edge proxy adds ob for outbound)');
      assert.match(p.token, F.TOKEN_RE);
      assert.ok(m.all('supported').map((s) => s.toLowerCase()).includes('path'), 'Supported: path missing');
      assert.equal(m.get('max-forwards'), '68');
      // The Contact is the browser's, unchanged (routing back goes by Path).
      assert.equal(m.get('contact'),
        `<${client.contactUri}>;+sip.ice;reg-id=1;+sip.instance="${client.instance}";expires=600`);
      const vias = m.all('via');
      assert.equal(vias.length, 2, `REGISTER at the registrar has ${vias.length} Via values`);
      assert.match(vias[0], new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${rt.sipPort};`));
      assert.match(vias[1], new RegExp(`^SIP/2\\.0/WS ${client.viaHost.replace(/\./g, '\\.')};`));
      assert.equal(sip.paramOf(vias[1], 'received'), '127.0.0.1', 'browser Via without received= (RFC 3261 18.2.1)');
      // IMS: P-Preferred-Identity passes, P-Asserted-Identity and Security-Client are removed,
      // P-Charging-Vector icid added.
      assert.equal(m.get('p-preferred-identity'), '<sip:alice@example.com>');
      assert.equal(m.get('p-asserted-identity'), undefined, 'P-Asserted-Identity from a browser was forwarded');
      assert.equal(m.get('security-client'), undefined, 'Security-Client from a browser was forwarded');
      assert.match(m.get('p-charging-vector') || '', /icid-value=/i, 'no P-Charging-Vector icid-value on REGISTER');
    }
    // The Authorization arrives byte for byte as the browser sent it.
    assert.equal(regs[1].get('authorization'), reg.authorization);
    // Both REGISTERs of one connection carry the same flow token.
    assert.equal(F.parseOwnUri(regs[0].get('path')).token, F.parseOwnUri(regs[1].get('path')).token);
    const token = F.parseOwnUri(regs[1].get('path')).token;

    // The core reaches the browser by the Path: R-URI = its Contact, Route = the Path entry.
    client.autoAnswer = (req, c) => (req.method === 'MESSAGE' ? c.respond(req, 200, 'OK') && null : null);
    const sippMsg = await env.startSipp('uac_message.xml', {
      remote: `127.0.0.1:${rt.sipPort}`,
      keys: { target_uri: client.contactUri, target_aor: client.aor, path_route: reg.pathRoute, text: 'to alice' },
    });
    const msg = await client.waitRequest('MESSAGE', () => true, 8000);
    await sippMsg.expectPass();
    assert.equal(msg.ruri, client.contactUri, 'terminating R-URI is not the registered Contact');
    assert.match(msg.body, /to alice/);
    const vias = msg.all('via');
    assert.equal(vias.length, 2, `MESSAGE at the browser has ${vias.length} Via values`);
    assert.match(vias[0], /^SIP\/2\.0\/WSS? /, `rtcgw's Via towards the browser is not WS: ${vias[0]}`);
    assert.match(vias[1], /^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;/);
    for (const r of msg.all('route')) {
      const o = F.parseOwnUri(r);
      assert.ok(!o || o.token !== token, `rtcgw left its own Route entry in: ${r}`);
    }
    assert.equal(msg.get('max-forwards'), '69');

    const m = await rt.metrics();
    const { metricSum } = require('./lib/harness');
    assert.equal(metricSum(m, 'rtcgw_registrations'), 1, 'rtcgw_registrations after one 200');
    assert.equal(metricSum(m, 'rtcgw_ws_connections'), 1);
    assert.ok(metricSum(m, 'rtcgw_sip_requests_total', { direction: 'from_browser', method: 'REGISTER' }) >= 2);
    assert.ok(metricSum(m, 'rtcgw_sip_requests_total', { direction: 'from_core', method: 'MESSAGE' }) >= 1);

    client.close();
    await F.assertCleanStop(rt);
  }));

test('register: visited network id configured is added', { timeout: 60000 }, () =>
  Env.run('register-pvni', async (env) => {
    const rt = await env.startRtcgw({
      pcscfPort: await freePort(), extraSip: '  ims: { visited_network_id: "rtcgw.test" }',
    });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const reg = await F.register(env, rt, client);
    const regs = reg.sipp.received().filter((m) => m.method === 'REGISTER');
    assert.equal(regs.length, 2);
    for (const m of regs) assert.match(m.get('p-visited-network-id') || '', /rtcgw\.test/);
    await F.assertCleanStop(rt);
  }));
