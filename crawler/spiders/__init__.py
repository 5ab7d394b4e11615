"""The bundled spiders: ``audit`` (follows links) and ``check`` (given URLs)."""
