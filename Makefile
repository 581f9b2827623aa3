# The two commands a newcomer needs: `make demo` and `make test`.
# Both set the workspace up first (idempotent: a second run skips finished steps).

VENV := .venv
PY := $(VENV)/bin/python
# Everything ROS writes (logs, ros_home) and every cache stays inside the work tree.
export ROS_LOG_DIR := $(CURDIR)/build/ros_log
export ROS_HOME := $(CURDIR)/build/ros_home
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export NUMBA_CACHE_DIR := $(CURDIR)/build/numba_cache
export MPLBACKEND := Agg

.PHONY: setup test lint demo clean

setup:
	@bash scripts/setup.sh

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest

demo: setup
	@bash scripts/demo.sh

clean:
	rm -rf build $(VENV) .pytest_cache
