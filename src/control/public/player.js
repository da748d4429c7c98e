// The live page's player. It plays the low-latency stream (the on-air broadcaster's MPEG-TS over
// chunked HTTP from /api/live, through mpegts.js into Media Source Extensions) and falls back to
// HLS (hls.js, seconds behind) when the browser lacks MSE or the server refuses the stream.
// `window.idolcastPlayer` tells which one plays (`mode`) and the on-air clock of what is heard
// (`clock()`), which the captions follow.
(function () {
  const video = document.getElementById('video');
  const say = (text) => { document.getElementById('status').textContent = text; };
  /** Longest wait between two tries of the low-latency stream after it played (a takeover, a restart). */
  const MAX_RETRY_MS = 5000;
  const player = {
    mode: 'connecting', // 'lowlatency' | 'reconnecting' | 'hls' | 'native'
    reconnects: 0,
    fallbackWhy: '',
    clock: () => Date.now(),
  };
  window.idolcastPlayer = player;
  let hls;
  let mpegtsPlayer;
  /** On-air time (ms) of the low-latency stream's time zero: the server says it with each stream. */
  let clockAtZero;
  let played = false;
  let retryMs = 500;
  let attempt = 0;

  player.clock = () => {
    if (player.mode === 'lowlatency' && clockAtZero !== undefined) return clockAtZero + video.currentTime * 1000;
    // HLS: EXT-X-PROGRAM-DATE-TIME gives the player's position on the on-air clock.
    if (hls && hls.playingDate) return hls.playingDate.getTime();
    return Date.now();
  };

  function startHls(src, why) {
    player.mode = 'hls';
    player.fallbackWhy = why || '';
    if (window.Hls && Hls.isSupported()) {
      hls = new Hls({ liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.2, manifestLoadingMaxRetry: Infinity, levelLoadingMaxRetry: Infinity });
      hls.on(Hls.Events.MANIFEST_PARSED, () => { say('live'); video.play().catch(() => {}); });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        say('waiting for the stream…');
        if (data.fatal) setTimeout(() => { hls.loadSource(src); hls.startLoad(); }, 2000);
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else {
      player.mode = 'native';
      video.src = src;
      video.play().catch(() => {});
    }
  }

  /**
   * mpegts.js reads the stream through this loader (its documented `customLoader`): a plain fetch,
   * so the page also sees the answer's status and its X-Idolcast-Clock header.
   */
  function loaderFor(events) {
    const { BaseLoader, LoaderStatus } = mpegts;
    return class IdolcastLoader extends BaseLoader {
      constructor() { super('idolcast-live'); this.aborter = new AbortController(); }
      static isSupported() { return true; }
      open(source) {
        this._status = LoaderStatus.kConnecting;
        fetch(source.url, { cache: 'no-store', signal: this.aborter.signal }).then(async (res) => {
          if (!res.ok) {
            this._status = LoaderStatus.kError;
            events.refused(res.status);
            return;
          }
          events.answered(Number(res.headers.get('x-idolcast-clock')));
          const reader = res.body.getReader();
          let received = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            this._status = LoaderStatus.kBuffering;
            received += value.byteLength;
            if (this._onDataArrival) this._onDataArrival(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength), received - value.byteLength, received);
          }
          this._status = LoaderStatus.kComplete;
          events.ended('the stream ended');
        }).catch((err) => {
          if (this.aborter.signal.aborted) return;
          this._status = LoaderStatus.kError;
          events.ended(err.message);
        });
      }
      abort() { this.aborter.abort(); this._status = LoaderStatus.kComplete; }
    };
  }

  function stopLowLatency() {
    if (!mpegtsPlayer) return;
    const p = mpegtsPlayer;
    mpegtsPlayer = undefined;
    clockAtZero = undefined;
    try { p.pause(); p.unload(); p.detachMediaElement(); p.destroy(); } catch { /* already torn down */ }
  }

  function startLowLatency(sources) {
    const mine = ++attempt;
    const current = () => mine === attempt;
    const events = {
      answered: (at) => {
        if (!current()) return;
        clockAtZero = Number.isFinite(at) ? at : undefined;
        played = true;
        retryMs = 500;
        player.mode = 'lowlatency';
        say('live');
      },
      // The server said no (past its viewer cap, turned off, no broadcaster for long): HLS instead.
      refused: (status) => current() && fallBack(sources, `the low-latency stream was refused (HTTP ${status})`),
      // The stream broke off (a takeover, a restart, a dropped connection): read it again, or HLS if it never played.
      ended: (why) => {
        if (!current()) return;
        if (!played) return fallBack(sources, `the low-latency stream failed: ${why}`);
        stopLowLatency();
        player.mode = 'reconnecting';
        say('reconnecting…');
        setTimeout(() => { if (current()) { player.reconnects++; startLowLatency(sources); } }, retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      },
    };
    mpegtsPlayer = mpegts.createPlayer({ type: 'mpegts', isLive: true, url: sources.lowLatency }, {
      customLoader: loaderFor(events),
      enableStashBuffer: false,
      lazyLoad: false,
      autoCleanupSourceBuffer: true,
      // Play a little faster while more than 0.45 s is buffered ahead, back to 0.3 s: the delay
      // crept up to ~0.6 s with skipping alone. A new viewer starts at the last keyframe (up to a
      // second back) and a stall leaves a backlog: past 1.2 s, skip ahead instead.
      liveSync: true,
      liveSyncMaxLatency: 0.45,
      liveSyncTargetLatency: 0.3,
      liveSyncPlaybackRate: 1.1,
      liveBufferLatencyChasing: true,
      liveBufferLatencyMaxLatency: 1.2,
      liveBufferLatencyMinRemain: 0.3,
    });
    // A stream the browser cannot decode is a failed stream too.
    mpegtsPlayer.on(mpegts.Events.ERROR, (type, detail) => events.ended(`${type}: ${detail}`));
    mpegtsPlayer.attachMediaElement(video);
    mpegtsPlayer.load();
    video.play().catch(() => {});
  }

  function fallBack(sources, why) {
    attempt++;
    stopLowLatency();
    console.warn('idolcast: playing HLS:', why);
    startHls(sources.live, why);
  }

  /** Play a channel: `{ live: HLS playlist, lowLatency: stream URL }`. */
  player.start = (sources) => {
    const features = window.mpegts && mpegts.getFeatureList();
    if (!sources.lowLatency || !features || !features.mseLivePlayback) return startHls(sources.live, 'no Media Source Extensions here');
    startLowLatency(sources);
  };
})();
