"""features stage of helion_learned."""
