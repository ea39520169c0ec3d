"""gpg's status lines, as gpg 2.2 prints them, decide each OpenPGP refusal (pure, no gpg)."""

from __future__ import annotations

import pytest

from crypto._pgp_status import GoodSignature, PgpError, PgpFailure, decryption, signatures

PRIMARY = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
SUBKEY = "EA02B24FFD4C1B96616D3DF24766F6B9D5F21EB6"


def _valid(fingerprint: str = PRIMARY, *, hash_algo: str = "10", sig_class: str = "00") -> str:
    return f"{fingerprint} 2026-11-22 1795338122 0 4 0 22 {hash_algo} {sig_class} {PRIMARY}"


def _good(*, trust: str = "TRUST_ULTIMATE", **valid: str) -> list[tuple[str, str]]:
    return [
        ("NEWSIG", ""),
        ("GOODSIG", "F231550C4F47E38E Alice Lovelace <alice@openpgp.example>"),
        ("VALIDSIG", _valid(**valid)),
        (trust, "0 pgp"),
    ]


def _failure(statuses: list[tuple[str, str]]) -> PgpFailure:
    with pytest.raises(PgpError) as caught:
        signatures(statuses)
    return caught.value.failure


def test_a_good_signature_by_a_subkey_counts_for_the_primary_key() -> None:
    (good,) = signatures(_good(fingerprint=SUBKEY))
    assert good == GoodSignature(PRIMARY, good.signing_time)
    assert good.signing_time is not None and good.signing_time.year == 2026


def test_every_signature_is_judged_not_only_the_last() -> None:
    statuses = [("NEWSIG", ""), ("BADSIG", "F231550C4F47E38E Alice"), *_good()]
    assert _failure(statuses) is PgpFailure.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("statuses", "failure"),
    [
        (_good(trust="TRUST_UNDEFINED"), PgpFailure.UNKNOWN_SIGNER),
        (_good(hash_algo="2"), PgpFailure.WEAK_ALGORITHM),
        (_good(sig_class="10"), PgpFailure.BAD_SIGNATURE),
        ([("NEWSIG", ""), ("ERRSIG", f"0E27928F241B4D20 1 10 01 1716799513 9 {PRIMARY}"),
          ("NO_PUBKEY", "0E27928F241B4D20")], PgpFailure.UNKNOWN_SIGNER),
        ([("NEWSIG", ""), ("EXPKEYSIG", "F231550C4F47E38E Alice"), ("VALIDSIG", _valid())],
         PgpFailure.SIGNER_EXPIRED),
        ([("NEWSIG", ""), ("REVKEYSIG", "F231550C4F47E38E Alice"), ("VALIDSIG", _valid())],
         PgpFailure.SIGNER_REVOKED),
        ([("NEWSIG", "")], PgpFailure.BAD_SIGNATURE),  # a signature gpg could not read
        ([*_good(), ("ERROR", "proc_pkt.plaintext 89_BAD_DATA")], PgpFailure.MALFORMED),
    ],
)
def test_each_problem_has_its_failure(
    statuses: list[tuple[str, str]], failure: PgpFailure
) -> None:
    assert _failure(statuses) is failure


def test_no_signature_is_no_signature() -> None:
    assert signatures([("PLAINTEXT", "62 0 "), ("DECRYPTION_OKAY", "")]) == ()


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ([("ENC_TO", "0000000000000000 18 0"), ("DECRYPTION_KEY", f"{SUBKEY} {PRIMARY} -"),
          ("BEGIN_DECRYPTION", ""), ("PLAINTEXT", "62 0 "), ("DECRYPTION_OKAY", ""),
          ("GOODMDC", "")], True),
        ([("PLAINTEXT", "74 0 ")], False),  # signed only
        ([("ENC_TO", "7C2FAA4DF93C37B2 1 0"), ("NO_SECKEY", "7C2FAA4DF93C37B2"),
          ("BEGIN_DECRYPTION", ""), ("DECRYPTION_FAILED", "")], PgpFailure.NOT_FOR_GATEWAY),
        ([("ENC_TO", "4766F6B9D5F21EB6 18 0"), ("DECRYPTION_KEY", f"{SUBKEY} {PRIMARY} -"),
          ("BEGIN_DECRYPTION", ""), ("DECRYPTION_FAILED", "")], PgpFailure.DECRYPT_FAILED),
        ([("NEED_PASSPHRASE_SYM", "9 3 2"), ("DECRYPTION_FAILED", "")],
         PgpFailure.NOT_FOR_GATEWAY),
        ([("NODATA", "1")], PgpFailure.MALFORMED),
    ],
)
def test_decryption_outcomes(
    statuses: list[tuple[str, str]], outcome: bool | PgpFailure
) -> None:
    if isinstance(outcome, bool):
        assert decryption(statuses) is outcome
        return
    with pytest.raises(PgpError) as caught:
        decryption(statuses)
    assert caught.value.failure is outcome
    assert "BEGIN PGP" not in str(caught.value)
