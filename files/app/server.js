'use strict';
// Reference app with Mission Control's shape (server.js, PORT 3001, PostgreSQL
// through `pg`, demo JWT). The project's tests and demo deploy it; a real user
// points the app variables at their own repository or artifact.
//
// Environment: PORT (3001), HOST (127.0.0.1), DATABASE_URL, DATABASE_POOL_SIZE,
// JWT_SECRET, JWT_EXPIRES_IN (7d), TRUST_PROXY (loopback), KEEP_ALIVE_TIMEOUT_MS
// (65000: above nginx's upstream keep-alive), APP_AUTO_SCHEMA (false: the
// schema belongs to the migration engine; true creates the two tables the
// demo needs, for tests).

const crypto = require('crypto');
const http = require('http');
const path = require('path');
const { Pool } = require('pg');

const pkg = require('./package.json');

const PORT = parseInt(process.env.PORT || '3001', 10);
const HOST = process.env.HOST || '127.0.0.1';
const JWT_SECRET = process.env.JWT_SECRET || '';
const JWT_TTL = parseDuration(process.env.JWT_EXPIRES_IN || '7d');
const KEEP_ALIVE_MS = parseInt(process.env.KEEP_ALIVE_TIMEOUT_MS || '65000', 10);
const TRUST_PROXY = (process.env.TRUST_PROXY || 'loopback').split(',').map((s) => s.trim());
const AUTO_SCHEMA = process.env.APP_AUTO_SCHEMA === 'true';
const RELEASE = path.basename(__dirname);

if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
if (JWT_SECRET.length < 32) throw new Error('JWT_SECRET is not set or shorter than 32 characters');

const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: parseInt(process.env.DATABASE_POOL_SIZE || '10', 10),
  connectionTimeoutMillis: 3000,
  idleTimeoutMillis: 30000,
});
pool.on('error', (err) => log('warn', 'idle database client error', { error: err.message }));

function parseDuration(text) {
  const m = /^(\d+)\s*([smhd]?)$/.exec(String(text).trim());
  if (!m) throw new Error(`JWT_EXPIRES_IN: cannot read "${text}" (use 3600, 60m, 12h or 7d)`);
  return parseInt(m[1], 10) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

function log(level, msg, extra) {
  process.stdout.write(JSON.stringify({ level, msg, pid: process.pid, ...extra }) + '\n');
}

// --- JWT (HS256 with node's crypto: no dependency) ---------------------------
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function signJwt(claims) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ ...claims, iat: now, exp: now + JWT_TTL }));
  const sig = crypto.createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function verifyJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  const want = crypto.createHmac('sha256', JWT_SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
  try {
    const head = JSON.parse(Buffer.from(parts[0], 'base64url'));
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    if (head.alg !== 'HS256' || !(claims.exp > Date.now() / 1000)) return null;
    return claims;
  } catch {
    return null;
  }
}

