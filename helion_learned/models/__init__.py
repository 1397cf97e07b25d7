"""models stage of helion_learned."""
