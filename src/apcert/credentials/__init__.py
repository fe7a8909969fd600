"""Signed certificates that verify offline.

Each certificate issue can be given a W3C Verifiable Credential (Data Model 2.0) signed by its
CB with an Ed25519 key, as a Data Integrity proof of the ``eddsa-jcs-2022`` cryptosuite. Each
CB publishes its public keys as a ``did:web`` DID document and a JSON Web Key Set; anyone can
check a credential offline against a trust bundle (``apcert trust-bundle``, ``apcert verify``).

Modules: :mod:`.multikey` (key encodings), :mod:`.proofs` (the cryptosuite), :mod:`.document`
(the credential of an issue), :mod:`.trust` and :mod:`.verification` (checking one),
:mod:`.keyfiles` (private key files), :mod:`.services` and :mod:`.selectors`.
"""
