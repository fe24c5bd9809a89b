"""Verify the change on CPython's main line: 3.15 from Debian sid's binary
packages, in a chroot (see README.rst)."""
