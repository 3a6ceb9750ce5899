'use strict';
// TCP towards the core: sip.listen tcp:// and a P-CSCF URI with transport=tcp.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Env, freePort } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');

test('MESSAGE from a browser goes to the P-CSCF over TCP and its 200 comes back', { timeout: 60000 }, () =>
  Env.run('tcp', async (env) => {
    const rt = await env.startRtcgw({ pcscfPort: await freePort(), sipTransport: 'tcp' });
    const core = await env.startSipp('uas_message_tcp.xml', { port: rt.pcscfPort, extra: ['-t', 't1'] });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const callId = sip.newCallId();
    client.send(client.buildRequest('MESSAGE', 'sip:bob@example.com', {
      callId, cseq: 1, extra: ['Content-Type: text/plain'], body: 'hello over tcp',
    }));
    const final = await client.waitFinal(callId, 'MESSAGE', 8000);
    assert.equal(final.status, 200);
    assert.equal(final.all('via').length, 1, 'rtcgw\'s TCP Via was not removed');
    await core.expectPass();
    await F.assertCleanStop(rt);
  }));
