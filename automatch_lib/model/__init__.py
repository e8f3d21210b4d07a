"""Network pieces: backbones, matching networks, Ocean-style heads, losses and the Siamese network."""
