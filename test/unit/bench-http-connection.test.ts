import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawHttpPool } from '../../src/bench/http-connection.js';

// A real node:http server answering with Content-Length, chunked, and error bodies.
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/chunked') {
      res.writeHead(200);
      res.write('a'.repeat(10));
      setTimeout(() => res.end('b'.repeat(5000)), 5);
    } else if (req.url === '/fail') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `bad ${body}` }));
    } else {
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
    }
  });
});
let port = 0;
beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', () => ((port = (server.address() as AddressInfo).port), r()))));
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (path: string, body: string) =>
  Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

describe('bench raw HTTP connections', () => {
  it('reuses keep-alive connections across Content-Length and chunked responses, and keeps error bodies', async () => {
    const pool = new RawHttpPool('127.0.0.1', port);
    try {
      for (let i = 0; i < 20; i++) {
        expect(await pool.send(post('/echo', `req ${i}`))).toEqual({ status: 200, body: undefined });
        expect((await pool.send(post('/chunked', ''))).status).toBe(200);
      }
      const r = await pool.send(post('/fail', 'input'));
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body!.toString()).error).toBe('bad input');
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.send(post('/echo', 'x'.repeat(i * 1000)))));
      expect(many.every((m) => m.status === 200)).toBe(true);
    } finally {
      pool.close();
    }
  });

  it('rejects when nothing listens', async () => {
    const pool = new RawHttpPool('127.0.0.1', 1);
    await expect(pool.send(post('/', ''))).rejects.toThrow(/ECONNREFUSED/);
    pool.close();
  });
});
