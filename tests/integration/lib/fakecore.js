'use strict';
// Answers for the FakeCore UDP "P-CSCF": 200 to every request but ACK and INVITE (left unanswered).
const { responseTo } = require('./harness');

function answer200(msg) {
  if (msg.method === 'ACK' || msg.method === 'INVITE' || msg.method === 'CANCEL') return null;
  const headers = msg.method === 'REGISTER' && msg.get('contact') ? [`Contact: ${msg.get('contact')}`] : [];
  if (msg.method === 'REGISTER' && msg.get('path')) headers.push(`Path: ${msg.get('path')}`);
  return responseTo(msg, 200, 'OK', { headers });
}

module.exports = { answer200 };
