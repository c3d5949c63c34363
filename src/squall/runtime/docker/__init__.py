"""The Docker backend: clusters on the Docker Engine, through the `docker` SDK."""
