// Stand-ins for the three publishing platforms, for the end-to-end tests of the CLI
// and the publish Lambda: YouTube's resumable upload and its extras, Google's token
// endpoint, Vimeo's API with a REAL tus server (@tus/server, @tus/file-store) taking
// the uploads, and Facebook's Graph API (resumable upload, Page videos, captions).
// Answers and errors are in the shapes each platform documents (the same bodies as
// tests/fixtures/platforms/).
//
// Usage: node platforms.mjs DIR
// Prints one line once listening: {"url": "http://127.0.0.1:<port>"}
//   YouTube API:   <url>/youtube        token endpoint: <url>/google/token
//   Vimeo API:     <url>/vimeo          tus uploads:    <url>/files
//   Facebook:      <url>/facebook
// Test control:
//   POST <url>/_fail  {"platform": "youtube", "step": "start", "status": 403, "body": {...},
//                      "headers": {...}}   the next such request is answered with it
//   POST <url>/_drop  {"platform": "youtube"}   the next chunk is kept in half and the
//                      connection dropped
//   GET  <url>/_state  what each platform received: sessions, videos (bytes, sha256),
//                      extras, bytes accepted
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node platforms.mjs DIR');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });

const TOKENS = {
  google: 'youtube-access-token',
  vimeo: 'vimeo-test-token',
  fbUser: 'fb-user-token',
  fbPage: 'fb-page-token',
};
const state = {
  youtube: { sessions: {}, videos: [], extras: [], accepted: 0, starts: 0 },
  vimeo: { videos: {}, versions: [], extras: [], starts: 0 },
  facebook: { sessions: {}, videos: [], extras: [], accepted: 0, starts: 0 },
  tokens: 0,
};
const failures = [];
const drops = new Set();
let origin = '';
let counter = 0;

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(text);
}

function injected(platform, step, res) {
  const i = failures.findIndex((f) => f.platform === platform && f.step === step);
  if (i < 0) return false;
  const [f] = failures.splice(i, 1);
  send(res, f.status, f.body, f.headers || {});
  return true;
}

function body(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
}

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const bearer = (req) => (req.headers.authorization || '').replace(/^Bearer /, '');
const googleError = (code, reason, message) => ({
  error: { code, message, errors: [{ message, domain: 'youtube', reason }] },
});

async function youtube(req, res, url) {
  const p = url.pathname.replace(/^\/youtube/, '');
  const authorised = bearer(req) === TOKENS.google;
  if (!authorised) {
    return send(res, 401, googleError(401, 'authError', 'Invalid Credentials'));
  }
  if (req.method === 'POST' && p === '/upload/youtube/v3/videos') {
    const meta = JSON.parse((await body(req)).toString() || '{}');
    if (injected('youtube', 'start', res)) return;
    const total = Number(req.headers['x-upload-content-length']);
    const id = `up${++counter}`;
    state.youtube.starts += 1;
    state.youtube.sessions[id] = { total, bytes: Buffer.alloc(0), meta };
    return send(res, 200, {}, { Location: `${origin}/youtube/upload/youtube/v3/videos?upload_id=${id}` });
  }
  if (req.method === 'PUT' && p === '/upload/youtube/v3/videos') {
    const s = state.youtube.sessions[url.searchParams.get('upload_id')];
    const chunk = await body(req);
    if (!s) return send(res, 404, googleError(404, 'notFound', 'Upload session not found'));
    const range = req.headers['content-range'] || '';
    const m = range.match(/^bytes (\d+)-(\d+)\/(\d+)$/);
    if (m) {
      const from = Number(m[1]);
      if (from !== s.bytes.length) {
        return send(res, 400, googleError(400, 'badRequest', `expected byte ${s.bytes.length}`));
      }
      let kept = chunk;
      if (drops.has('youtube')) {
        drops.delete('youtube');
        kept = chunk.subarray(0, Math.floor(chunk.length / 2));
        s.bytes = Buffer.concat([s.bytes, kept]);
        state.youtube.accepted += kept.length;
        return res.socket.destroy();
      }
      s.bytes = Buffer.concat([s.bytes, kept]);
      state.youtube.accepted += kept.length;
    }
    if (s.bytes.length < s.total) {
      const headers = s.bytes.length ? { Range: `bytes=0-${s.bytes.length - 1}` } : {};
      res.writeHead(308, headers);
      return res.end();
    }
    if (!s.video) {
      s.video = { id: `yt${++counter}`, bytes: s.bytes.length, sha256: sha(s.bytes), meta: s.meta };
      state.youtube.videos.push(s.video);
    }
    return send(res, 200, { kind: 'youtube#video', id: s.video.id, snippet: s.meta.snippet, status: s.meta.status });
  }
  if (req.method === 'POST' && p === '/upload/youtube/v3/thumbnails/set') {
    const b = await body(req);
    if (injected('youtube', 'thumbnail', res)) return;
    state.youtube.extras.push({ extra: 'thumbnail', video: url.searchParams.get('videoId'), bytes: b.length, type: req.headers['content-type'] });
    return send(res, 200, { kind: 'youtube#thumbnailSetResponse', items: [] });
  }
  if (req.method === 'POST' && p === '/upload/youtube/v3/captions') {
    const b = await body(req);
    if (injected('youtube', 'captions', res)) return;
    state.youtube.extras.push({ extra: 'captions', bytes: b.length, has_vtt: b.includes('WEBVTT') });
    return send(res, 200, { kind: 'youtube#caption', id: `cap${++counter}` });
  }
  if (req.method === 'POST' && p === '/youtube/v3/playlistItems') {
    const item = JSON.parse((await body(req)).toString());
    if (injected('youtube', 'playlist', res)) return;
    state.youtube.extras.push({ extra: 'playlist', playlist: item.snippet.playlistId, video: item.snippet.resourceId.videoId });
    return send(res, 200, { kind: 'youtube#playlistItem', id: `pli${++counter}`, snippet: item.snippet });
  }
  return send(res, 404, googleError(404, 'notFound', `no ${req.method} ${p}`));
}

