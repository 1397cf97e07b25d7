"""training stage of helion_learned."""
