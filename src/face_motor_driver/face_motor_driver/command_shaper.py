"""From many FaceCommands to one safe goal per actuator: merge, clamp, slew, time out.

No rclpy: the node hands in plain names and numbers. Each actuator has one claim: the
target of the last accepted command naming it, that command's priority and its time.
A command takes an actuator when its priority is at least the holder's, or the holder's
claim has expired. A claim expires `command_timeout` seconds after its command; the
actuator then eases to neutral over `neutral_duration` seconds, and any command may take
it again. Every target is clamped to [min, max] of config/face_motors.yaml, and every goal
moves towards its target no faster than the actuator's max_velocity (or the command's
lower limit), so no message can jump the skin.
"""

import math

import numpy as np

NEUTRAL = -1.0        # priority of an easing-to-neutral claim: any command beats it
HOLD_NEUTRAL = 1e9    # priority while a GoNeutral request is under way: nothing beats it
MAX_STEP_TIME = 0.05  # [s] a stalled cycle never turns into one big step


class CommandShaper:
    def __init__(self, actuators, command_timeout=0.5, neutral_duration=1.0):
        self.actuators = tuple(actuators)
        self.index = {a.name: i for i, a in enumerate(self.actuators)}
        self.command_timeout = command_timeout
        self.neutral_duration = neutral_duration
        self.lower = np.array([a.min for a in self.actuators])
        self.upper = np.array([a.max for a in self.actuators])
        self.neutral = np.array([a.neutral for a in self.actuators])
        self.max_velocity = np.array([a.max_velocity for a in self.actuators])
        n = len(self.actuators)
        self.goal = self.neutral.copy()          # [rad] what is sent to the servos
        self.target = self.neutral.copy()        # [rad] where each goal is heading
        self.speed = self.max_velocity.copy()    # [rad/s] current slew limit per actuator
        self.priority = np.full(n, NEUTRAL)
        self.stamp = np.full(n, -math.inf)       # [s] time of the claim's command
        self._last_step = None
        # Bookkeeping so a cycle without anything to expire or release costs no array work:
        # no claim is older than this [s], and whether a GoNeutral may be under way.
        self._oldest_claim = math.inf
        self._holding = False

    @property
    def holding_neutral(self):
        """True while a GoNeutral request has not yet brought every goal to neutral."""
        return bool((self.priority == HOLD_NEUTRAL).any())

    def reset(self, positions, now):
        """Start from measured positions [rad] (clamped), easing to neutral from there."""
        self.goal = np.clip(np.asarray(positions, dtype=float), self.lower, self.upper)
        self.goal = np.where(np.isfinite(self.goal), self.goal, self.neutral)
        self._ease_to_neutral(np.ones(len(self.goal), dtype=bool), self.neutral_duration)
        self._last_step = now

    def hold(self, i, position):
        """Actuator i is back (or re-enabled) at position [rad]: start from there."""
        if math.isfinite(position):
            self.goal[i] = min(max(position, self.lower[i]), self.upper[i])

    def submit(self, names, positions, max_velocities, priority, now, reach_in=0.0):
        """Apply one validated command. Returns (taken names, clamped names).

        max_velocities: empty, or one limit per name [rad/s]; 0 or NaN = the driver's own.
        reach_in [s]: > 0 slows each goal so it arrives then rather than at full speed
        (FaceCommand.reach_time); 0 = as soon as the limits allow.
        """
        taken, clamped = [], []
        for k, name in enumerate(names):
            i = self.index[name]
            if self.priority[i] == HOLD_NEUTRAL:
                continue
            expired = now - self.stamp[i] > self.command_timeout
            if priority < self.priority[i] and not expired:
                continue
            target = positions[k]
            bounded = min(max(target, self.lower[i]), self.upper[i])
            if bounded != target:
                clamped.append(name)
            limit = self.max_velocity[i]
            if len(max_velocities):
                requested = max_velocities[k]
                if math.isfinite(requested) and requested > 0:
                    limit = min(limit, requested)
            if reach_in > 0:
                limit = min(limit, max(abs(bounded - self.goal[i]) / reach_in, 1e-3))
            self.target[i], self.speed[i] = bounded, limit
            self.priority[i], self.stamp[i] = priority, now
            taken.append(name)
        if taken:
            self._oldest_claim = min(self._oldest_claim, now)
        return taken, clamped

    def go_neutral(self, duration):
        """Ease every actuator to neutral over duration [s], holding commands off meanwhile."""
        everything = np.ones(len(self.goal), dtype=bool)
        self._ease_to_neutral(everything, duration or self.neutral_duration)
        self.priority[:] = HOLD_NEUTRAL
        self._holding = True

    def _ease_to_neutral(self, which, duration):
        distance = np.abs(self.goal - self.neutral)
        self.target[which] = self.neutral[which]
        # at least 1 mrad/s so a tiny residual still closes
        self.speed[which] = np.minimum(self.max_velocity,
                                       np.maximum(distance / max(duration, 1e-3), 1e-3))[which]
        self.priority[which] = NEUTRAL
        self.stamp[which] = -math.inf

    def step(self, now):
        """Advance every goal towards its target; returns the goals [rad] (a view)."""
        dt = 0.0 if self._last_step is None else min(max(now - self._last_step, 0.0),
                                                     MAX_STEP_TIME)
        self._last_step = now
        if now - self._oldest_claim > self.command_timeout:
            claimed = (self.priority >= 0) & (self.priority < HOLD_NEUTRAL)
            expired = claimed & (now - self.stamp > self.command_timeout)
            self._ease_to_neutral(expired, self.neutral_duration)
            live = claimed & ~expired
            self._oldest_claim = float(self.stamp[live].min()) if live.any() else math.inf
        reach = self.speed * dt
        # minimum/maximum rather than np.clip: on 26 values clip's dispatch costs more than
        # the arithmetic, every cycle.
        step = np.minimum(self.target - self.goal, reach)
        self.goal += np.maximum(step, -reach, out=step)
        if self._holding:
            held = self.priority == HOLD_NEUTRAL
            if not held.any():
                self._holding = False   # a reset ended it
            elif np.all(np.abs(self.goal[held] - self.neutral[held]) < 1e-9):
                self.priority[held] = NEUTRAL   # neutral reached: commands may come in again
                self._holding = False
        return self.goal
