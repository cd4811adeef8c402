"""The top floor: the ``vward`` command line and the local platform, which may import every package below."""
