"""The face's voice: the Say action, streaming TTS, the speaker output and its clock."""