// --- database -----------------------------------------------------------------
const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id SERIAL PRIMARY KEY, email VARCHAR(255) UNIQUE NOT NULL, name VARCHAR(255) NOT NULL,
  avatar_url TEXT, provider VARCHAR(50) NOT NULL, provider_id VARCHAR(255) NOT NULL,
  openclaw_endpoint TEXT, openclaw_token TEXT, settings JSONB DEFAULT '{}',
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS tasks (
  id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title VARCHAR(500) NOT NULL, description TEXT, status VARCHAR(50) DEFAULT 'backlog',
  priority VARCHAR(20) DEFAULT 'medium', tags JSONB, openclaw_session_id VARCHAR(255),
  result_url TEXT, result_data TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP);`;

let schemaReady = null;
function ensureSchema() {
  if (!AUTO_SCHEMA) return Promise.resolve();
  if (!schemaReady) {
    schemaReady = (async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(3001)'); // one worker at a time
        await client.query(SCHEMA);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    })().catch((err) => {
      schemaReady = null;
      throw err;
    });
  }
  return schemaReady;
}

// --- HTTP -------------------------------------------------------------------------
function clientIp(req) {
  // Trust X-Forwarded-For only from the configured proxies (nginx on loopback).
  const peer = (req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  const trusted = TRUST_PROXY.some((p) => p === '*' || p === peer ||
    (p === 'loopback' && (peer === '127.0.0.1' || peer === '::1')));
  const fwd = req.headers['x-forwarded-for'];
  if (trusted && fwd) return fwd.split(',')[0].trim();
  return peer;
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) reject(Object.assign(new Error('body too large'), { status: 413 }));
      else chunks.push(c);
    });
    req.on('end', () => {
      if (chunks.length === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(Object.assign(new Error('invalid JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

function authUser(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  return m ? verifyJwt(m[1]) : null;
}

const routes = {
  'GET /api/health': async () => {
    let database = 'ok';
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      database = `error: ${err.message}`;
    }
    const ok = database === 'ok';
    return [ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', version: pkg.version, release: RELEASE, database, pid: process.pid }];
  },
  'POST /api/auth/demo': async () => {
    await ensureSchema();
    const { rows } = await pool.query(
      `INSERT INTO users (email, name, provider, provider_id) VALUES ($1, $2, 'demo', 'demo')
       ON CONFLICT (email) DO UPDATE SET updated_at = CURRENT_TIMESTAMP RETURNING id, email, name`,
      ['demo@mission-control.invalid', 'Demo User']);
    const user = rows[0];
    return [200, { token: signJwt({ sub: user.id, email: user.email, name: user.name }), user }];
  },
  'GET /api/tasks': async (req, user) => {
    await ensureSchema();
    const { rows } = await pool.query(
      `SELECT id, title, description, status, priority, created_at FROM tasks
       WHERE user_id = $1 ORDER BY id DESC LIMIT 100`, [user.sub]);
    return [200, { tasks: rows }];
  },
  'POST /api/tasks': async (req, user) => {
    const body = await readJson(req);
    if (typeof body.title !== 'string' || body.title.length === 0 || body.title.length > 500) {
      return [400, { error: 'title: a string of 1-500 characters is required' }];
    }
    await ensureSchema();
    const { rows } = await pool.query(
      `INSERT INTO tasks (user_id, title, description, status, priority)
       VALUES ($1, $2, $3, COALESCE($4, 'backlog'), COALESCE($5, 'medium'))
       RETURNING id, title, description, status, priority, created_at`,
      [user.sub, body.title, body.description || null, body.status || null, body.priority || null]);
    return [201, { task: rows[0] }];
  },
};
const NEEDS_AUTH = new Set(['GET /api/tasks', 'POST /api/tasks']);

const server = http.createServer(async (req, res) => {
  const key = `${req.method} ${req.url.split('?')[0]}`;
  const started = Date.now();
  try {
    const route = routes[key];
    if (!route) return send(res, 404, { error: 'not found' });
    const user = NEEDS_AUTH.has(key) ? authUser(req) : null;
    if (NEEDS_AUTH.has(key) && !user) return send(res, 401, { error: 'missing or invalid token' });
    const [status, body] = await route(req, user);
    send(res, status, body);
  } catch (err) {
    log('error', 'request failed', { route: key, error: err.message });
    send(res, err.status || 500, { error: err.status ? err.message : 'internal error' });
  } finally {
    if (process.env.LOG_REQUESTS === 'true') {
      log('info', 'request', { route: key, status: res.statusCode, ms: Date.now() - started, ip: clientIp(req) });
    }
  }
});
// Above nginx's upstream keep-alive, so nginx never reuses a socket we close.
server.keepAliveTimeout = KEEP_ALIVE_MS;
server.headersTimeout = KEEP_ALIVE_MS + 1000;

server.listen(PORT, HOST, () => {
  log('info', 'listening', { host: HOST, port: PORT, version: pkg.version, release: RELEASE });
  if (process.send) process.send('ready'); // PM2 wait_ready
});

function shutdown(signal) {
  log('info', 'shutting down', { signal });
  server.close(() => pool.end().finally(() => process.exit(0)));
  server.closeIdleConnections && server.closeIdleConnections();
  setTimeout(() => process.exit(1), 10000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT')); // PM2 sends SIGINT, then SIGKILL after kill_timeout
process.on('SIGTERM', () => shutdown('SIGTERM'));

