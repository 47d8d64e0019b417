// vidpipe serve in a real browser (Debian's Chromium, headless, driven by
// playwright-core): upload a narrated talk through the file input, watch its stages
// reach "published" without reloading, search a spoken word and land on the video at
// that word, play the HLS ladder (single-file fMP4 renditions read by byte range, the
// sound its own rendition) through hls.js, edit the title. Screenshots go to ARTEFACTS.
//
// Usage: node serve.mjs BASE_URL VIDEO ARTEFACTS
// Prints one JSON line: {"id": …, "title": …, "word_s": …, "landed_s": …, "played_s": …}
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';

const [base, video, artefacts] = process.argv.slice(2);
if (!base || !video || !artefacts) {
  console.error('usage: node serve.mjs BASE_URL VIDEO ARTEFACTS');
  process.exit(2);
}
mkdirSync(artefacts, { recursive: true });
const WORD = 'comfortable';
const fail = (why) => { throw new Error(why); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));

  // The library: upload through the file input.
  await page.goto(base + '/');
  await page.evaluate(() => { window.notReloaded = true; });
  await page.setInputFiles('#file', video);
  await page.waitForFunction(() => /is queued/.test(document.getElementById('message').textContent), null, { timeout: 120000 });
  const message = await page.textContent('#message');
  const id = (message.match(/video ([0-9a-f]{16})/) || fail('no id in: ' + message))[1];

  // The row appears and reaches published, pushed by the server.
  await page.waitForSelector(`#v-${id}`, { timeout: 120000 });
  await page.waitForSelector(`#v-${id}[data-status=published]`, { timeout: 600000 });
  if (!(await page.evaluate(() => window.notReloaded === true))) fail('the library reloaded');
  const stages = await page.$$eval(`#v-${id} .stages span`, (s) => s.map((x) => x.className));
  if (stages.some((c) => c === 'pending' || c === 'running')) fail('stages left: ' + stages);
  await page.screenshot({ path: `${artefacts}/library.png`, fullPage: true });

  // Where the word was said, from the transcript the pipeline wrote.
  const transcript = await (await page.request.get(`${base}/media/${id}/transcripts/transcript.json`)).json();
  const item = transcript.results.items.find((i) => i.alternatives[0].content.toLowerCase().startsWith(WORD));
  if (!item) fail(`"${WORD}" is not in the transcript`);
  const wordS = parseFloat(item.start_time);

  // Search, then follow the hit to the video page at that moment.
  await page.fill('header input[name=q]', WORD);
  await page.press('header input[name=q]', 'Enter');
  // The first hit in what was said (a hit in the tags has no time).
  const spoken = '.hit-link[href*="?t="]';
  await page.waitForSelector(spoken);
  await Promise.all([page.waitForURL(/\/videos\//), page.click(spoken)]);
  if (!page.url().includes(id)) fail('the hit led to ' + page.url());
  await page.waitForFunction(() => {
    const p = document.getElementById('player');
    return p && p.readyState >= 1 && p.currentTime > 0;
  }, null, { timeout: 60000 });
  const landedS = await page.evaluate(() => document.getElementById('player').currentTime);
  if (Math.abs(landedS - wordS) > 1) fail(`the player is at ${landedS} s, the word at ${wordS} s`);

  // Play the HLS rendition through the vendored hls.js (Media Source: a blob: source).
  const source = await page.evaluate(() => document.getElementById('player').currentSrc);
  if (!source.startsWith('blob:')) fail('not playing HLS by hls.js: ' + source);
  const levels = await page.evaluate(() => window.vidpipeHls.levels.map((l) => l.height));
  if (levels.length < 1) fail('hls.js found no rungs');
  const before = landedS;
  await page.evaluate(() => { const p = document.getElementById('player'); p.muted = true; return p.play(); });
  await page.waitForFunction((t) => document.getElementById('player').currentTime > t + 1, before, { timeout: 30000 });
  const playedS = await page.evaluate(() => document.getElementById('player').currentTime);
  // The ladder as vidpipe lays it out: each rendition one fragmented MP4 read by byte
  // range, the sound its own rendition, and both decoded.
  const hls = await page.evaluate(() => {
    const h = window.vidpipeHls;
    const level = h.levels[Math.max(h.currentLevel, 0)];
    const frags = (level.details && level.details.fragments) || [];
    const p = document.getElementById('player');
    return {
      audio_tracks: h.audioTracks.length,
      byte_ranges: frags.filter((f) => f.byteRange.length === 2).length,
      fragments: frags.length,
      media: frags.length ? frags[0].url.split('/').pop() : '',
      video_bytes: p.webkitVideoDecodedByteCount,
      audio_bytes: p.webkitAudioDecodedByteCount,
    };
  });
  if (hls.audio_tracks !== 1) fail('hls.js found no audio rendition: ' + JSON.stringify(hls));
  if (hls.fragments < 2 || hls.byte_ranges !== hls.fragments) fail('fragments not read by byte range: ' + JSON.stringify(hls));
  if (!(hls.video_bytes > 0 && hls.audio_bytes > 0)) fail('picture or sound not decoded: ' + JSON.stringify(hls));

  // Edit the title: the page shows it after saving.
  const title = 'Edited in the browser: ' + basename(video);
  await page.fill('#title', title);
  await Promise.all([page.waitForNavigation(), page.click('form.edit button')]);
  const h1 = await page.textContent('h1');
  if (h1.trim() !== title) fail('the page shows ' + h1);
  await page.screenshot({ path: `${artefacts}/video.png`, fullPage: true });

  console.log(JSON.stringify({ id, title, word_s: wordS, landed_s: landedS, played_s: playedS, source: source.slice(0, 5), rungs: levels, hls }));
} finally {
  await browser.close();
}