async function google(req, res) {
  const form = new URLSearchParams((await body(req)).toString());
  if (form.get('refresh_token') === 'revoked') {
    return send(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  }
  state.tokens += 1;
  return send(res, 200, { access_token: TOKENS.google, expires_in: 3599, token_type: 'Bearer' });
}

async function tusUpload(size) {
  const made = await fetch(`${origin}/files`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size) },
  });
  return made.headers.get('location');
}

async function vimeo(req, res, url) {
  const p = url.pathname.replace(/^\/vimeo/, '');
  // Upload links (of pictures and text tracks) carry no token, as Vimeo's own.
  if (bearer(req) !== TOKENS.vimeo && !p.startsWith('/_files/')) {
    return send(res, 401, { error: 'You must provide a valid authenticated access token.', developer_message: 'The requested endpoint requires an authenticated request.', error_code: 8003 });
  }
  const json = async () => JSON.parse((await body(req)).toString() || '{}');
  if (req.method === 'POST' && p === '/me/videos') {
    const b = await json();
    if (injected('vimeo', 'start', res)) return;
    const id = String(++counter + 100000);
    const link = await tusUpload(b.upload.size);
    state.vimeo.starts += 1;
    state.vimeo.videos[id] = { name: b.name, description: b.description, view: b.privacy.view, upload: link, size: b.upload.size };
    return send(res, 201, { uri: `/videos/${id}`, link: `https://vimeo.com/${id}`, name: b.name, upload: { approach: 'tus', upload_link: link, size: b.upload.size } });
  }
  let m = p.match(/^\/videos\/(\d+)\/versions$/);
  if (req.method === 'POST' && m) {
    const b = await json();
    if (injected('vimeo', 'start', res)) return;
    if (!state.vimeo.videos[m[1]]) {
      return send(res, 404, { error: 'The requested video couldn\'t be found.', error_code: 5000 });
    }
    const link = await tusUpload(b.upload.size);
    state.vimeo.starts += 1;
    state.vimeo.versions.push({ video: m[1], file_name: b.file_name, upload: link, size: b.upload.size });
    return send(res, 201, { upload: { status: 'in_progress', upload_link: link, approach: 'tus', size: b.upload.size } });
  }
  m = p.match(/^\/videos\/(\d+)\/(texttracks|pictures)$/);
  if (req.method === 'POST' && m) {
    const b = await json();
    const kind = m[2] === 'texttracks' ? 'captions' : 'thumbnail';
    if (injected('vimeo', kind, res)) return;
    const n = ++counter;
    return send(res, 201, { uri: `/videos/${m[1]}/${m[2]}/${n}`, link: `${origin}/vimeo/_files/${m[1]}/${kind}/${n}`, ...b });
  }
  m = p.match(/^\/_files\/(\d+)\/(\w+)\/(\d+)$/);
  if (req.method === 'PUT' && m) {
    const b = await body(req);
    state.vimeo.extras.push({ extra: m[2], video: m[1], bytes: b.length });
    return send(res, 200, {});
  }
  if (req.method === 'PATCH') {
    const b = await json();
    return send(res, 200, { uri: p, ...b });
  }
  return send(res, 404, { error: `no ${req.method} ${p}`, error_code: 5000 });
}

