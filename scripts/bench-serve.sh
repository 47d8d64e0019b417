#!/usr/bin/env bash
# Benchmark of `vidpipe serve` (issue 14). Fills an output folder with 1,000 published
# videos, each with a one-hour transcript (the fill_library example: 9,000 words of a
# Zipf-distributed 3,000-word vocabulary per talk), builds the search index once
# (`vidpipe search`, timed), starts the server and times, 20 times each with curl:
#   1. GET / (the library page: every video's row);
#   2. GET /api/search for a common word, a rare word and two words together.
# It prints the median and the worst of each and the aims: the library under 200 ms,
# a search under 50 ms.
# Usage: scripts/bench-serve.sh [VIDPIPE_BINARY] [FILL_LIBRARY_EXAMPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/vidpipe}")
fill=$(realpath "${2:-target/release/examples/fill_library}")
work=${BENCH_DIR:-target/bench}/serve
videos=${VIDEOS:-1000}
minutes=${MINUTES:-60}
if [ ! -f "$work/.filled-$videos-$minutes" ]; then
  rm -rf "$work"; mkdir -p "$work"
  "$fill" "$work/out" "$videos" "$minutes" | tee "$work/words"
  touch "$work/.filled-$videos-$minutes"
fi
common=$(sed -n 's/.*common word "\([^"]*\)".*/\1/p' "$work/words")
rare=$(sed -n 's/.*rare word "\([^"]*\)".*/\1/p' "$work/words")
start=$(date +%s.%N)
"$bin" --out "$work/out" search "$rare" --limit 1 >/dev/null || true
echo "index: $(echo "$(date +%s.%N) - $start" | bc) s to index or check $videos videos"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --out "$work/out" serve --listen "127.0.0.1:$port" --no-transcribe 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/api/jobs" >/dev/null && break; sleep 0.1; done
# median and max of 20 timed GETs, in ms
timed() {
  for _ in $(seq 20); do curl -fs -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"; done |
    sort -n | awk '{a[NR]=$1*1000} END {printf "median %.1f ms, worst %.1f ms", (a[10]+a[11])/2, a[NR]}'
}
bytes=$(curl -fs "http://127.0.0.1:$port/" | wc -c)
echo "library page ($videos videos, $((bytes / 1024)) KiB): $(timed /)   (aim: under 200 ms)"
for q in "$common" "$rare" "$common%20$rare"; do
  hits=$(curl -fs "http://127.0.0.1:$port/api/search?q=$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "search \"${q//%20/ }\" ($hits hits): $(timed "/api/search?q=$q")   (aim: under 50 ms)"
done
