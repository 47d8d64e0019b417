#!/usr/bin/env bash
# Benchmark of the local transcode (issue: one decode). On one 60 s 1080p sample,
# in one run, it times:
#   1. vidpipe process --force (whole command; and its ffmpeg stage, from the log);
#   2. the reference: one plain ffmpeg command making the same outputs with the same
#      encoder settings (libx264 veryfast CRF 23, the same maxrates, AAC, MP3, GIF,
#      frame captures; each rung's picture one single-file fMP4 HLS rendition, the top
#      rung teed into the progressive MP4 too, the sound one AAC encode teed into the
#      MP4 and the HLS audio rendition);
#   3. the same outputs made by one ffmpeg run per output (each rung, the MP4, the
#      sound, the MP3, the GIF and the frame captures decode the source again).
# and prints the wall times, their ratios, the real-time factors and the bytes each
# wrote.
# Usage: scripts/bench-transcode.sh [VIDPIPE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/vidpipe}
work=${BENCH_DIR:-target/bench}
sample=$work/bench-1080p.mp4
clip_s=60
mkdir -p "$work"
[ -f "$sample" ] || scripts/make-sample.sh "$sample" "$clip_s" 1920x1080 >/dev/null
rm -f "${sample%.*}.json"   # no sidecar: the whole 60 s, 3 s fades
now() { date +%s.%N; }
fade="fade=t=in:st=0:d=3.000,fade=t=out:st=57.000:d=3.000,format=yuv420p"
afade="aformat=channel_layouts=stereo|mono,afade=t=in:st=0:d=3.000,afade=t=out:st=57.000:d=3.000"
x264=(-c:v libx264 -preset veryfast -crf 23 -profile:v high -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0)
ladder=("1080p 1920 1080 5000000 128000" "720p 1280 720 3000000 128000" "480p 854 480 1200000 96000" "360p 640 360 700000 96000")
gif="trim=start=27.500:duration=5.000,setpts=PTS-STARTPTS,fps=10,scale=480:270:flags=lanczos,split[g0][g1];[g0]palettegen=stats_mode=diff[gp];[g1][gp]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle"
frames="select='not(mod(n\,50))',scale=1920:1080:flags=bicubic"

# 1. vidpipe
out=$work/vidpipe-out
t0=$(now)
RUST_LOG=info "$bin" process "$sample" --out "$out" --force --no-transcribe 2>"$work/vidpipe.log" >/dev/null
t1=$(now)
vidpipe_s=$(echo "$t1 - $t0" | bc -l)
ffmpeg_stage_s=$(grep -o 'ffmpeg finished.*seconds=[0-9.]*' "$work/vidpipe.log" | sed 's/.*seconds=//' | tail -1)

# 2. the reference: one hand-written ffmpeg command, same graph and settings
ref=$work/reference
rm -rf "$ref"; mkdir -p "$ref/hls" "$ref/frames"
graph="[0:v:0]$fade,split=6[v0][v1][v2][v3][v4][v5];[0:a:0]$afade,asplit=2[a0][a1]"
fmp4="hls_time=6:hls_playlist_type=vod:hls_segment_type=fmp4:hls_flags=single_file"
maps=()
i=0
for rung in "${ladder[@]}"; do
  read -r name w h vb ab <<<"$rung"
  graph+=";[v$i]scale=$w:$h:flags=bicubic,setsar=1[r$i]"
  if [ $i = 0 ]; then
    maps+=(-map "[r$i]" -map "[a0]" "${x264[@]}" -maxrate "$vb" -bufsize $((2*vb)) -c:a aac -b:a "$ab" -flags +global_header
           -f tee "[f=mp4:movflags=+faststart]video_$name.mp4|[f=hls:$fmp4:hls_segment_filename=hls/video_$name.mp4:select=v]hls/video_$name.m3u8|[f=hls:$fmp4:hls_segment_filename=hls/video_audio.mp4:select=a]hls/video_audio.m3u8")
  else
    maps+=(-map "[r$i]" "${x264[@]}" -maxrate "$vb" -bufsize $((2*vb)) -flags +global_header
           -f tee "[f=hls:$fmp4:hls_segment_filename=hls/video_$name.mp4:select=v]hls/video_$name.m3u8")
  fi
  i=$((i+1))
