"""ROS times as seconds and back: the one stamp-to-seconds of the face stack (no rclpy).

Works on anything with sec and nanosec (builtin_interfaces/Time, a message's
header.stamp). An unset stamp (0, 0) is 0.0 s, which callers read as "not stamped".
"""

NANOSECONDS = 1_000_000_000


def stamp_seconds(stamp):
    """builtin_interfaces/Time (sec, nanosec) -> seconds [s]."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds, stamp=None):
    """seconds [s] -> builtin_interfaces/Time, rounded to the nanosecond.

    stamp: a Time (or header.stamp) to fill in place; a new builtin_interfaces/Time when
    None (imported only then, so the rest of this module needs no ROS).
    """
    if stamp is None:
        from builtin_interfaces.msg import Time

        stamp = Time()
    stamp.sec, stamp.nanosec = divmod(round(seconds * NANOSECONDS), NANOSECONDS)
    return stamp
