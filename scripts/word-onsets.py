# Word-time error of a transcription: each sentence's first word against its known onset.
# Usage: word-onsets.py WORK RESULT_JSON
# WORK holds s<n>.wav (each sentence as spoken), p<n>.wav (as placed, with its pause)
# and sentences.txt (one a line, in the order spoken); RESULT_JSON has "words":
# [[text, start_s, end_s], ...]. Prints the median and 90th percentile of the error,
# seconds, and how many sentences' first words were recognised.
import json, re, sys, wave
work, hyp_path = sys.argv[1], sys.argv[2]

def samples(path):
    with wave.open(path) as w:
        rate, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
        raw = w.readframes(n)
    assert width == 2
    vals = [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw), 2)]
    return rate, vals

ref_sentences = [l for l in open(f"{work}/sentences.txt").read().splitlines() if l]
onsets, offset = [], 0.0
for n in range(len(ref_sentences)):
    rate, vals = samples(f"{work}/s{n}.wav")
    lead = next(i for i, v in enumerate(vals) if abs(v) > 327) / rate  # first sample above -40 dBFS
    onsets.append(offset + lead)
    with wave.open(f"{work}/p{n}.wav") as p:
        offset += p.getnframes() / p.getframerate()

norm = lambda w: re.sub(r"[^a-z0-9']", "", w.lower())
ref, first = [], []
for s in ref_sentences:
    first.append(len(ref))
    ref += [norm(w) for w in s.split() if norm(w)]
hyp = [(norm(w), s) for w, s, _ in json.load(open(hyp_path))["words"] if norm(w)]
# Edit-distance alignment of reference words to hypothesis words.
R, H = len(ref), len(hyp)
d = [[0] * (H + 1) for _ in range(R + 1)]
for i in range(R + 1): d[i][0] = i
for j in range(H + 1): d[0][j] = j
for i in range(1, R + 1):
    for j in range(1, H + 1):
        d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (ref[i-1] != hyp[j-1][0]))
match, i, j = {}, R, H
while i > 0 and j > 0:
    if d[i][j] == d[i-1][j-1] + (ref[i-1] != hyp[j-1][0]):
        if ref[i-1] == hyp[j-1][0]: match[i-1] = hyp[j-1][1]
        i, j = i - 1, j - 1
    elif d[i][j] == d[i-1][j] + 1: i -= 1
    else: j -= 1
errors = sorted(abs(match[f] - onsets[k]) for k, f in enumerate(first) if f in match)
if not errors:
    print("no sentence's first word was recognised"); sys.exit()
med = errors[len(errors) // 2] if len(errors) % 2 else (errors[len(errors)//2 - 1] + errors[len(errors)//2]) / 2
p90 = errors[min(len(errors) - 1, int(round(0.9 * (len(errors) - 1))))]
print(f"{med:.3f} s {p90:.3f} s ({len(errors)} of {len(first)})")
