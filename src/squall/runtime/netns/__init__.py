"""The netns backend: clusters as processes in network namespaces, without Docker."""