async function facebook(req, res, url) {
  const p = url.pathname.replace(/^\/facebook/, '');
  const token = url.searchParams.get('access_token') || (req.headers.authorization || '').replace(/^OAuth /, '');
  const fbError = (code, message, type = 'OAuthException') => ({ error: { message, type, code, fbtrace_id: 'A1b2C3' } });
  if (![TOKENS.fbUser, TOKENS.fbPage].includes(token) && !(req.method === 'POST' && p.endsWith('/videos'))) {
    return send(res, 400, fbError(190, 'Error validating access token: Session has expired.'));
  }
  let m = p.match(/^\/(\w+)\/uploads$/);
  if (req.method === 'POST' && m) {
    await body(req);
    if (injected('facebook', 'start', res)) return;
    const id = `upload:MTphd${++counter}`;
    state.facebook.starts += 1;
    state.facebook.sessions[id] = { total: Number(url.searchParams.get('file_length')), bytes: Buffer.alloc(0) };
    return send(res, 200, { id });
  }
  m = p.match(/^\/(upload:\w+)$/);
  if (m) {
    const s = state.facebook.sessions[decodeURIComponent(m[1])];
    if (!s) return send(res, 400, fbError(100, 'Invalid upload session', 'GraphMethodException'));
    if (req.method === 'GET') return send(res, 200, { id: m[1], file_offset: s.bytes.length });
    const chunk = await body(req);
    const offset = Number(req.headers.file_offset);
    if (offset !== s.bytes.length) return send(res, 400, fbError(100, 'Invalid file_offset'));
    s.bytes = Buffer.concat([s.bytes, chunk]);
    state.facebook.accepted += chunk.length;
    s.handle = `4:${Buffer.from(m[1]).toString('base64')}`;
    return send(res, 200, { h: s.handle });
  }
  m = p.match(/^\/(\d+)\/videos$/);
  if (req.method === 'POST' && m) {
    const form = new URLSearchParams((await body(req)).toString());
    if (form.get('access_token') !== TOKENS.fbPage) return send(res, 400, fbError(190, 'Error validating access token: Session has expired.'));
    if (injected('facebook', 'publish', res)) return;
    const s = Object.values(state.facebook.sessions).find((x) => x.handle === form.get('fbuploader_video_file_chunk'));
    if (!s) return send(res, 400, fbError(100, 'Invalid file handle'));
    const id = String(10159876543210 + ++counter);
    state.facebook.videos.push({ id, page: m[1], title: form.get('title'), description: form.get('description'), published: form.get('published'), bytes: s.bytes.length, sha256: sha(s.bytes), polls: 0 });
    return send(res, 200, { id });
  }
  m = p.match(/^\/(\d+)\/captions$/);
  if (req.method === 'POST' && m) {
    const b = await body(req);
    if (injected('facebook', 'captions', res)) return;
    state.facebook.extras.push({ extra: 'captions', video: m[1], bytes: b.length, srt_name: /filename="captions\.\w+\.srt"/.test(b.toString()) });
    return send(res, 200, { success: true });
  }
  m = p.match(/^\/(\d+)$/);
  if (req.method === 'GET' && m) {
    const v = state.facebook.videos.find((x) => x.id === m[1]);
    if (!v) return send(res, 400, fbError(100, 'Unsupported get request.', 'GraphMethodException'));
    v.polls += 1;
    const ready = v.polls > 1;
    return send(res, 200, { id: v.id, status: { video_status: ready ? 'ready' : 'processing' }, permalink_url: `/${v.page}/videos/${v.id}/` });
  }
  return send(res, 400, fbError(100, `Unknown path ${req.method} ${p}`, 'GraphMethodException'));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, origin);
  try {
    if (url.pathname.startsWith('/files')) return tus.handle(req, res);
    if (url.pathname === '/_state') {
      const vimeo = { ...state.vimeo, uploads: {} };
      for (const f of fs.readdirSync(dir)) {
        if (f.endsWith('.json')) continue;
        const bytes = fs.readFileSync(path.join(dir, f));
        vimeo.uploads[f] = { bytes: bytes.length, sha256: sha(bytes) };
      }
      const yt = { ...state.youtube, sessions: Object.keys(state.youtube.sessions).length };
      const fb = { ...state.facebook, sessions: Object.keys(state.facebook.sessions).length };
      return send(res, 200, { youtube: yt, vimeo, facebook: fb, tokens: state.tokens });
    }
    if (url.pathname === '/_fail') {
      failures.push(JSON.parse((await body(req)).toString()));
      return send(res, 200, {});
    }
    if (url.pathname === '/_drop') {
      drops.add(JSON.parse((await body(req)).toString()).platform);
      return send(res, 200, {});
    }
    if (url.pathname.startsWith('/youtube')) return await youtube(req, res, url);
    if (url.pathname === '/google/token') return await google(req, res);
    if (url.pathname.startsWith('/vimeo')) return await vimeo(req, res, url);
    if (url.pathname.startsWith('/facebook')) return await facebook(req, res, url);
    return send(res, 404, { error: 'no such path' });
  } catch (e) {
    return send(res, 500, { error: String(e) });
  }
});
server.listen({ host: '127.0.0.1', port: 0 }, () => {
  const { port } = server.address();
  origin = `http://127.0.0.1:${port}`;
  console.log(JSON.stringify({ url: origin }));
});
