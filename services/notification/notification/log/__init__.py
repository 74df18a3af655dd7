"""The transparency log (RFC 9162-style Merkle tree) behind the public feed.

``jcs`` and ``merkle`` are pure and depend on the standard library only, so the standalone
verifier can use them without anything else from this service.
"""
