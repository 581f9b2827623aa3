"""The virtual head: renders the face from actuator positions into camera images, a mirror
without hardware.
"""
