#!/usr/bin/env bash
# The main job on the simulated head: speak a sentence through the full node graph
# (a Say goal to speech_node, the face's voice -> /audio -> lip_policy -> driver on the
# emulated bus -> face_sim -> observer), then write demo.mp4 (the rendered face with the
# sound) and demo_mouth.png (mouth opening against the audio), and print the sync offset
# and accuracy figures, and what the Say action reported (feedback, result).
#
#   make demo                          # the default sentence
#   make demo TEXT="Hallo Welt" VOICE=de
#   make demo WAV=/path/to/speech.wav  # your own recording (no phoneme truth: runtime figures)
#   make demo SOURCE=player            # the stand-in audio_player_node as the voice
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${TEXT:-}" ]]; then  # the demo sentence, defined once in lip_policy.e2e_eval
  TEXT="$("$ROOT/.venv/bin/python" -c 'from lip_policy.e2e_eval import DEMO_TEXT; print(DEMO_TEXT)')"
fi
VOICE="${VOICE:-en}"
VOICE_NODE="${SOURCE:-speech}"
OUT="$ROOT/build/demo"
mkdir -p "$OUT"
if [[ -n "${WAV:-}" ]]; then
  INPUT=(--audio "$WAV")
else
  INPUT=(--text "$TEXT" --voice "$VOICE")
fi
echo "demo: speaking through the simulated face (about a minute)..."
# lip-e2e-eval exits 3 when audio was lost, the policy did not keep up or the Say goal did
# not play the clip to the end: the figures are still printed (they say what happened),
# then the demo fails with that code.
set +e
"$ROOT/.venv/bin/lip-e2e-eval" "${INPUT[@]}" --source "$VOICE_NODE" --through camera \
  --video "$ROOT/demo.mp4" --out "$OUT/demo.json" > "$OUT/eval.out"
status=$?
set -e
if [[ $status -ne 0 && $status -ne 3 ]]; then
  exit "$status"
fi
tail -n 1 "$OUT/eval.out" > "$OUT/figures.json"
cp "$OUT/demo.png" "$ROOT/demo_mouth.png"
"$ROOT/.venv/bin/python" - "$OUT/figures.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
p = f['policy']
print(f"demo: wrote demo.mp4 ({f['duration_s']} s of speech) and demo_mouth.png")
say = f.get('say')
if say is None:
    print(f"demo: the audio came from {f['source']} (a stand-in publishing the clip)")
else:
    print(f"demo: the audio came through speech_node (Say goal, {say['output']} output): "
          f"{say['feedback_messages']} feedback messages; result {say['status']}, "
          f"{say['seconds_played']} s played, "
          f"{'interrupted' if say['interrupted'] else 'not interrupted'} "
          f"({say['message']}); sound {say['goal_to_sound_ms']:.0f} ms after the goal was "
          f"sent; {say['underruns']} underruns")
print(f"demo: audio-to-lip sync offset {f['sync_offset_ms']:+.1f} ms (positive = lips late; "
      "people notice lips about 45 ms late or 125 ms early)")
print(f"demo: mouth-opening correlation {f['mouth_opening_correlation']}, lip error "
      f"{f['lip_error']} of mouth width, against {f['reference']}")
if f.get('bilabial_closure_events') is not None:
    o = f['offline_policy']
    print(f"demo: lips sealed on /p b m/ {f['bilabial_closure_recall']} of "
          f"{f['bilabial_closure_events']} (offline {o['bilabial_closure_recall']}), rounded on "
          f"/w u/ {f['pucker_recall']} of {f['pucker_events']} (offline {o['pucker_recall']}), "
          f"open vowels shown closed {f['open_vowels_falsely_closed']} of "
          f"{f['open_vowel_events']}; demo_mouth.png marks each /p b m/")
print(f"demo: lip policy {p.get('level')}: {p.get('chunks_received')} audio chunks received, "
      f"{p.get('chunks_lost')} lost, {p.get('chunks_late')} late, "
      f"{p.get('chunks_duplicate')} duplicate, {p.get('hurried_frames')} frames hurried; "
      f"compute per 10 ms frame p50 {p.get('hop_compute_p50_ms')} / p99 "
      f"{p.get('hop_compute_p99_ms')} ms; live commands follow the offline policy with "
      f"r {f['live_commands_vs_offline_jaw_r']}")
print(f"demo: longest pause between lip commands {f['command_gap_max_ms']} ms, between "
      f"camera observations {f['observation_gap_max_ms']} ms ({f['observations_per_s']} per s)")
print(json.dumps(f))
PY
exit "$status"
