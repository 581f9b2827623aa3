"""Audio to lip motion: speech and song corpora, the audio-to-lip model, evaluation, and the
streaming policy node.
"""
