#!/usr/bin/env bash
# A ROS engineer's own path: `colcon build` then `colcon test` over src/, with colcon from
# PyPI (requirements.lock) against the same ROS wheels in .venv (make setup first).
#
#   scripts/colcon_check.sh            build every package, then test the fast subset
#   COLCON_OUT=/tmp/ws scripts/colcon_check.sh
#   COLCON_TEST_PACKAGES="face_common face_bringup" scripts/colcon_check.sh   # test only these
#
# Everything colcon writes goes under build/colcon/ (build/, install/, log/), apart from the
# build/ folders scripts/setup.sh uses. The install is isolated (one prefix per package,
# config/ launch/ and models/ in install/face_bringup/share/face_bringup); source it with
# `. build/colcon/install/setup.bash`. colcon test runs each package's tests from the
# installed packages, restricted to the ones that start no ROS graph
# (-m "not ros and not realtime"; `make test` runs all of them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
OUT="${COLCON_OUT:-$ROOT/build/colcon}"
[[ -x "$VENV/bin/colcon" ]] || { echo "colcon_check: $VENV/bin/colcon missing; run make setup" >&2; exit 2; }

# As scripts/setup.sh builds face_msgs: the venv is the ROS prefix (typesupport lookup,
# CMake packages of the wheels), and the venv's python runs setup.py and pytest.
export PATH="$VENV/bin:$PATH"
export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$ROOT/build/ros_log}" ROS_HOME="${ROS_HOME:-$ROOT/build/ros_home}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST MPLBACKEND=Agg
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$ROOT/build/numba_cache}"
export COLCON_HOME="$OUT/colcon_home"   # no ~/.colcon defaults leak in
export FACE_COLCON_CHECK=1              # test_colcon.py skips itself inside colcon test
mkdir -p "$OUT"
cd "$ROOT"

BASES=(--build-base "$OUT/build" --install-base "$OUT/install")
echo "colcon_check: colcon build -> $OUT/install"
colcon --log-base "$OUT/log" build --base-paths src "${BASES[@]}" \
  --event-handlers console_direct- console_cohesion+ summary+ \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release

echo "colcon_check: colcon test (tests that start no ROS graph)"
# As a ROS engineer does before testing: source the install, so every package's tests find
# face_bringup's share (config/, models/) through the ament index, not only its dependants'.
set +u
# shellcheck disable=SC1091
. "$OUT/install/setup.bash"
set -u
# Results of an earlier run (other packages) must not count in this run's test-result.
find "$OUT/build" -maxdepth 2 -name pytest.xml -delete
SELECT=()
[[ -n "${COLCON_TEST_PACKAGES:-}" ]] && read -r -a SELECT <<< "--packages-select $COLCON_TEST_PACKAGES"
colcon --log-base "$OUT/log" test --base-paths src "${BASES[@]}" "${SELECT[@]}" \
  --event-handlers console_direct- console_cohesion+ summary+ \
  --python-testing pytest --pytest-args -m "not ros and not realtime" -p no:cacheprovider ${COLCON_PYTEST_ARGS:-}
colcon test-result --test-result-base "$OUT/build" --all
