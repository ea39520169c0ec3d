"""Who may sign for an organisation beyond its trust anchors and sender domains: sender address
patterns, pinned signer certificates and revocation lists. Pure: the caller looks the signer's
certificate up in the CRLs (crypto.revocation) and passes what it found.

Traces name organisations, patterns, fingerprints and CRL file names, never the address.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from policies.model import Decision, Organisation


def check_signer_identity(
    organisation: Organisation,
    from_address: str,
    certificate_fingerprint: str | None,
    revoked_in: str | None,
) -> Decision:
    """Run after `policies.evaluate.check_signer` has allowed the signer.

    `certificate_fingerprint` is the S/MIME signer certificate's SHA-256 (upper-case hex), None
    for an OpenPGP signer (its keys are pinned by pgp_fingerprints); `revoked_in` names the CRL
    file that lists the certificate, None when none does.
    """
    policy = organisation.signers
    org_id = organisation.id
    trace: list[str] = []
    if policy.sender_addresses:
        patterns = ", ".join(policy.sender_addresses)
        if not any(fnmatchcase(from_address.lower(), p) for p in policy.sender_addresses):
            trace.append(
                f"sender addresses: the From address matches none of organisation {org_id}'s "
                f"patterns ({patterns})"
            )
            return Decision(False, organisation, tuple(trace), "sender_address")
        trace.append(f"sender addresses: the From address matches one of ({patterns})")
    if certificate_fingerprint is None:
        return Decision(True, organisation, tuple(trace))
    if policy.fingerprints:
        if certificate_fingerprint not in policy.fingerprints:
            trace.append(
                f"signer fingerprints: certificate {certificate_fingerprint} is not in "
                f"organisation {org_id}'s signer_fingerprints"
            )
            return Decision(False, organisation, tuple(trace), "signer_not_pinned")
        trace.append(f"signer fingerprints: certificate {certificate_fingerprint} is pinned")
    if policy.crl_files:
        if revoked_in is not None:
            trace.append(f"CRL: {revoked_in} lists the signer's certificate as revoked")
            return Decision(False, organisation, tuple(trace), "signer_revoked")
        trace.append(f"CRL: none of organisation {org_id}'s CRLs lists the signer's certificate")
    return Decision(True, organisation, tuple(trace))
