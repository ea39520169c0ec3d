"""Every SMTP reply the gateway gives: code, RFC 3463 status and a sentence a clerk understands.

Texts are ASCII (RFC 5321), Finnish first, then English. Reply constants are named; the one reply
that lists recipients (masked HETUs) is built by a function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    code: int
    status: str  # RFC 3463 enhanced status code
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def is_success(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_temporary(self) -> bool:
        return 400 <= self.code < 500


# Session and envelope
SENDER_OK = Reply(250, "2.1.0", "Lahettaja hyvaksytty / Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Vastaanottaja hyvaksytty / Recipient OK")
ACCEPTED = Reply(250, "2.0.0", "Viesti vastaanotettu / Message accepted for delivery")
START_DATA = Reply(354, "", "Lopeta rivilla jossa on vain piste / End data with <CR><LF>.<CR><LF>")
UNKNOWN_PEER = Reply(
    550,
    "5.7.1",
    "Yhteys ei tule rekisteroidylta organisaatiolta / "
    "Connection is not from a registered organisation",
)
TLS_REQUIRED = Reply(
    530,
    "5.7.0",
    "Organisaatio lahettaa vain salatulla yhteydella; anna ensin STARTTLS / "
    "This organisation sends only over TLS; issue STARTTLS first",
)
CLIENT_CERT_UNKNOWN = Reply(
    550,
    "5.7.1",
    "TLS-asiakasvarmenne ei ole minkaan organisaation varmentajan suoraan myontama / "
    "The TLS client certificate is not issued directly by any organisation's client CA",
)
CLIENT_CERT_NOT_PINNED = Reply(
    550,
    "5.7.1",
    "TLS-asiakasvarmenteen sormenjalki ei ole organisaation ilmoittamien joukossa / "
    "The TLS client certificate's fingerprint is not one the organisation has pinned",
)
CLIENT_CERT_AMBIGUOUS = Reply(
    550,
    "5.7.1",
    "TLS-asiakasvarmenne kelpaa usealle organisaatiolle; yllapidon on kiinnitettava se / "
    "The TLS client certificate fits several organisations; its fingerprint must be pinned",
)
CONFLICTING_AUTHENTICATION = Reply(
    550,
    "5.7.1",
    "TLS-asiakasvarmenne ja AUTH-tunnus kuuluvat eri organisaatioille / "
    "The TLS client certificate and the AUTH login belong to different organisations",
)

# SMTP AUTH (RFC 4954): PLAIN and LOGIN, only over TLS
AUTH_OK = Reply(235, "2.7.0", "Tunnistautuminen onnistui / Authentication successful")
AUTH_NEEDS_TLS = Reply(
    530,
    "5.7.0",
    "Tunnistautuminen (AUTH) vasta STARTTLS:n jalkeen / Issue STARTTLS before AUTH",
)
AUTH_FAILED = Reply(
    535, "5.7.8", "Tunnus tai salasana ei kelpaa / Authentication credentials invalid"
)
AUTH_TOO_MANY_FAILURES = Reply(
    421,
    "4.7.0",
    "Liian monta epaonnistunutta tunnistautumista; yhteys suljetaan / "
    "Too many failed authentication attempts; closing the connection",
)
AUTH_UNAVAILABLE = Reply(
    502, "5.5.1", "Tunnistautumista (AUTH) ei ole kaytossa / AUTH is not offered here"
)
AUTH_MECHANISM = Reply(
    504,
    "5.5.4",
    "Tuntematon tunnistautumistapa; kayta PLAIN tai LOGIN / "
    "Unrecognised authentication mechanism; use PLAIN or LOGIN",
)
AUTH_SYNTAX = Reply(
    501, "5.5.2", "Tunnistautumistietoja ei voi lukea / Cannot decode the authentication data"
)
AUTH_NOT_NOW = Reply(
    503,
    "5.5.1",
    "Jo tunnistauduttu, tai viesti on kesken / "
    "Already authenticated, or a mail transaction is open",
)
RELAY_DENIED = Reply(
    550,
    "5.7.1",
    "Valitys muille verkkotunnuksille ei ole sallittu / Relaying to other domains is not allowed",
)
UNKNOWN_MAILBOX = Reply(
    550,
    "5.1.1",
    "Osoitetta ei ole; kayta henkilotunnusta tai lahetysosoitetta / "
    "No such address; use a personal identity code or the submission address",
)
INVALID_HETU = Reply(
    550,
    "5.1.3",
    "Henkilotunnus ei ole kelvollinen / The personal identity code is not valid",
)
NO_ACCOUNT = Reply(
    550,
    "5.1.1",
    "Vastaanottajalla ei ole kaytossa olevaa asiointitilia; toimita viesti paperipostina / "
    "The recipient has no active eAccount; deliver this message on paper",
)
TOO_MANY_RECIPIENTS = Reply(
    452, "4.5.3", "Liian monta vastaanottajaa / Too many recipients in one message"
)
# Rate limits (smtp_in.limits): temporary, with when to try again; nothing accepted is affected.
TOO_MANY_CONNECTIONS = Reply(
    421,
    "4.7.0",
    "Organisaatiolla on liian monta yhtaaikaista yhteytta; yrita uudelleen minuutin kuluttua / "
    "Too many concurrent connections from your organisation; try again in a minute",
)
TOO_MANY_ON_CONNECTION = Reply(
    451,
    "4.7.1",
    "Liian monta viestia yhdella yhteydella; avaa uusi yhteys ja yrita uudelleen / "
    "Too many messages on one connection; reconnect and try again",
)


def message_rate_limited(seconds: int) -> Reply:
    """An organisation over its messages per minute, told when the next one will be taken."""
    return Reply(
        451,
        "4.7.1",
        f"Organisaatio lahettaa liian monta viestia minuutissa; yrita uudelleen {seconds} "
        f"sekunnin kuluttua / Too many messages per minute; try again in {seconds} seconds",
    )
CANNOT_VRFY = Reply(
    252, "2.5.0",
    "Osoitteita ei vahvisteta; vastaus tulee RCPT-komentoon / "
    "Addresses are not verified; RCPT gives the answer",
)
NEED_MAIL = Reply(503, "5.5.1", "Anna ensin MAIL FROM / Send MAIL FROM first")
NESTED_MAIL = Reply(503, "5.5.1", "MAIL FROM on jo annettu / MAIL FROM was already given")
NEED_RCPT = Reply(503, "5.5.1", "Anna ensin RCPT TO / Send RCPT TO first")
MAIL_SYNTAX = Reply(501, "5.5.4", "Syntaksi: MAIL FROM:<osoite> / Syntax: MAIL FROM:<address>")
RCPT_SYNTAX = Reply(501, "5.5.4", "Syntaksi: RCPT TO:<osoite> / Syntax: RCPT TO:<address>")
BAD_ADDRESS = Reply(553, "5.1.3", "Osoite on virheellinen / The address is malformed")
BAD_PARAMETER = Reply(
    555, "5.5.4", "Tuntematon tai virheellinen parametri / Unknown or malformed parameter"
)

# Bounces: delivery status notifications for mail the gateway sent, to its per-mail return paths
NULL_SENDER_BOUNCES_ONLY = Reply(
    550,
    "5.7.1",
    "Tyhjalla lahettajalla (MAIL FROM:<>) voi lahettaa vain yhdyskaytavan palautusosoitteisiin / "
    "Mail with the null sender (MAIL FROM:<>) is accepted only for the gateway's bounce addresses",
)
BOUNCE_NEEDS_NULL_SENDER = Reply(
    550,
    "5.7.1",
    "Palautusosoitteeseen otetaan vastaan vain toimitusilmoituksia tyhjalla lahettajalla "
    "(MAIL FROM:<>) / A bounce address accepts only delivery status notifications with the "
    "null sender (MAIL FROM:<>)",
)
UNKNOWN_BOUNCE_ADDRESS = Reply(
    550,
    "5.1.1",
    "Yhdyskaytava ei ole antanut tata palautusosoitetta / "
    "This bounce address was not issued by the gateway",
)
ONE_BOUNCE_ADDRESS = Reply(
    452,
    "4.5.3",
    "Yksi palautusosoite kerrallaan; laheta loput erikseen / "
    "One bounce address per message; send the others separately",
)

# DATA
TOO_BIG = Reply(
    552, "5.3.4", "Viesti on suurempi kuin sallittu koko / Message size exceeds the fixed maximum"
)
LINE_TOO_LONG = Reply(500, "5.5.2", "Rivi on liian pitka (RFC 5321 4.5.3.1.6) / Line too long")
NOT_ENCRYPTED = Reply(
    550,
    "5.7.1",
    "Viestia ei ole salattu yhdyskaytavan S/MIME-varmenteelle / "
    "The message is not S/MIME encrypted to the gateway's certificate",
)
NOT_FOR_GATEWAY = Reply(
    550,
    "5.7.5",
    "Viesti on salattu jollekin muulle kuin yhdyskaytavalle / "
    "The message is encrypted to a certificate that is not the gateway's",
)
DECRYPT_FAILED = Reply(
    550, "5.7.5", "Viestin salausta ei voitu purkaa / The message could not be decrypted"
)
UNSIGNED = Reply(
    550,
    "5.7.1",
    "Viestia ei ole allekirjoitettu; allekirjoita ja salaa viesti / "
    "The message is not signed; sign and encrypt it",
)
BAD_SIGNATURE = Reply(
    550,
    "5.7.7",
    "Allekirjoitus ei tasmaa viestiin (viestia on muutettu) / "
    "The signature does not match the message (it was altered)",
)
CONTENT_MISMATCH = Reply(
    550,
    "5.7.7",
    "Allekirjoitus sisaltaa eri sisallon kuin viesti / "
    "The signature carries content other than the message",
)
WEAK_ALGORITHM = Reply(
    550,
    "5.7.7",
    "Allekirjoitus kayttaa heikkoa algoritmia (SHA-1); kayta SHA-256:ta / "
    "The signature uses a weak algorithm (SHA-1); use SHA-256",
)
FUTURE_SIGNING_TIME = Reply(
    550,
    "5.7.7",
    "Allekirjoitusaika on tulevaisuudessa; tarkista koneen kello / "
    "The signing time is in the future; check the sender's clock",
)
UNTRUSTED_SIGNER = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan varmenne ei ole organisaation luotetun varmentajan myontama / "
    "The signer's certificate is not issued by the organisation's trusted CA",
)
SIGNER_EXPIRED = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan varmenne ei ole voimassa / The signer's certificate is not valid now",
)
SIGNER_REVOKED = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan varmenne on peruutettu / The signer's certificate has been revoked",
)
SIGNER_NOT_PINNED = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan varmenne ei ole organisaation sallimien joukossa / "
    "The signer's certificate is not one the organisation allows to sign",
)
SENDER_ADDRESS = Reply(
    550,
    "5.7.1",
    "Lahettajan osoite ei ole organisaation sallimien osoitteiden joukossa / "
    "The From address is not one of the organisation's allowed sender addresses",
)
ORGANISATION_TOO_BIG = Reply(
    552,
    "5.3.4",
    "Viesti on suurempi kuin organisaatiolle sallittu koko / "
    "Message size exceeds the organisation's maximum",
)
TOO_MANY_ATTACHMENTS = Reply(
    550,
    "5.7.1",
    "Viestissa on enemman liitteita kuin organisaatiolle on sallittu / "
    "The message has more attachments than the organisation allows",
)
NOT_FOR_EMAIL = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan varmennetta ei ole tarkoitettu sahkopostin suojaukseen / "
    "The signer's certificate is not for e-mail protection",
)
MALFORMED_SMIME = Reply(
    550,
    "5.6.0",
    "S/MIME-rakenne on virheellinen / The S/MIME structure is malformed",
)
SIGNER_MISMATCH = Reply(
    550,
    "5.7.1",
    "Allekirjoittajan varmenne ei vastaa lahettajan (From) osoitetta / "
    "The signer's certificate does not match the From address",
)
SENDER_DOMAIN = Reply(
    550,
    "5.7.1",
    "Lahettajan (From) osoite ei kuulu organisaation verkkotunnuksiin / "
    "The From address is not in the organisation's sender domains",
)
PGP_NOT_ENCRYPTED = Reply(
    550,
    "5.7.1",
    "Viestia ei ole salattu yhdyskaytavan OpenPGP-avaimelle / "
    "The message is not OpenPGP encrypted to the gateway's key",
)
PGP_NOT_FOR_GATEWAY = Reply(
    550,
    "5.7.5",
    "Viesti on salattu jollekin muulle kuin yhdyskaytavan OpenPGP-avaimelle / "
    "The message is encrypted to an OpenPGP key that is not the gateway's",
)
PGP_UNKNOWN_SIGNER = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan OpenPGP-avain ei ole organisaation ilmoittama avain / "
    "The signer's OpenPGP key is not one the organisation has registered",
)
PGP_SIGNER_REVOKED = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan OpenPGP-avain on mitatoity / The signer's OpenPGP key has been revoked",
)
PGP_SIGNER_EXPIRED = Reply(
    550,
    "5.7.7",
    "Allekirjoittajan OpenPGP-avain tai allekirjoitus on vanhentunut / "
    "The signer's OpenPGP key or signature has expired",
)
PGP_USER_ID_MISMATCH = Reply(
    550,
    "5.7.1",
    "Allekirjoittajan OpenPGP-avaimen kayttajatunnus ei vastaa lahettajan (From) osoitetta / "
    "No user id of the signer's OpenPGP key matches the From address",
)
MALFORMED_PGP = Reply(
    550,
    "5.6.0",
    "OpenPGP-rakenne on virheellinen / The OpenPGP structure is malformed",
)
# An organisation whose configured OpenPGP key is unusable is refused until the key is fixed.
ORGANISATION_KEY_MISSING = Reply(
    550,
    "5.7.1",
    "Organisaation OpenPGP-avain puuttuu yhdyskaytavalta; ota yhteys sen yllapitoon / "
    "The organisation's OpenPGP key is missing at the gateway; contact its postmaster",
)
ORGANISATION_KEY_EXPIRED = Reply(
    550,
    "5.7.1",
    "Organisaation OpenPGP-avain on vanhentunut; toimita uusi avain / "
    "The organisation's OpenPGP key has expired; supply a new key",
)
ORGANISATION_KEY_REVOKED = Reply(
    550,
    "5.7.1",
    "Organisaation OpenPGP-avain on mitatoity; toimita uusi avain / "
    "The organisation's OpenPGP key has been revoked; supply a new key",
)
# Every S/MIME trust anchor configured for the organisation has expired: nothing can chain.
ORGANISATION_CA_EXPIRED = Reply(
    550,
    "5.7.1",
    "Organisaation varmentajan varmenne on vanhentunut yhdyskaytavalla; ota yhteys sen "
    "yllapitoon / The organisation's CA certificate at the gateway has expired; contact its "
    "postmaster",
)
PARTIAL = Reply(
    550,
    "5.6.1",
    "Osiin jaettuja viesteja (message/partial) ei koota; laheta viesti kokonaisena / "
    "Fragmented messages (message/partial) are not reassembled; send it whole",
)
MALFORMED_MIME = Reply(
    550,
    "5.6.0",
    "Viestin MIME-rakenne on virheellinen / The message's MIME structure is malformed",
)
TOO_COMPLEX = Reply(
    550,
    "5.6.0",
    "Viestin rakenne on liian monimutkainen / The message's structure is too complex",
)
NO_RECIPIENTS_IN_BODY = Reply(
    550,
    "5.1.3",
    "Viestin alussa ei ole rivia 'Henkilotunnus: ...' / "
    "The message names no recipient in a 'Henkilotunnus: ...' line at the top",
)
REPLY_REFERENCE_FORGED = Reply(
    550,
    "5.7.1",
    "Viesti vastaa viestiin, jota tama palvelu ei ole lahettanyt / "
    "The message answers a Message-ID this gateway did not issue",
)
REPLY_REFERENCE_OTHER_ORGANISATION = Reply(
    550,
    "5.7.1",
    "Viesti vastaa toiselle organisaatiolle lahetettyyn viestiin / "
    "The message answers a reply that was sent to another organisation",
)
REPLY_REFERENCE_EXPIRED = Reply(
    550,
    "5.7.1",
    "Vastausaika on paattynyt; laheta viesti henkilotunnuksella / "
    "The time to answer in this conversation has ended; name the recipient by HETU instead",
)
NOT_A_DSN = Reply(
    550,
    "5.6.0",
    "Palautusosoitteeseen otetaan vastaan vain toimitusilmoituksia (RFC 3464, "
    "multipart/report) / A bounce address accepts only delivery status notifications "
    "(RFC 3464, multipart/report)",
)
MALFORMED_DSN = Reply(
    550,
    "5.6.0",
    "Toimitusilmoituksesta ei loydy luettavaa vastaanottajakohtaista tilaa (Action, Status) / "
    "The delivery status notification has no readable per-recipient Action and Status",
)
BOUNCE_RECORDED = Reply(
    250, "2.0.0", "Toimitusilmoitus kirjattu / Delivery status notification recorded"
)
STORAGE_FULL = Reply(
    452,
    "4.3.1",
    "Tallennustila on tayna; yrita myohemmin / Insufficient system storage; try again later",
)
TEMPORARY_FAILURE = Reply(
    451,
    "4.3.0",
    "Tilapainen virhe; yrita myohemmin / Temporary failure; try again later",
)


def attachment_type_refused(position: int) -> Reply:
    """Refuse a message whose attachment (1-based `position`) has a type the organisation does
    not allow; its name and content are never echoed."""
    return Reply(
        550,
        "5.7.1",
        f"Liitteen {position} tyyppi ei ole organisaatiolle sallittu / "
        f"Attachment {position} has a content type the organisation does not allow",
    )


def body_recipients_refused(invalid: Sequence[str], without_account: Sequence[str]) -> Reply:
    """Refuse a submission-address message naming recipients we cannot deliver to.

    The HETUs are already masked; the clerk can resend to the others and post the paper copy.
    """
    parts = []
    if invalid:
        parts.append(f"virheelliset/invalid: {', '.join(invalid)}")
    if without_account:
        parts.append(
            f"ei asiointitilia, toimita paperilla/no eAccount, deliver on paper: "
            f"{', '.join(without_account)}"
        )
    return Reply(
        550,
        "5.1.3" if invalid and not without_account else "5.1.1",
        "Viestia ei toimitettu kenellekaan / Not delivered to anyone; " + "; ".join(parts),
    )
