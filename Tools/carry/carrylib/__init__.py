"""carry's stages, one module each: source, sync, build, submit.

``common`` holds what they share: the configuration, errors and git helpers.
"""
