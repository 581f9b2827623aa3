"""Bringup of the face: which nodes run together, from the same YAML files as the launch files."""
