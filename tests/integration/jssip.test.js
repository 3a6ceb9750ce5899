'use strict';
// The real JsSIP 3.13.8 (npm, in node through jssip-node-websocket) registers through rtcgw to a
// sipp registrar that challenges it (JsSIP computes the digest), then MESSAGE both ways.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const JsSIP = require('jssip');
const NodeWebSocket = require('jssip-node-websocket');
const { Env, freePort, withTimeout } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

JsSIP.debug.disable('JsSIP:*');

test('JsSIP registers through rtcgw and exchanges MESSAGE both ways', { timeout: 90000 }, () =>
  Env.run('jssip', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort() });
    const registrar = await env.startSipp('uas_register.xml', { port: rt.pcscfPort, keys: { password: F.PASSWORD } });
    const socket = new NodeWebSocket(rt.wsUrl, { origin: 'http://127.0.0.1', requestOptions: {} });
    const ua = new JsSIP.UA({
      sockets: [socket], uri: 'sip:alice@example.com', password: F.PASSWORD, register: true,
      register_expires: 600, session_timers: false, connection_recovery_min_interval: 60,
    });
    env.onCleanup(() => { try { ua.stop(); } catch (_) { /* ignore */ } });
    const incoming = [];
    ua.on('newMessage', (e) => { if (e.originator === 'remote') incoming.push(e.request); });
    const registered = new Promise((resolve, reject) => {
      ua.on('registered', resolve);
      ua.on('registrationFailed', (e) => reject(new Error(`registrationFailed: ${e.cause} ${e.response ? e.response.status_code : ''}`)));
    });
    ua.start();
    const ev = await withTimeout(registered, 10000, 'JsSIP registered');
    await registrar.expectPass();
    const pathValue = ev.response.getHeader('Path');
    assert.ok(pathValue, 'JsSIP got the 200 without Path');

    // JsSIP -> core.
    const core = await env.startSipp('uas_message.xml', { port: rt.pcscfPort });
    const sent = new Promise((resolve, reject) => {
      ua.sendMessage('sip:bob@example.com', 'hello core', {
        eventHandlers: { succeeded: resolve, failed: (e) => reject(new Error(`MESSAGE failed: ${e.cause}`)) },
      });
    });
    await withTimeout(sent, 8000, 'JsSIP MESSAGE succeeded');
    await core.expectPass();

    // core -> JsSIP, routed by the Path to JsSIP's Contact.
    const contactUri = ua.contact.uri.toString();
    const uac = await env.startSipp('uac_message.xml', {
      remote: `127.0.0.1:${rt.sipPort}`,
      keys: { target_uri: contactUri, target_aor: 'sip:alice@example.com', path_route: sip.splitList(pathValue)[0], text: 'hello jssip' },
    });
    await uac.expectPass(); // JsSIP answered 200 and it came back through rtcgw
    assert.equal(incoming.length, 1, 'JsSIP did not get the MESSAGE');
    assert.match(incoming[0].body, /hello jssip/);
    ua.stop();
    await F.assertCleanStop(rt);
  }));
