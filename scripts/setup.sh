#!/usr/bin/env bash
# One-command setup of the face workspace: .venv with the locked packages, the
# face_msgs interface built and installed into it, and the four Python packages
# installed in editable mode. Idempotent: each step records a stamp of its
# inputs under .venv/.stamps and is skipped while those inputs are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMPS="$VENV/.stamps"
BUILD="$ROOT/build"
PYTHON_PACKAGES=(face_common face_motor_driver mirror_calibration lip_policy face_sim face_bringup face_speech)

step_name=""
fail() {
  echo "setup: step '$step_name' failed. $1" >&2
  exit 1
}
trap 'fail "See the output above; fix it and run make setup again (finished steps are skipped)."' ERR

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
done_already() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
mark_done() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }

step_name="python"
BASE_PYTHON="${PYTHON:-python3.11}"
command -v "$BASE_PYTHON" >/dev/null || BASE_PYTHON=python3
"$BASE_PYTHON" -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13)' 2>/dev/null \
  || fail "Python 3.10-3.13 is needed (the ROS 2 Kilted wheels exist for cp310-cp313); set PYTHON=/path/to/python3.11."

step_name="venv"
if [[ ! -x "$PY" ]] || ! "$PY" -c 'import sys' 2>/dev/null; then
  echo "setup: creating $VENV"
  rm -rf "$VENV"
  "$BASE_PYTHON" -m venv "$VENV" || fail "Could not create the venv; install the python3-venv package."
fi

step_name="packages"
LOCK_STAMP="$(stamp_of "$ROOT/requirements.lock")"
if ! done_already packages "$LOCK_STAMP"; then
  echo "setup: installing torch first (CPU build), so nothing pulls CUDA packages"
  TORCH_PIN="$(grep '^torch==' "$ROOT/requirements.lock")"
  "$PY" -m pip install --no-deps "$TORCH_PIN" \
    || fail "pip could not install $TORCH_PIN; check that the package index is reachable."
  echo "setup: installing the locked packages from requirements.lock (no dependency resolution)"
  # --no-deps: the lock is complete; it also keeps mediapipe from pulling jax and a GUI OpenCV.
  "$PY" -m pip install -q --no-deps -r "$ROOT/requirements.lock" \
    || fail "pip could not install requirements.lock; check the index, then run make setup again."
  "$PY" -c 'import torch, rclpy, cv2, mediapipe, librosa, dynamixel_sdk, rosbags, espeakng_loader' \
    || fail "A locked package installed but does not import; see the traceback above."
  mark_done packages "$LOCK_STAMP"
fi

step_name="ros-cmake-paths"
# The ROS wheels' *__rosidl_generator_pyExport.cmake files name the include dirs of the
# machine that built them; point them at this interpreter's and numpy's.
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INCLUDE="$("$PY" -c 'import numpy; print(numpy.get_include())')"
while IFS= read -r -d '' f; do
  if grep -q '/opt/python/' "$f"; then
    sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${PY_INCLUDE}#g; \
s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/(_core|core)/include#${NP_INCLUDE}#g" "$f"
  fi
done < <(find "$VENV/share" -name '*__rosidl_generator_pyExport*.cmake' -print0)

step_name="face_msgs"
MSG_STAMP="$(cd "$ROOT/src/face_msgs" && find . -type f | sort | xargs cat | sha256sum | cut -c1-16)-$LOCK_STAMP"
if ! done_already face_msgs "$MSG_STAMP" || ! "$PY" -c 'import face_msgs.msg' 2>/dev/null; then
  echo "setup: building the face_msgs interface into the venv"
  rm -rf "$BUILD/face_msgs"; mkdir -p "$BUILD"
  export AMENT_PREFIX_PATH="$VENV"
  cmake -S "$ROOT/src/face_msgs" -B "$BUILD/face_msgs" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF > "$BUILD/face_msgs.configure.log" 2>&1 \
    || { tail -30 "$BUILD/face_msgs.configure.log"; fail "cmake configure failed (log: build/face_msgs.configure.log); is cmake >= 3.16 and a C/C++ compiler installed?"; }
  cmake --build "$BUILD/face_msgs" -j 2 > "$BUILD/face_msgs.build.log" 2>&1 \
    || { tail -30 "$BUILD/face_msgs.build.log"; fail "face_msgs failed to build (log: build/face_msgs.build.log)."; }
  cmake --install "$BUILD/face_msgs" > "$BUILD/face_msgs.install.log" 2>&1 \
    || fail "face_msgs failed to install (log: build/face_msgs.install.log)."
  "$PY" -c 'from face_msgs.msg import FaceCommand, FaceLandmarks, AudioChunk; from face_msgs.checks import check_face_command' \
    || fail "face_msgs built but does not import."
  mark_done face_msgs "$MSG_STAMP"
fi

step_name="python-packages"
PKG_STAMP="$(cd "$ROOT/src" && stamp_of */setup.py */setup.cfg */package.xml)-$LOCK_STAMP"
if ! done_already python-packages "$PKG_STAMP"; then
  for pkg in "${PYTHON_PACKAGES[@]}"; do
    echo "setup: installing $pkg (editable)"
    "$PY" -m pip install --no-deps --no-build-isolation -q -e "$ROOT/src/$pkg" \
      || fail "pip could not install src/$pkg; check its setup.py."
  done
  mark_done python-packages "$PKG_STAMP"
fi

# System packages, installed with apt when setup runs as root (as in CI), else named.
missing_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    if command -v dpkg-query >/dev/null; then
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
    elif [[ "$pkg" == festival ]] && ! command -v festival >/dev/null; then
      missing+=("$pkg")
    fi
  done
  echo "${missing[*]}"
}
system_packages() {   # system_packages STEP "what needs them" PACKAGE...
  local step="$1" needs="$2" stamp missing
  shift 2
  step_name="$step"
  stamp="$(echo "$*" | sha256sum | cut -c1-16)"
  if done_already "$step" "$stamp" && [[ -z "$(missing_packages "$@")" ]]; then
    return
  fi
  missing="$(missing_packages "$@")"
  if [[ -n "$missing" && $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing with apt for $needs: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" \
      || { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; } \
      || fail "apt-get could not install $*; check the apt sources."
    missing="$(missing_packages "$@")"
  fi
  if [[ -z "$missing" ]]; then
    mark_done "$step" "$stamp"
  else
    echo "setup: WARNING: $needs and its tests need: $missing." >&2
    echo "setup:   run make setup as root, or: sudo apt-get install --no-install-recommends $*" >&2
  fi
}
# lip-corpus festival speaks with festival and exactly the voices lip_policy.festival.PACKAGES
# names (issue #16, with festival-hi: the Hindi language support festvox-hi-nsk needs, no
# voice); every other voice on the machine is reserved for independent evaluation.
FESTIVAL_PACKAGES="$("$PY" -c 'from lip_policy.festival import PACKAGES; print(" ".join(PACKAGES))')" \
  || fail "lip_policy.festival does not import; check src/lip_policy."
# shellcheck disable=SC2086  # one word per package
system_packages festival "the festival corpus (lip-corpus festival)" festival $FESTIVAL_PACKAGES
# speech_node's sound card output (sounddevice needs the PortAudio library).
system_packages portaudio "speech_node's sound output (output auto/portaudio)" libportaudio2

echo "setup: ready ($VENV)"
