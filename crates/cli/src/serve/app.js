// vidpipe serve: uploads with a progress bar, links, live stages (server-sent events),
// the HLS player (hls.js where the browser has no HLS of its own), seeking from the
// transcript. Plain JavaScript, no build step.
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name=csrf-token]') || {}).content || '';
  var message = document.getElementById('message');
  function say(text) { if (message) message.textContent = text; }

  // ----- the library: upload, link, live rows
  function upload(file) {
    var bar = document.getElementById('upload-progress');
    var limit = parseFloat(drop.dataset.maxBytes || 'Infinity');
    if (file.size > limit) { say(file.name + ' is larger than the server takes (' + Math.round(limit / 1048576) + ' MiB).'); return; }
    var form = new FormData();
    form.append('file', file);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/videos');
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    bar.hidden = false; bar.value = 0;
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 202) { bar.value = 1; say('Uploaded ' + file.name + ': video ' + body.id + ' is queued.'); }
      else { say('Upload refused: ' + (body.error || xhr.status)); }
    };
    xhr.onerror = function () { say('Upload failed: the connection broke.'); };
    xhr.send(form);
  }
  var drop = document.getElementById('drop');
  var picker = document.getElementById('file');
  if (drop && picker) {
    picker.addEventListener('change', function () { if (picker.files[0]) upload(picker.files[0]); });
    drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
    drop.addEventListener('drop', function (e) {
      e.preventDefault(); drop.classList.remove('over');
      if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
    });
  }
  var linkForm = document.getElementById('link-form');
  if (linkForm) {
    linkForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var url = document.getElementById('link').value;
      fetch('/api/videos', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ url: url })
      }).then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (a) { say(a[0] === 202 ? 'Link queued (job ' + a[1].job + ').' : 'Link refused: ' + a[1].error); });
    });
  }
  function showJob(job) {
    var list = document.getElementById('jobs');
    if (!list) return;
    var li = document.getElementById('job-' + job.job);
    if (!li) { li = document.createElement('li'); li.id = 'job-' + job.job; list.appendChild(li); }
    var pct = job.progress != null ? ' ' + Math.round(job.progress * 100) + '%' : '';
    li.textContent = job.input + ' — ' + job.state + pct + (job.detail ? ': ' + job.detail : '');
    if (job.state === 'published') li.remove();
  }
  function showVideo(v) {
    var row = document.getElementById('v-' + v.id);
    var table = document.querySelector('#videos tbody, #video tbody');
    if (!table) return;
    fetch('/fragments/videos/' + v.id).then(function (r) { return r.text(); }).then(function (html) {
      var t = document.createElement('tbody');
      t.innerHTML = html.trim();
      var fresh = t.firstElementChild;
      if (!fresh) return;
      var current = document.getElementById('v-' + v.id);
      if (current) current.replaceWith(fresh); else if (!row && document.getElementById('videos')) table.prepend(fresh);
    });
    var page = document.getElementById('video');
    if (page && page.dataset.status !== v.status && (v.status === 'published' || v.status === 'failed')) {
      location.reload();
    }
  }
  var page = document.getElementById('video');
  var streamUrl = document.getElementById('videos') ? '/api/events'
    : (page && page.dataset.status === 'processing' ? '/api/videos/' + page.dataset.id + '/events' : null);
  if (streamUrl && window.EventSource) {
    var events = new EventSource(streamUrl);
    events.addEventListener('video', function (e) { showVideo(JSON.parse(e.data)); });
    events.addEventListener('job', function (e) { showJob(JSON.parse(e.data)); });
  }

  // ----- the video page: the player
  var player = document.getElementById('player');
  if (player) {
    var start = page && page.dataset.start ? parseFloat(page.dataset.start) : null;
    var hlsUrl = player.dataset.hls;
    // hls.js where Media Source Extensions are (it adapts the rung to the bandwidth the
    // same way in every browser), else the browser's own HLS (Safari on iOS), else the
    // MP4 rendition the element already has.
    if (hlsUrl) {
      if (window.Hls && window.Hls.isSupported()) {
        var hls = new window.Hls();
        hls.loadSource(hlsUrl);
        hls.attachMedia(player);
        window.vidpipeHls = hls;
      } else if (player.canPlayType('application/vnd.apple.mpegurl')) {
        player.src = hlsUrl;
      }
    }
    if (start != null) {
      var seek = function () { player.currentTime = start; };
      if (player.readyState >= 1) seek(); else player.addEventListener('loadedmetadata', seek, { once: true });
    }
  }
  document.addEventListener('click', function (e) {
    var t = e.target.closest('[data-t]');
    if (!t || !player) return;
    player.currentTime = parseFloat(t.dataset.t);
    player.play();
  });
})();
