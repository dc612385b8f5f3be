"""The synthetic world: a documented generative model written in the real file formats."""
