import t from 'tap';
import { clientOf, isLoopback } from '../src/http/client.js';
import { parseListen } from '../src/config/urls.js';

const none = { xForwardedFor: '', xRealIp: '', forwarded: '' };

t.test('loopback is recognised in every spelling a socket reports', async (t) => {
  for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0000:0000:0000:0000:0000:0000:0000:0001', '0000:0000:0000:0000:0000:ffff:7f00:0001']) {
    t.ok(isLoopback(a), a);
  }
  for (const a of ['192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', '0000:0000:0000:0000:0000:ffff:c000:0202', '2001:db8::1', '128.0.0.1', '']) {
    t.notOk(isLoopback(a), a);
  }
});

t.test('a request is local only when it comes from loopback through no proxy', async (t) => {
  t.same(clientOf('127.0.0.1', none), { address: '127.0.0.1', local: true });
  t.same(clientOf('192.0.2.7', none), { address: '192.0.2.7', local: false });
  t.same(clientOf('127.0.0.1', { ...none, xForwardedFor: '198.51.100.1, 203.0.113.9' }), { address: '203.0.113.9', local: false }, 'the address the proxy appended last');
  t.same(clientOf('127.0.0.1', { ...none, xRealIp: '203.0.113.9' }), { address: '203.0.113.9', local: false });
  t.same(clientOf('127.0.0.1', { ...none, forwarded: 'for=198.51.100.1, for="[2001:db8::7]"' }), { address: '2001:db8::7', local: false });
  t.same(clientOf('192.0.2.7', { ...none, xForwardedFor: '127.0.0.1' }), { address: '192.0.2.7', local: false }, 'a remote client cannot claim to be someone else');
});

t.test('metrics.listen addresses', async (t) => {
  t.same(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  t.same(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  t.equal(parseListen(''), undefined);
});
