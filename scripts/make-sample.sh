#!/usr/bin/env bash
# Makes a narrated test talk: ffmpeg's testsrc2 picture (moving, detailed, so covers
# and sharpness mean something) with espeak-ng reading a known text, and a sidecar.
# Usage: scripts/make-sample.sh OUT.mp4 [SECONDS=20] [WIDTHxHEIGHT=1280x720]
set -euo pipefail
out=${1:?usage: make-sample.sh OUT.mp4 [SECONDS] [WxH]}
seconds=${2:-20}
size=${3:-1280x720}
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text="Welcome to the vidpipe demonstration talk. Today we measure what matters. \
Good metrics tell a team where it stands, and wrong metrics tell a comfortable story. \
We will look at three examples from real projects, and then take your questions."
if command -v espeak-ng >/dev/null; then
  espeak-ng -s 150 -w "$tmp/voice.wav" "$text"
  audio=(-i "$tmp/voice.wav")
else
  audio=(-f lavfi -i "sine=frequency=440:sample_rate=48000")
fi
ffmpeg -v error -y -f lavfi -i "testsrc2=size=${size}:rate=25" "${audio[@]}" \
  -filter_complex "[1:a]aresample=48000,apad[a]" -map 0:v -map "[a]" -t "$seconds" \
  -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -c:a aac -b:a 128k "$out"
cat > "${out%.*}.json" <<JSON
{
  "title": "Right metrics and wrong metrics: Is there such a thing?",
  "description": "A short narrated test talk made by vidpipe's sample script.",
  "speakers": [{"name": "Ada Lovelace", "email": "ada@example.org"}, {"name": "Grace Hopper"}],
  "tags": ["metrics", "analytics"]
}
JSON
echo "$out"