done
graph+=";[v4]$gif[gif];[v5]$frames[frames]"
maps+=(-map "[a1]" -c:a libmp3lame -b:a 128000 -ar 44100 audio.mp3 -map "[gif]" -f gif -loop 0 preview.gif
       -map "[frames]" -fps_mode passthrough -frames:v 30 -q:v 2 -start_number 0 frames/frame.%07d.jpg)
abs_sample=$(realpath "$sample")
t0=$(now)
(cd "$ref" && ffmpeg -v error -y -t 60 -i "$abs_sample" -filter_complex "$graph" "${maps[@]}")
t1=$(now)
reference_s=$(echo "$t1 - $t0" | bc -l)

# 3. one ffmpeg run per output
per=$work/per-output
rm -rf "$per"; mkdir -p "$per/hls" "$per/frames"
t0=$(now)
hls=(-f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags single_file)
i=0
for rung in "${ladder[@]}"; do
  read -r name w h vb ab <<<"$rung"
  if [ $i = 0 ]; then
    ffmpeg -v error -y -t 60 -i "$abs_sample" -vf "$fade,scale=$w:$h:flags=bicubic,setsar=1" -af "$afade" \
      "${x264[@]}" -maxrate "$vb" -bufsize $((2*vb)) -c:a aac -b:a "$ab" -movflags +faststart "$per/video_$name.mp4"
  fi
  ffmpeg -v error -y -t 60 -i "$abs_sample" -an -vf "$fade,scale=$w:$h:flags=bicubic,setsar=1" \
    "${x264[@]}" -maxrate "$vb" -bufsize $((2*vb)) "${hls[@]}" -hls_segment_filename "$per/hls/video_$name.mp4" "$per/hls/video_$name.m3u8"
  i=$((i+1))
done
ffmpeg -v error -y -t 60 -i "$abs_sample" -vn -af "$afade" -c:a aac -b:a 128000 \
  "${hls[@]}" -hls_segment_filename "$per/hls/video_audio.mp4" "$per/hls/video_audio.m3u8"
ffmpeg -v error -y -t 60 -i "$abs_sample" -vn -af "$afade" -c:a libmp3lame -b:a 128000 -ar 44100 "$per/audio.mp3"
ffmpeg -v error -y -t 60 -i "$abs_sample" -an -filter_complex "[0:v:0]$fade,$gif" -f gif -loop 0 "$per/preview.gif"
ffmpeg -v error -y -t 60 -i "$abs_sample" -an -vf "$fade,$frames" -fps_mode passthrough -frames:v 30 -q:v 2 -start_number 0 "$per/frames/frame.%07d.jpg"
t1=$(now)
per_output_s=$(echo "$t1 - $t0" | bc -l)

printf '\ntranscode benchmark: %s (60 s, 1920x1080, 25 fps), libx264 veryfast CRF 23, %s cores\n' "$sample" "$(nproc)"
printf '  %-44s %8.1f s   real-time factor %.3f\n' "vidpipe process (whole command)" "$vidpipe_s" "$(echo "$vidpipe_s / $clip_s" | bc -l)"
printf '  %-44s %8.1f s   real-time factor %.3f\n' "  of which its ffmpeg run" "$ffmpeg_stage_s" "$(echo "$ffmpeg_stage_s / $clip_s" | bc -l)"
printf '  %-44s %8.1f s   real-time factor %.3f\n' "reference: one plain ffmpeg command" "$reference_s" "$(echo "$reference_s / $clip_s" | bc -l)"
printf '  %-44s %8.1f s   real-time factor %.3f\n' "one ffmpeg run per output" "$per_output_s" "$(echo "$per_output_s / $clip_s" | bc -l)"
printf '  vidpipe / reference = %.3f   per-output / reference = %.3f\n' \
  "$(echo "$vidpipe_s / $reference_s" | bc -l)" "$(echo "$per_output_s / $reference_s" | bc -l)"
# The plan this run made: the newest manifest (a forced run writes generation N).
id_dir=$(dirname "$(ls -t $(find "$out" -name manifest.json) | head -1)")
printf '  bytes written: vidpipe %s, reference %s, per-output %s (MiB)\n' \
  "$(du -sm "$id_dir" | cut -f1)" "$(du -sm "$ref" | cut -f1)" "$(du -sm "$per" | cut -f1)"
