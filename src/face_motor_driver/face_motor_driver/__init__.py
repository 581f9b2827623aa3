"""Dynamixel Protocol 2.0 driver for the 26 face actuators, with a bus emulator to run without
hardware.
"""
