"""training/report stage of helion_learned."""
