#!/usr/bin/env bash
# Benchmark of the time-lapse movie (issue 13). From 365 generated 2048x1024 frames,
# partly transparent (alpha 0.6 everywhere: every pixel is blended), over a 2048x1024
# basemap, in one run it times:
#   1. vidpipe timelapse --movie-only (the whole command: listing, header checks,
#      decoding and compositing in Rust, a Y4M stream into ffmpeg's libx264);
#   2. the reference: one plain ffmpeg command making the same movie (glob input,
#      overlay, the same encoder settings: libx264 medium CRF 23, yuv420p, faststart);
# each three times, alternately, and prints the median wall times, their ratio (the
# aim: 1.10 or less) and each one's peak memory (GNU time's maximum resident set).
# With the compose example (cargo build --release -p vidpipe-timelapse --example
# compose), it also prints the cloud function's work per frame without the network
# (decode, composite, label, Y4M), at 2048x1024 and fitted into 4096x2048.
# Usage: scripts/bench-timelapse.sh [VIDPIPE_BINARY] [COMPOSE_EXAMPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/vidpipe}")
compose=${2:-}
work=${BENCH_DIR:-target/bench}/timelapse
frames=$work/frames
n=365
mkdir -p "$frames"
if [ "$(ls "$frames" | wc -l)" -ne "$n" ]; then
  rm -rf "$frames"; mkdir -p "$frames"
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=2048x1024:rate=30" -frames:v "$n" \
    -vf "format=rgba,colorchannelmixer=aa=0.6" "$frames/f_%04d.png"
  # Daily frames of 2023, named by date.
  for i in $(seq 1 "$n"); do
    day=$(date -u -d "2023-01-01 + $((i - 1)) days" +%Y%m%d)
    mv "$frames/$(printf 'f_%04d.png' "$i")" "$frames/DroughtRisk_Weekly_$day.png"
  done
fi
basemap=$work/basemap.jpg
[ -f "$basemap" ] || ffmpeg -v error -y -f lavfi -i "mandelbrot=size=2048x1024" -frames:v 1 "$basemap"
now() { date +%s.%N; }
peak() { grep -o 'Maximum resident set size (kbytes): [0-9]*' "$1" | grep -o '[0-9]*$'; }
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v)

# 1. vidpipe and 2. the reference, alternated three times (this machine's speed
# drifts between runs); the medians are compared.
out=$work/vidpipe-out
ref=$work/reference.mp4
run_vidpipe() {
  rm -rf "$out"
  "${timer[@]}" "$bin" timelapse --input "$frames" --period P1Y --basemap "$basemap" \
    --movie-only --x264-preset medium --crf 23 --name bench --out "$out" >/dev/null 2>"$work/vidpipe.time"
}
run_reference() {
  "${timer[@]}" ffmpeg -v error -y -framerate 30 -loop 1 -i "$basemap" \
    -framerate 30 -pattern_type glob -i "$frames/*.png" \
    -filter_complex "[0:v][1:v]overlay=shortest=1" \
    -c:v libx264 -preset medium -crf 23 -pix_fmt yuv420p -movflags +faststart "$ref" 2>"$work/reference.time"
}
timed() { local t0 t1; t0=$(now); "$@"; t1=$(now); echo "$t1 - $t0" | bc -l; }
vidpipe_runs=(); reference_runs=()
for _ in 1 2 3; do
  vidpipe_runs+=("$(timed run_vidpipe)")
  reference_runs+=("$(timed run_reference)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
vidpipe_s=$(median "${vidpipe_runs[@]}")
reference_s=$(median "${reference_runs[@]}")

count() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
printf 'time-lapse, %d frames 2048x1024 over a basemap (libx264 medium, CRF 23)\n' "$n"
printf '  vidpipe timelapse   median %7.2f s (runs: %s)  %s frames  peak %s kB\n' "$vidpipe_s" "$(printf '%.2f ' "${vidpipe_runs[@]}")" "$(count "$out/movies/bench.mp4")" "$(peak "$work/vidpipe.time" || echo ?)"
printf '  plain ffmpeg        median %7.2f s (runs: %s)  %s frames  peak %s kB\n' "$reference_s" "$(printf '%.2f ' "${reference_runs[@]}")" "$(count "$ref")" "$(peak "$work/reference.time" || echo ?)"
printf '  ratio vidpipe/ffmpeg %.3f (medians; aim: 1.10 or less)\n' "$(echo "$vidpipe_s / $reference_s" | bc -l)"
if [ -n "$compose" ]; then
  printf '  the cloud function without the network (decode, composite, label, Y4M):\n'
  printf '    '; "$compose" "$frames" "$basemap"
  printf '    '; "$compose" "$frames" "$basemap" 4096x2048
fi
