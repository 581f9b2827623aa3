"""Self-observation: camera and landmark observer nodes, motor babbling, and the learned self-
model of the face.
"""
