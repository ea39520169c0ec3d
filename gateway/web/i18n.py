"""The portal's user-interface texts in Finnish, Swedish and English, and date formatting.

One small catalogue keeps the three languages side by side so that a missing translation is
visible in review (and caught by a test that every language has every key). Finnish is the
default: it is used before login and for any language code we do not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_LANG = "fi"

# Citizens read dates in Finnish local time whatever the server's clock zone is.
_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")

CATALOGUE: Mapping[str, Mapping[str, str]] = {
    "fi": {
        "site_title": "Asiointitili",
        "skip_to_content": "Siirry sisältöön",
        "test_banner": "Testitunnistautuminen — vain kehityskäyttöön",
        "login_heading": "Tunnistaudu",
        "hetu_label": "Henkilötunnus",
        "hetu_hint": "Muoto ppkkvvTnnnT, esimerkiksi 010101-123N.",
        "login_button": "Kirjaudu",
        "error_invalid_hetu": "Henkilötunnus ei ole kelvollinen. Tarkista se ja yritä uudelleen.",
        "error_no_account": "Tällä henkilötunnuksella ei ole käytössä olevaa asiointitiliä.",
        "logout_button": "Kirjaudu ulos",
        "signed_in_as": "Kirjautuneena",
        "inbox_heading": "Saapuneet viestit",
        "inbox_empty": "Sinulla ei ole viestejä.",
        "email_unreachable": (
            "Emme saaneet viestiä perille sähköpostiosoitteeseesi. Tarkista yhteystietosi."
        ),
        "col_subject": "Aihe",
        "col_sender": "Lähettäjä",
        "col_received": "Saapunut",
        "unread": "lukematon",
        "pagination": "Sivut",
        "newer": "Uudemmat viestit",
        "older": "Vanhemmat viestit",
        "page_n": "Sivu {n}",
        "back_to_inbox": "Takaisin saapuneisiin",
        "sender": "Lähettäjä",
        "received": "Saapunut",
        "message_text": "Viestin teksti",
        "message_html": "Viestin muotoiltu versio",
        "attachments": "Liitteet",
        "bytes": "tavua",
        "error_heading": "Virhe",
        "error_not_found": "Sivua ei löytynyt.",
        "error_forbidden": "Pyyntö hylättiin. Lataa sivu uudelleen ja yritä uudelleen.",
        "error_other": "Pyyntöä ei voitu käsitellä.",
        "verifiable_heading": "Todisteellinen tiedoksianto",
        "verifiable_notice": (
            "Viesti avautuu, kun kuittaat sen vastaanotetuksi. Lähettäjä saa kuittauksesta "
            "tiedon."
        ),
        "verifiable_deadline": "Kuittaa viimeistään",
        "verifiable_expired": (
            "Määräaika on päättynyt, ja lähettäjälle on ilmoitettu. Asiakirja toimitetaan sinulle"
            " muulla tavoin, esimerkiksi paperisena."
        ),
        "verifiable_acknowledge": "Kuittaa vastaanotetuksi ja avaa viesti",
        "verifiable_acknowledged": "Kuittasit viestin vastaanotetuksi",
        "thread_heading": "Keskustelun muut viestit",
        "thread_yours": "Sinun vastauksesi",
        "delivery_queued": "lähtee pian",
        "delivery_sending": "lähetetään",
        "delivery_sent": "lähetetty",
        "delivery_failed": "ei voitu toimittaa",
        "delivery_bounced": "ei voitu toimittaa",
        "delivery_held": "odottaa",
        "reply_heading": "Vastaa viestiin",
        "reply_text_label": "Vastauksesi",
        "reply_files_label": "Liitteet",
        "reply_files_hint": "Enintään {count} tiedostoa, kukin enintään {size} Mt.",
        "reply_send_button": "Lähetä vastaus",
        "reply_sent_notice": "Vastauksesi on tallennettu ja lähetetään organisaatiolle.",
        "reply_forbidden_by_sender": "Lähettäjä on pyytänyt, ettei tähän viestiin vastata.",
        "reply_not_allowed": "Tähän viestiin ei voi vastata asiointitilin kautta.",
        "reply_not_found": "Viestiä ei löytynyt.",
        "reply_empty": "Kirjoita vastaus tai liitä tiedosto.",
        "reply_text_too_long": "Vastaus on liian pitkä. Lähetä pitkä teksti liitteenä.",
        "reply_too_many_attachments": "Liitteitä on liikaa.",
        "reply_attachment_too_large": "Liite on liian suuri.",
        # -- cases, deletion and reminders (case_routes, message.html) --
        "nav_cases": "Asiat",
        "nav_deleted": "Poistetut",
        "kind_label": "Viestin laji",
        "kind_request": "Lisätietopyyntö",
        "kind_status": "Asian tilatieto",
        "case_label": "Asia",
        "case_status_label": "Tila",
        "case_status_none": "Ei tilatietoa",
        "cases_heading": "Asiat",
        "cases_intro": (
            "Viestit, jotka organisaatio on liittänyt asiaan, asioittain. Uusimman viestin asia "
            "on ensin, ja kunkin asian viimeisin tila näkyy sen kohdalla."
        ),
        "cases_empty": "Sinulla ei ole viestejä, jotka kuuluvat johonkin asiaan.",
        "request_intro": (
            "Lähettäjä pyytää sinulta lisätietoja. Vastaa tällä lomakkeella; pyyntö on "
            "luettavissa lomakkeen alla."
        ),
        "delete_button": "Poista viesti",
        "delete_hint": (
            "Poistettu viesti säilyy Poistetut-näkymässä {days} päivää, ja sen voi palauttaa "
            "sinä aikana. Sen jälkeen viesti liitteineen poistetaan lopullisesti."
        ),
        "deleted_notice": "Viesti siirrettiin poistettuihin.",
        "message_deleted_heading": "Poistettu viesti",
        "message_deleted_notice": "Poistit tämän viestin. Se poistetaan lopullisesti",
        "restore_button": "Palauta viesti",
        "deleted_heading": "Poistetut viestit",
        "deleted_intro": (
            "Poistamasi viestit säilyvät täällä {days} päivää. Sen jälkeen ne poistetaan "
            "liitteineen lopullisesti; tapahtumalokiin jää merkintä."
        ),
        "deleted_empty": "Ei poistettuja viestejä.",
        "col_deleted": "Poistettu",
        "col_purge": "Poistetaan lopullisesti",
        "event_message_deleted": "Poistit viestin: {organisation}.",
        "event_message_restored": "Palautit poistetun viestin: {organisation}.",
        "event_message_purged": "Poistettu viesti poistettiin lopullisesti: {organisation}.",
        "event_message_reminded": "Sinua muistutettiin lukemattomasta viestistä: {organisation}.",
        "language_name": "Suomeksi",
        "language_choice": "Kieli",
        "oidc_intro": (
            "Kirjaudu vahvalla sähköisellä tunnistautumisella: pankkitunnuksilla, "
            "mobiilivarmenteella tai varmennekortilla."
        ),
        "oidc_button": "Tunnistaudu",
        "oidc_try_again": "Yritä uudelleen",
        "oidc_error_attempt": (
            "Kirjautuminen vanheni tai se aloitettiin toisessa selainikkunassa. Aloita alusta."
        ),
        "oidc_error_cancelled": "Tunnistautuminen keskeytyi. Sinua ei kirjattu sisään.",
        "oidc_error_failed": (
            "Tunnistautumisen tietoja ei voitu varmistaa, joten sinua ei kirjattu sisään. "
            "Yritä uudelleen."
        ),
        "oidc_error_unavailable": (
            "Tunnistuspalveluun ei juuri nyt saada yhteyttä. Yritä hetken kuluttua uudelleen."
        ),
        "oidc_error_weak_method": (
            "Valitsemasi tunnistustapa ei ole riittävän vahva asiointitiliin. Käytä "
            "pankkitunnuksia, mobiilivarmennetta tai varmennekorttia."
        ),
        "oidc_error_no_hetu": (
            "Tunnistuspalvelu ei välittänyt kelvollista henkilötunnusta, joten sinua ei voitu "
            "kirjata sisään."
        ),
        # -- account, archive and event log (account_routes, event_routes, event_log) --
        "nav_label": "Päävalikko",
        "nav_inbox": "Saapuneet",
        "nav_account": "Tilin asetukset",
        "nav_events": "Tapahtumaloki",
        "passive_banner": (
            "Asiointitilisi on poissa käytöstä: uudet viestit tulevat sinulle paperisina."
        ),
        "passive_banner_link": "Ota asiointitili uudelleen käyttöön",
        "account_heading": "Tilin asetukset",
        "account_done_saved": "Asetukset on tallennettu.",
        "account_done_passivated": "Asiointitili on nyt poissa käytöstä.",
        "account_done_reactivated": "Asiointitili on taas käytössä.",
        "form_errors_heading": "Korjaa seuraavat kohdat",
        "contact_heading": "Yhteystiedot",
        "email_label": "Sähköpostiosoite",
        "email_hint": "Esimerkiksi nimi@example.fi. Voit jättää kentän tyhjäksi.",
        "phone_label": "Matkapuhelinnumero",
        "phone_hint": "Suomalainen numero, esimerkiksi 040 123 4567 tai +358 40 123 4567.",
        "notify_heading": "Ilmoitukset uusista viesteistä",
        "notify_email_label": "Ilmoita sähköpostilla",
        "notify_sms_label": "Ilmoita tekstiviestillä",
        "sms_not_sent_yet": (
            "Tekstiviesti-ilmoituksia ei vielä lähetetä. Valintasi tallennetaan, ja ilmoitukset "
            "alkavat, kun palvelu otetaan käyttöön."
        ),
        "language_label": "Asioinnin kieli",
        "save_button": "Tallenna asetukset",
        "error_email": "Sähköpostiosoite ei ole kelvollinen. Tarkista se.",
        "error_phone": (
            "Matkapuhelinnumero ei ole kelvollinen. Anna suomalainen numero, esimerkiksi "
            "040 123 4567."
        ),
        "error_notify_email": "Anna sähköpostiosoite, jos haluat ilmoitukset sähköpostilla.",
        "error_notify_sms": (
            "Anna matkapuhelinnumero, jos haluat ilmoitukset tekstiviestillä."
        ),
        "error_lang": "Valitse kieli.",
        "account_status_heading": "Asiointitilin käyttö",
        "account_active_text": "Asiointitili on käytössä: viestit tulevat tänne.",
        "account_passive_text": (
            "Asiointitili on poissa käytöstä: viestit tulevat sinulle paperisina."
        ),
        "passivate_link": "Ota asiointitili pois käytöstä",
        "reactivate_link": "Ota asiointitili uudelleen käyttöön",
        "archive_heading": "Lataa viestisi",
        "archive_text": (
            "Voit ladata kaikki viestisi liitteineen yhtenä ZIP-tiedostona, sellaisina kuin "
            "näet ne täällä."
        ),
        "archive_button": "Lataa kaikki viestit (ZIP)",
        "archive_opened": "Avattu",
        "archive_not_opened": "ei avattu",
        "archive_sent": "Lähetetty",
        "archive_withheld": (
            "Todisteellinen viesti: sisältö avautuu, kun kuittaat viestin vastaanotetuksi "
            "asiointitilillä."
        ),
        "close_heading": "Sulje asiointitili",
        "close_intro": "Tilin sulkeminen on lopullinen. Se edellyttää uutta tunnistautumista.",
        "close_link": "Sulje asiointitili",
        "passivate_heading": "Ota asiointitili pois käytöstä",
        "passivate_paper": "Organisaatiot lähettävät sinulle uudet viestit paperisina.",
        "passivate_no_account_answer": (
            "Viestejä lähettäville organisaatioille vastataan, ettei sinulla ole käytössä "
            "olevaa asiointitiliä."
        ),
        "passivate_old_messages": (
            "Aiemmat viestisi säilyvät, ja voit ottaa asiointitilin uudelleen käyttöön milloin "
            "tahansa."
        ),
        "passivate_button": "Ota pois käytöstä",
        "reactivate_heading": "Ota asiointitili uudelleen käyttöön",
        "reactivate_electronic": "Organisaatiot voivat taas lähettää viestit asiointitilillesi.",
        "reactivate_paper_before": (
            "Poissaolon aikana paperisina lähetetyt viestit eivät tule tänne jälkikäteen."
        ),
        "reactivate_button": "Ota käyttöön",
        "close_paper": "Organisaatiot lähettävät sinulle viestit jatkossa paperisina.",
        "close_no_account_answer": (
            "Viestejä lähettäville organisaatioille vastataan, ettei sinulla ole asiointitiliä."
        ),
        "close_messages": (
            "Et voi sulkemisen jälkeen lukea viestejäsi täällä. Lataa ne ensin, jos haluat "
            "säilyttää ne."
        ),
        "close_logout": "Sinut kirjataan ulos.",
        "close_button": "Sulje asiointitili lopullisesti",
        "cancel": "Peruuta",
        "closed_heading": "Asiointitili on suljettu",
        "closed_text": (
            "Asiointitilisi on suljettu ja sinut on kirjattu ulos. Viestit toimitetaan sinulle "
            "jatkossa paperisina."
        ),
        "reauth_notice": "Tunnistaudu uudelleen, jotta voit sulkea asiointitilin.",
        "events_heading": "Tapahtumaloki",
        "events_intro": "Kaikki tiliäsi koskevat tapahtumat, uusimmat ensin.",
        "events_filter": "Rajaa päivämäärillä",
        "events_since": "Alkaen",
        "events_until": "Päättyen",
        "date_hint": "Muoto vvvv-kk-pp, esimerkiksi 2024-03-01.",
        "events_filter_button": "Näytä",
        "events_col_time": "Aika",
        "events_col_event": "Tapahtuma",
        "events_empty": "Ei tapahtumia.",
        "events_newer": "Uudemmat tapahtumat",
        "events_older": "Vanhemmat tapahtumat",
        "error_date": "Päivämäärä ei ole kelvollinen. Käytä muotoa vvvv-kk-pp.",
        "error_date_order": "Loppupäivä on ennen alkupäivää.",
        "events_export_heading": "Vie loki",
        "events_export_help": (
            "Saat koko tapahtumalokin CSV- ja JSON-tiedostoina viestinä omaan postilaatikkoosi. "
            "Jokaisessa tapahtumassa on edellisen tapahtuman tiiviste, joten aiemman viennin "
            "avulla voi todeta, ettei historiaa ole muutettu."
        ),
        "events_export_button": "Vie tapahtumaloki postilaatikkoon",
        "events_export_subject": "Tapahtumaloki",
        "events_export_text": (
            "Liitteenä on asiointitilisi tapahtumaloki {at} asti: {count} tapahtumaa CSV- ja "
            "JSON-muodossa.\n\nTapahtumat muodostavat ketjun: jokaisen tapahtuman SHA-256-"
            "tiiviste kattaa edellisen tiivisteen. Viimeinen tapahtuma on numero {seq}, "
            "tiiviste {hash}.\n\nSäilytä tämä viesti. Myöhemmässä viennissä samoilla "
            "numeroilla on oltava samat tiivisteet; muuten historiaa on muutettu."
        ),
        "events_export_signed": (
            "JSON-tiedostossa on palvelun allekirjoitus ketjun viimeisen tiivisteen yli."
        ),
        "events_export_filename": "tapahtumaloki",
        "event_other": "Tapahtuma: {kind}",
        "event_citizen_created": "Asiointitili avattiin.",
        "event_citizen_status_active": "Asiointitili otettiin käyttöön.",
        "event_citizen_status_passive": "Asiointitili otettiin pois käytöstä.",
        "event_citizen_status_closed": "Asiointitili suljettiin.",
        "event_login": "Kirjauduit sisään ({method}).",
        "event_session_created": "Kirjauduit sisään.",
        "event_message_received": "Viesti saapui: {organisation}.",
        "event_message_opened": "Avasit viestin: {organisation}.",
        "event_message_replied": "Vastasit viestiin: {organisation}.",
        "event_message_sent": "Lähetit uuden viestin: {organisation}.",
        "nav_new_message": "Uusi viesti",
        "new_message_heading": "Uusi viesti",
        "new_message_intro": "Valitse organisaatio, jolle haluat kirjoittaa.",
        "new_message_none": (
            "Yksikään liittynyt organisaatio ei ota vastaan uusia viestejä asiointitilin "
            "kautta."
        ),
        "new_message_passive": (
            "Passiivisella tilillä ei voi lähettää viestejä. Ota tili ensin uudelleen "
            "käyttöön."
        ),
        "new_message_to": "Vastaanottaja",
        "new_message_topic_label": "Aihe",
        "new_message_topic_choose": "Valitse aihe",
        "new_message_text_label": "Viestisi",
        "new_message_send_button": "Lähetä viesti",
        "new_message_sent_notice": (
            "Viestisi on tallennettu ja lähetetään organisaatiolle. Vastaus tulee tähän "
            "keskusteluun."
        ),
        "new_message_not_allowed": (
            "Tälle organisaatiolle ei voi lähettää uutta viestiä asiointitilin kautta."
        ),
        "new_message_bad_topic": "Valitse aihe luettelosta.",
        "new_message_yours": "Sinun viestisi",
        "event_message_acknowledged": "Kuittasit todisteellisen viestin: {organisation}.",
        "event_message_acknowledgement_expired": (
            "Todisteellisen viestin kuittausaika päättyi: {organisation}."
        ),
        "event_notification_sent": "Ilmoitus uudesta viestistä lähetettiin.",
        "event_notification_deferred": "Ilmoituksen lähetys viivästyi; sitä yritetään uudelleen.",
        "event_notification_failed": "Ilmoitusta uudesta viestistä ei voitu lähettää.",
        "event_notification_bounced": "Ilmoitus uudesta viestistä palautui perille menemättä.",
        "event_notification_delayed": "Ilmoituksen perillemeno on viivästynyt.",
        "event_reply_sent": "Vastauksesi lähetettiin.",
        "event_reply_deferred": "Vastauksesi lähetys viivästyi; sitä yritetään uudelleen.",
        "event_reply_failed": "Vastaustasi ei voitu toimittaa.",
        "event_reply_bounced": "Vastauksesi palautui perille menemättä.",
        "event_receipt_sent": "Vastaanottokuittaus lähetettiin viestin lähettäjälle.",
        "event_account_settings": "Muutit asetuksia: {fields}.",
        "event_messages_exported": "Latasit viestisi ZIP-tiedostona ({count} viestiä).",
        "event_events_exported": "Tapahtumaloki vietiin postilaatikkoosi.",
        "login_method_test": "testitunnistautuminen",
        "login_method_strong": "vahva sähköinen tunnistus",
        "event_receipt_expired_sent": (
            "Lähettäjälle ilmoitettiin, ettei todisteellista viestiä kuitattu määräajassa."
        ),
        "setting_email": "sähköpostiosoite",
        "setting_phone": "matkapuhelinnumero",
        "setting_notify_email": "sähköposti-ilmoitukset",
        "setting_notify_sms": "tekstiviesti-ilmoitukset",
        "setting_lang": "kieli",
        "nav_services": "Liittyneet palvelut",
        "services_heading": "Liittyneet palvelut",
        "services_intro": (
            "Nämä organisaatiot lähettävät viestejä asiointitilille. Organisaation alla on "
            "lueteltu palvelut, joista viestit tulevat."
        ),
        "services_none": "Organisaatio ei ole ilmoittanut palveluitaan.",
        "services_empty": "Yksikään organisaatio ei ole vielä liittynyt palveluun.",
        "terms_heading": "Käyttöehdot",
        "terms_intro_new": (
            "Tervetuloa! Sinulla ei vielä ole asiointitiliä. Lue käyttöehdot. Kun hyväksyt ne, "
            "asiointitili avataan sinulle."
        ),
        "terms_intro_changed": (
            "Käyttöehdot ovat muuttuneet. Hyväksy uudet ehdot, niin pääset asiointitilillesi."
        ),
        "terms_version": "Käyttöehtojen versio {version}",
        "terms_account_heading": "Asiointitilin tiedot",
        "name_label": "Nimi",
        "name_hint": "Nimi, jolla sinut näytetään palvelussa.",
        "terms_contact_intro": (
            "Voit antaa sähköpostiosoitteen ja matkapuhelinnumeron, jos haluat ilmoituksen uusista "
            "viesteistä. Voit muuttaa niitä myöhemmin tilin asetuksista."
        ),
        "terms_accept_label": "Olen lukenut käyttöehdot ja hyväksyn ne",
        "terms_accept_button_new": "Hyväksy ja avaa asiointitili",
        "terms_accept_button": "Hyväksy käyttöehdot",
        "terms_decline_button_new": "En hyväksy, kirjaudu ulos",
        "terms_decline_button": "Kirjaudu ulos hyväksymättä",
        "error_terms_accept": "Hyväksy käyttöehdot, jotta voit jatkaa.",
        "error_name": "Kirjoita nimesi (enintään 200 merkkiä).",
        "terms_declined_heading": "Kirjauduit ulos",
        "terms_declined_new": (
            "Et hyväksynyt käyttöehtoja, joten asiointitiliä ei avattu eikä sinusta tallennettu "
            "tietoja."
        ),
        "terms_declined_changed": (
            "Et hyväksynyt uusia käyttöehtoja. Viestisi säilyvät asiointitilillä, ja voit "
            "hyväksyä ehdot, kun kirjaudut seuraavan kerran."
        ),
        "login_again": "Kirjaudu sisään",
        "welcome_subject": "Tervetuloa asiointitilin käyttäjäksi",
        "welcome_text": (
            "Tervetuloa asiointitilin käyttäjäksi!\n\n"
            "Viranomaiset ja kunnat, jotka ovat liittyneet palveluun, lähettävät sinulle "
            "päätöksensä ja muut viestinsä tänne paperikirjeen sijaan. Näet ne kohdassa "
            "Saapuneet.\n\n"
            "Tilin asetuksissa voit antaa sähköpostiosoitteen, johon saat ilmoituksen uusista "
            "viesteistä, ja vaihtaa asioinnin kielen. Liittyneet palvelut -sivulla näet, ketkä "
            "voivat lähettää sinulle viestejä. Tapahtumalokista näet kaiken, mitä tililläsi on "
            "tapahtunut."
        ),
        "event_account_created": "Avasit asiointitilin.",
        "event_terms_accepted": "Hyväksyit käyttöehdot (versio {version}).",
        "datetime_format": "{d}.{m}.{y} klo {H}.{M}",
    },
    "sv": {
        "site_title": "e-Tjänstekonto",
        "skip_to_content": "Gå till innehållet",
        "test_banner": "Testidentifiering — endast för utveckling",
        "login_heading": "Identifiera dig",
        "hetu_label": "Personbeteckning",
        "hetu_hint": "Formen ddmmååTnnnT, till exempel 010101-123N.",
        "login_button": "Logga in",
        "error_invalid_hetu": "Personbeteckningen är inte giltig. Kontrollera den och försök igen.",
        "error_no_account": "Det finns inget aktivt e-tjänstekonto för denna personbeteckning.",
        "logout_button": "Logga ut",
        "signed_in_as": "Inloggad som",
        "inbox_heading": "Inkorg",
        "inbox_empty": "Du har inga meddelanden.",
        "email_unreachable": (
            "Vi kunde inte nå din e-postadress. Kontrollera dina kontaktuppgifter."
        ),
        "col_subject": "Ämne",
        "col_sender": "Avsändare",
        "col_received": "Mottaget",
        "unread": "oläst",
        "pagination": "Sidor",
        "newer": "Nyare meddelanden",
        "older": "Äldre meddelanden",
        "page_n": "Sida {n}",
        "back_to_inbox": "Tillbaka till inkorgen",
        "sender": "Avsändare",
        "received": "Mottaget",
        "message_text": "Meddelandets text",
        "message_html": "Meddelandets formaterade version",
        "attachments": "Bilagor",
        "bytes": "byte",
        "error_heading": "Fel",
        "error_not_found": "Sidan hittades inte.",
        "error_forbidden": "Begäran avvisades. Ladda om sidan och försök igen.",
        "error_other": "Begäran kunde inte behandlas.",
        "verifiable_heading": "Bevislig delgivning",
        "verifiable_notice": (
            "Meddelandet öppnas när du kvitterar det som mottaget. Avsändaren får veta om "
            "kvitteringen."
        ),
        "verifiable_deadline": "Kvittera senast",
        "verifiable_expired": (
            "Tidsfristen har gått ut och avsändaren har meddelats. Handlingen delges dig på annat"
            " sätt, till exempel på papper."
        ),
        "verifiable_acknowledge": "Kvittera som mottaget och öppna meddelandet",
        "verifiable_acknowledged": "Du kvitterade meddelandet som mottaget",
        "thread_heading": "Övriga meddelanden i konversationen",
        "thread_yours": "Ditt svar",
        "delivery_queued": "skickas snart",
        "delivery_sending": "skickas",
        "delivery_sent": "skickat",
        "delivery_failed": "kunde inte levereras",
        "delivery_bounced": "kunde inte levereras",
        "delivery_held": "väntar",
        "reply_heading": "Svara på meddelandet",
        "reply_text_label": "Ditt svar",
        "reply_files_label": "Bilagor",
        "reply_files_hint": "Högst {count} filer, högst {size} MB var.",
        "reply_send_button": "Skicka svaret",
        "reply_sent_notice": "Ditt svar har sparats och skickas till organisationen.",
        "reply_forbidden_by_sender": "Avsändaren har bett att detta meddelande inte besvaras.",
        "reply_not_allowed": "Detta meddelande kan inte besvaras via e-tjänstkontot.",
        "reply_not_found": "Meddelandet hittades inte.",
        "reply_empty": "Skriv ett svar eller bifoga en fil.",
        "reply_text_too_long": "Svaret är för långt. Skicka lång text som bilaga.",
        "reply_too_many_attachments": "För många bilagor.",
        "reply_attachment_too_large": "En bilaga är för stor.",
        # -- cases, deletion and reminders (case_routes, message.html) --
        "nav_cases": "Ärenden",
        "nav_deleted": "Raderade",
        "kind_label": "Typ av meddelande",
        "kind_request": "Begäran om tilläggsuppgifter",
        "kind_status": "Lägesuppgift om ärendet",
        "case_label": "Ärende",
        "case_status_label": "Läge",
        "case_status_none": "Inga lägesuppgifter",
        "cases_heading": "Ärenden",
        "cases_intro": (
            "Meddelanden som organisationen har kopplat till ett ärende, ärende för ärende. "
            "Ärendet med det nyaste meddelandet kommer först, med dess senaste läge."
        ),
        "cases_empty": "Du har inga meddelanden som hör till ett ärende.",
        "request_intro": (
            "Avsändaren ber dig om tilläggsuppgifter. Svara med det här formuläret; begäran "
            "finns att läsa under formuläret."
        ),
        "delete_button": "Radera meddelandet",
        "delete_hint": (
            "Ett raderat meddelande finns kvar under Raderade i {days} dagar och kan återställas "
            "under den tiden. Därefter raderas det med bilagor för gott."
        ),
        "deleted_notice": "Meddelandet flyttades till raderade.",
        "message_deleted_heading": "Raderat meddelande",
        "message_deleted_notice": "Du raderade det här meddelandet. Det raderas för gott",
        "restore_button": "Återställ meddelandet",
        "deleted_heading": "Raderade meddelanden",
        "deleted_intro": (
            "Meddelanden du raderat finns kvar här i {days} dagar. Därefter raderas de med "
            "bilagor för gott; en anteckning blir kvar i händelseloggen."
        ),
        "deleted_empty": "Inga raderade meddelanden.",
        "col_deleted": "Raderat",
        "col_purge": "Raderas för gott",
        "event_message_deleted": "Du raderade ett meddelande: {organisation}.",
        "event_message_restored": "Du återställde ett raderat meddelande: {organisation}.",
        "event_message_purged": "Ett raderat meddelande raderades för gott: {organisation}.",
        "event_message_reminded": "Du påmindes om ett oläst meddelande: {organisation}.",
        "language_name": "På svenska",
        "language_choice": "Språk",
        "oidc_intro": (
            "Logga in med stark autentisering: bankkoder, mobilcertifikat eller certifikatkort."
        ),
        "oidc_button": "Identifiera dig",
        "oidc_try_again": "Försök igen",
        "oidc_error_attempt": (
            "Inloggningen gick ut eller påbörjades i ett annat webbläsarfönster. Börja om."
        ),
        "oidc_error_cancelled": "Identifieringen avbröts. Du loggades inte in.",
        "oidc_error_failed": (
            "Identifieringsuppgifterna kunde inte bekräftas, så du loggades inte in. "
            "Försök igen."
        ),
        "oidc_error_unavailable": (
            "Identifieringstjänsten kan inte nås just nu. Försök igen om en stund."
        ),
        "oidc_error_weak_method": (
            "Identifieringssättet du valde är inte tillräckligt starkt för e-tjänstekontot. "
            "Använd bankkoder, mobilcertifikat eller certifikatkort."
        ),
        "oidc_error_no_hetu": (
            "Identifieringstjänsten förmedlade ingen giltig personbeteckning, så du kunde "
            "inte loggas in."
        ),
        # -- account, archive and event log (account_routes, event_routes, event_log) --
        "nav_label": "Huvudmeny",
        "nav_inbox": "Inkorg",
        "nav_account": "Kontoinställningar",
        "nav_events": "Händelselogg",
        "passive_banner": (
            "Ditt e-tjänstekonto är inte i bruk: nya meddelanden skickas till dig på papper."
        ),
        "passive_banner_link": "Ta e-tjänstekontot i bruk igen",
        "account_heading": "Kontoinställningar",
        "account_done_saved": "Inställningarna har sparats.",
        "account_done_passivated": "E-tjänstekontot är nu inte i bruk.",
        "account_done_reactivated": "E-tjänstekontot är i bruk igen.",
        "form_errors_heading": "Rätta följande",
        "contact_heading": "Kontaktuppgifter",
        "email_label": "E-postadress",
        "email_hint": "Till exempel namn@example.fi. Du kan lämna fältet tomt.",
        "phone_label": "Mobilnummer",
        "phone_hint": "Ett finländskt nummer, till exempel 040 123 4567 eller +358 40 123 4567.",
        "notify_heading": "Meddelanden om ny post",
        "notify_email_label": "Meddela per e-post",
        "notify_sms_label": "Meddela per sms",
        "sms_not_sent_yet": (
            "Sms-meddelanden skickas inte ännu. Ditt val sparas, och meddelandena börjar när "
            "tjänsten tas i bruk."
        ),
        "language_label": "Språk i tjänsten",
        "save_button": "Spara inställningarna",
        "error_email": "E-postadressen är inte giltig. Kontrollera den.",
        "error_phone": (
            "Mobilnumret är inte giltigt. Ange ett finländskt nummer, till exempel 040 123 4567."
        ),
        "error_notify_email": "Ange en e-postadress om du vill få meddelanden per e-post.",
        "error_notify_sms": "Ange ett mobilnummer om du vill få meddelanden per sms.",
        "error_lang": "Välj ett språk.",
        "account_status_heading": "E-tjänstekontots användning",
        "account_active_text": "E-tjänstekontot är i bruk: meddelandena kommer hit.",
        "account_passive_text": (
            "E-tjänstekontot är inte i bruk: meddelandena skickas till dig på papper."
        ),
        "passivate_link": "Ta e-tjänstekontot ur bruk",
        "reactivate_link": "Ta e-tjänstekontot i bruk igen",
        "archive_heading": "Ladda ner dina meddelanden",
        "archive_text": (
            "Du kan ladda ner alla dina meddelanden med bilagor som en ZIP-fil, så som du ser "
            "dem här."
        ),
        "archive_button": "Ladda ner alla meddelanden (ZIP)",
        "archive_opened": "Öppnat",
        "archive_not_opened": "inte öppnat",
        "archive_sent": "Skickat",
        "archive_withheld": (
            "Bevislig delgivning: innehållet öppnas när du kvitterar meddelandet som mottaget "
            "i e-tjänstekontot."
        ),
        "close_heading": "Stäng e-tjänstekontot",
        "close_intro": (
            "Att stänga kontot är slutgiltigt. Det kräver att du identifierar dig på nytt."
        ),
        "close_link": "Stäng e-tjänstekontot",
        "passivate_heading": "Ta e-tjänstekontot ur bruk",
        "passivate_paper": "Organisationerna skickar dina nya meddelanden på papper.",
        "passivate_no_account_answer": (
            "Organisationer som skickar meddelanden får svaret att du inte har ett "
            "e-tjänstekonto i bruk."
        ),
        "passivate_old_messages": (
            "Dina tidigare meddelanden finns kvar, och du kan ta kontot i bruk igen när som "
            "helst."
        ),
        "passivate_button": "Ta ur bruk",
        "reactivate_heading": "Ta e-tjänstekontot i bruk igen",
        "reactivate_electronic": "Organisationerna kan igen skicka meddelanden till ditt konto.",
        "reactivate_paper_before": (
            "Meddelanden som skickats på papper under tiden kommer inte hit i efterhand."
        ),
        "reactivate_button": "Ta i bruk",
        "close_paper": "Organisationerna skickar i fortsättningen dina meddelanden på papper.",
        "close_no_account_answer": (
            "Organisationer som skickar meddelanden får svaret att du inte har ett "
            "e-tjänstekonto."
        ),
        "close_messages": (
            "Efter stängningen kan du inte läsa dina meddelanden här. Ladda ner dem först om du "
            "vill spara dem."
        ),
        "close_logout": "Du loggas ut.",
        "close_button": "Stäng e-tjänstekontot slutgiltigt",
        "cancel": "Avbryt",
        "closed_heading": "E-tjänstekontot är stängt",
        "closed_text": (
            "Ditt e-tjänstekonto är stängt och du har loggats ut. Meddelandena skickas i "
            "fortsättningen till dig på papper."
        ),
        "reauth_notice": "Identifiera dig på nytt för att kunna stänga e-tjänstekontot.",
        "events_heading": "Händelselogg",
        "events_intro": "Alla händelser som gäller ditt konto, de nyaste först.",
        "events_filter": "Avgränsa med datum",
        "events_since": "Från och med",
        "events_until": "Till och med",
        "date_hint": "Formen åååå-mm-dd, till exempel 2024-03-01.",
        "events_filter_button": "Visa",
        "events_col_time": "Tid",
        "events_col_event": "Händelse",
        "events_empty": "Inga händelser.",
        "events_newer": "Nyare händelser",
        "events_older": "Äldre händelser",
        "error_date": "Datumet är inte giltigt. Använd formen åååå-mm-dd.",
        "error_date_order": "Slutdatumet är före startdatumet.",
        "events_export_heading": "Exportera loggen",
        "events_export_help": (
            "Du får hela händelseloggen som CSV- och JSON-filer i ett meddelande till din egen "
            "inkorg. Varje händelse innehåller föregående händelses hashvärde, så med en tidigare "
            "export kan man konstatera att historiken inte har ändrats."
        ),
        "events_export_button": "Exportera händelseloggen till inkorgen",
        "events_export_subject": "Händelselogg",
        "events_export_text": (
            "Bifogat finns ditt e-tjänstekontos händelselogg fram till {at}: {count} händelser i "
            "CSV- och JSON-format.\n\nHändelserna bildar en kedja: varje händelses SHA-256-"
            "hashvärde omfattar det föregående. Den sista händelsen har nummer {seq}, hashvärde "
            "{hash}.\n\nSpara detta meddelande. I en senare export ska samma nummer ha samma "
            "hashvärden; annars har historiken ändrats."
        ),
        "events_export_signed": (
            "JSON-filen innehåller tjänstens underskrift över kedjans sista hashvärde."
        ),
        "events_export_filename": "handelselogg",
        "event_other": "Händelse: {kind}",
        "event_citizen_created": "E-tjänstekontot öppnades.",
        "event_citizen_status_active": "E-tjänstekontot togs i bruk.",
        "event_citizen_status_passive": "E-tjänstekontot togs ur bruk.",
        "event_citizen_status_closed": "E-tjänstekontot stängdes.",
        "event_login": "Du loggade in ({method}).",
        "event_session_created": "Du loggade in.",
        "event_message_received": "Ett meddelande kom: {organisation}.",
        "event_message_opened": "Du öppnade ett meddelande: {organisation}.",
        "event_message_replied": "Du svarade på ett meddelande: {organisation}.",
        "event_message_sent": "Du skickade ett nytt meddelande: {organisation}.",
        "nav_new_message": "Nytt meddelande",
        "new_message_heading": "Nytt meddelande",
        "new_message_intro": "Välj den organisation du vill skriva till.",
        "new_message_none": (
            "Ingen ansluten organisation tar emot nya meddelanden via e-tjänstkontot."
        ),
        "new_message_passive": (
            "Med ett passivt konto kan du inte skicka meddelanden. Aktivera kontot först."
        ),
        "new_message_to": "Mottagare",
        "new_message_topic_label": "Ämne",
        "new_message_topic_choose": "Välj ämne",
        "new_message_text_label": "Ditt meddelande",
        "new_message_send_button": "Skicka meddelandet",
        "new_message_sent_notice": (
            "Ditt meddelande har sparats och skickas till organisationen. Svaret kommer i den"
            " här konversationen."
        ),
        "new_message_not_allowed": (
            "Till den här organisationen kan du inte skicka ett nytt meddelande via "
            "e-tjänstkontot."
        ),
        "new_message_bad_topic": "Välj ett ämne i listan.",
        "new_message_yours": "Ditt meddelande",
        "event_message_acknowledged": "Du kvitterade ett bevisligt meddelande: {organisation}.",
        "event_message_acknowledgement_expired": (
            "Tiden för att kvittera ett bevisligt meddelande gick ut: {organisation}."
        ),
        "event_notification_sent": "Ett meddelande om ny post skickades.",
        "event_notification_deferred": "Meddelandet om ny post försenades; det försöks igen.",
        "event_notification_failed": "Meddelandet om ny post kunde inte skickas.",
        "event_notification_bounced": "Meddelandet om ny post kom i retur.",
        "event_notification_delayed": "Meddelandet om ny post har försenats på vägen.",
        "event_reply_sent": "Ditt svar skickades.",
        "event_reply_deferred": "Ditt svar försenades; det försöks igen.",
        "event_reply_failed": "Ditt svar kunde inte levereras.",
        "event_reply_bounced": "Ditt svar kom i retur.",
        "event_receipt_sent": "Ett mottagningskvitto skickades till avsändaren.",
        "event_account_settings": "Du ändrade inställningar: {fields}.",
        "event_messages_exported": "Du laddade ner dina meddelanden som ZIP-fil ({count} st.).",
        "event_events_exported": "Händelseloggen exporterades till din inkorg.",
        "login_method_test": "testidentifiering",
        "login_method_strong": "stark elektronisk identifiering",
        "event_receipt_expired_sent": (
            "Avsändaren fick veta att ett bevisligt meddelande inte kvitterades i tid."
        ),
        "setting_email": "e-postadress",
        "setting_phone": "mobilnummer",
        "setting_notify_email": "meddelanden per e-post",
        "setting_notify_sms": "meddelanden per sms",
        "setting_lang": "språk",
        "nav_services": "Anslutna tjänster",
        "services_heading": "Anslutna tjänster",
        "services_intro": (
            "De här organisationerna skickar meddelanden till e-tjänstekontot. Under varje "
            "organisation står de tjänster som meddelandena kommer från."
        ),
        "services_none": "Organisationen har inte angett sina tjänster.",
        "services_empty": "Ingen organisation har ännu anslutit sig till tjänsten.",
        "terms_heading": "Användarvillkor",
        "terms_intro_new": (
            "Välkommen! Du har ännu inget e-tjänstekonto. Läs användarvillkoren. När du godkänner "
            "dem öppnas ett e-tjänstekonto för dig."
        ),
        "terms_intro_changed": (
            "Användarvillkoren har ändrats. Godkänn de nya villkoren för att komma till ditt "
            "e-tjänstekonto."
        ),
        "terms_version": "Användarvillkorens version {version}",
        "terms_account_heading": "Uppgifter för e-tjänstekontot",
        "name_label": "Namn",
        "name_hint": "Namnet som visas för dig i tjänsten.",
        "terms_contact_intro": (
            "Du kan ange en e-postadress och ett mobilnummer om du vill få meddelanden om nya "
            "meddelanden. Du kan ändra dem senare i kontoinställningarna."
        ),
        "terms_accept_label": "Jag har läst användarvillkoren och godkänner dem",
        "terms_accept_button_new": "Godkänn och öppna e-tjänstekontot",
        "terms_accept_button": "Godkänn användarvillkoren",
        "terms_decline_button_new": "Jag godkänner inte, logga ut",
        "terms_decline_button": "Logga ut utan att godkänna",
        "error_terms_accept": "Godkänn användarvillkoren för att fortsätta.",
        "error_name": "Skriv ditt namn (högst 200 tecken).",
        "terms_declined_heading": "Du har loggat ut",
        "terms_declined_new": (
            "Du godkände inte användarvillkoren, så inget e-tjänstekonto öppnades och inga "
            "uppgifter om dig sparades."
        ),
        "terms_declined_changed": (
            "Du godkände inte de nya användarvillkoren. Dina meddelanden finns kvar på "
            "e-tjänstekontot, och du kan godkänna villkoren nästa gång du loggar in."
        ),
        "login_again": "Logga in",
        "welcome_subject": "Välkommen som användare av e-tjänstekontot",
        "welcome_text": (
            "Välkommen som användare av e-tjänstekontot!\n\n"
            "Myndigheter och kommuner som har anslutit sig till tjänsten skickar sina beslut och "
            "andra meddelanden hit i stället för brev på papper. Du hittar dem under Inkorg.\n\n"
            "I kontoinställningarna kan du ange en e-postadress för meddelanden om nya "
            "meddelanden och byta språk. På sidan Anslutna tjänster ser du vem som kan skicka "
            "meddelanden till dig. I händelseloggen ser du allt som har hänt på ditt konto."
        ),
        "event_account_created": "Du öppnade e-tjänstekontot.",
        "event_terms_accepted": "Du godkände användarvillkoren (version {version}).",
        "datetime_format": "{d}.{m}.{y} kl. {H}.{M}",
    },
    "en": {
        "site_title": "eAccount",
        "skip_to_content": "Skip to content",
        "test_banner": "Test identification — development only",
        "login_heading": "Identify yourself",
        "hetu_label": "Personal identity code",
        "hetu_hint": "Format ddmmyyCnnnX, for example 010101-123N.",
        "login_button": "Log in",
        "error_invalid_hetu": "The personal identity code is not valid. Check it and try again.",
        "error_no_account": "There is no active eAccount for this personal identity code.",
        "logout_button": "Log out",
        "signed_in_as": "Logged in as",
        "inbox_heading": "Inbox",
        "inbox_empty": "You have no messages.",
        "email_unreachable": "We could not reach your email address. Check your contact details.",
        "col_subject": "Subject",
        "col_sender": "Sender",
        "col_received": "Received",
        "unread": "unread",
        "pagination": "Pages",
        "newer": "Newer messages",
        "older": "Older messages",
        "page_n": "Page {n}",
        "back_to_inbox": "Back to inbox",
        "sender": "Sender",
        "received": "Received",
        "message_text": "Message text",
        "message_html": "Formatted version of the message",
        "attachments": "Attachments",
        "bytes": "bytes",
        "error_heading": "Error",
        "error_not_found": "Page not found.",
        "error_forbidden": "The request was refused. Reload the page and try again.",
        "error_other": "The request could not be processed.",
        "verifiable_heading": "Verifiable delivery",
        "verifiable_notice": (
            "The message opens when you acknowledge receipt. The sender is told of your "
            "acknowledgement."
        ),
        "verifiable_deadline": "Acknowledge by",
        "verifiable_expired": (
            "The deadline has passed and the sender has been told. The document will be delivered"
            " to you another way, for example on paper."
        ),
        "verifiable_acknowledge": "Acknowledge receipt and open the message",
        "verifiable_acknowledged": "You acknowledged receipt",
        "thread_heading": "Other messages in this conversation",
        "thread_yours": "Your reply",
        "delivery_queued": "about to be sent",
        "delivery_sending": "being sent",
        "delivery_sent": "sent",
        "delivery_failed": "could not be delivered",
        "delivery_bounced": "could not be delivered",
        "delivery_held": "waiting",
        "reply_heading": "Reply to this message",
        "reply_text_label": "Your reply",
        "reply_files_label": "Attachments",
        "reply_files_hint": "At most {count} files, each at most {size} MB.",
        "reply_send_button": "Send reply",
        "reply_sent_notice": "Your reply has been saved and is being sent to the organisation.",
        "reply_forbidden_by_sender": "The sender has asked that this message not be answered.",
        "reply_not_allowed": "This message cannot be answered through the eAccount.",
        "reply_not_found": "The message was not found.",
        "reply_empty": "Write a reply or attach a file.",
        "reply_text_too_long": "The reply is too long. Send long text as an attachment.",
        "reply_too_many_attachments": "Too many attachments.",
        "reply_attachment_too_large": "An attachment is too large.",
        # -- cases, deletion and reminders (case_routes, message.html) --
        "nav_cases": "Cases",
        "nav_deleted": "Deleted",
        "kind_label": "Kind of message",
        "kind_request": "Request for more information",
        "kind_status": "Case status update",
        "case_label": "Case",
        "case_status_label": "Status",
        "case_status_none": "No status reported",
        "cases_heading": "Cases",
        "cases_intro": (
            "Messages an organisation has linked to a case, case by case. The case with the "
            "newest message comes first, with its latest status."
        ),
        "cases_empty": "You have no messages that belong to a case.",
        "request_intro": (
            "The sender asks you for more information. Answer with this form; the request "
            "itself is below the form."
        ),
        "delete_button": "Delete message",
        "delete_hint": (
            "A deleted message stays in Deleted for {days} days and can be restored until "
            "then. After that it is removed for good with its attachments."
        ),
        "deleted_notice": "The message was moved to Deleted.",
        "message_deleted_heading": "Deleted message",
        "message_deleted_notice": "You deleted this message. It will be removed for good on",
        "restore_button": "Restore message",
        "deleted_heading": "Deleted messages",
        "deleted_intro": (
            "Messages you deleted stay here for {days} days. After that they are removed for "
            "good with their attachments; the event log keeps a record."
        ),
        "deleted_empty": "No deleted messages.",
        "col_deleted": "Deleted",
        "col_purge": "Removed for good on",
        "event_message_deleted": "You deleted a message: {organisation}.",
        "event_message_restored": "You restored a deleted message: {organisation}.",
        "event_message_purged": "A deleted message was removed for good: {organisation}.",
        "event_message_reminded": "You were reminded of an unread message: {organisation}.",
        "language_name": "In English",
        "language_choice": "Language",
        "oidc_intro": (
            "Log in with strong electronic identification: online banking codes, mobile "
            "certificate or certificate card."
        ),
        "oidc_button": "Identify yourself",
        "oidc_try_again": "Try again",
        "oidc_error_attempt": (
            "The login expired or was started in another browser window. Please start again."
        ),
        "oidc_error_cancelled": "Identification was cancelled. You were not logged in.",
        "oidc_error_failed": (
            "Your identification could not be verified, so you were not logged in. "
            "Please try again."
        ),
        "oidc_error_unavailable": (
            "The identification service cannot be reached just now. Please try again shortly."
        ),
        "oidc_error_weak_method": (
            "The identification method you chose is not strong enough for the eAccount. Use "
            "online banking codes, a mobile certificate or a certificate card."
        ),
        "oidc_error_no_hetu": (
            "The identification service did not pass on a valid personal identity code, so "
            "you could not be logged in."
        ),
        # -- account, archive and event log (account_routes, event_routes, event_log) --
        "nav_label": "Main menu",
        "nav_inbox": "Inbox",
        "nav_account": "Account settings",
        "nav_events": "Event log",
        "passive_banner": "Your eAccount is not in use: new messages come to you on paper.",
        "passive_banner_link": "Start using the eAccount again",
        "account_heading": "Account settings",
        "account_done_saved": "Your settings have been saved.",
        "account_done_passivated": "Your eAccount is now not in use.",
        "account_done_reactivated": "Your eAccount is in use again.",
        "form_errors_heading": "Please correct the following",
        "contact_heading": "Contact details",
        "email_label": "Email address",
        "email_hint": "For example name@example.fi. You may leave it empty.",
        "phone_label": "Mobile number",
        "phone_hint": "A Finnish number, for example 040 123 4567 or +358 40 123 4567.",
        "notify_heading": "Notices of new messages",
        "notify_email_label": "Notify me by email",
        "notify_sms_label": "Notify me by text message",
        "sms_not_sent_yet": (
            "Text message notices are not sent yet. Your choice is kept, and notices start when "
            "the service does."
        ),
        "language_label": "Language of the service",
        "save_button": "Save settings",
        "error_email": "The email address is not valid. Check it.",
        "error_phone": (
            "The mobile number is not valid. Give a Finnish number, for example 040 123 4567."
        ),
        "error_notify_email": "Give an email address to get notices by email.",
        "error_notify_sms": "Give a mobile number to get notices by text message.",
        "error_lang": "Choose a language.",
        "account_status_heading": "Using the eAccount",
        "account_active_text": "Your eAccount is in use: messages come here.",
        "account_passive_text": "Your eAccount is not in use: messages come to you on paper.",
        "passivate_link": "Stop using the eAccount",
        "reactivate_link": "Start using the eAccount again",
        "archive_heading": "Download your messages",
        "archive_text": (
            "You can download all your messages and their attachments as one ZIP file, as you "
            "see them here."
        ),
        "archive_button": "Download all messages (ZIP)",
        "archive_opened": "Opened",
        "archive_not_opened": "not opened",
        "archive_sent": "Sent",
        "archive_withheld": (
            "Verifiable delivery: the content opens when you acknowledge receipt in the "
            "eAccount."
        ),
        "close_heading": "Close the eAccount",
        "close_intro": "Closing the account is final. It asks you to identify yourself again.",
        "close_link": "Close the eAccount",
        "passivate_heading": "Stop using the eAccount",
        "passivate_paper": "Organisations will send your new messages on paper.",
        "passivate_no_account_answer": (
            "Organisations that send you messages are told that you have no eAccount in use."
        ),
        "passivate_old_messages": (
            "Your earlier messages stay here, and you can start using the eAccount again at any "
            "time."
        ),
        "passivate_button": "Stop using it",
        "reactivate_heading": "Start using the eAccount again",
        "reactivate_electronic": "Organisations can again send messages to your eAccount.",
        "reactivate_paper_before": (
            "Messages sent on paper in the meantime do not come here afterwards."
        ),
        "reactivate_button": "Start using it",
        "close_paper": "From now on organisations will send your messages on paper.",
        "close_no_account_answer": (
            "Organisations that send you messages are told that you have no eAccount."
        ),
        "close_messages": (
            "After closing you cannot read your messages here. Download them first if you want "
            "to keep them."
        ),
        "close_logout": "You will be logged out.",
        "close_button": "Close the eAccount for good",
        "cancel": "Cancel",
        "closed_heading": "The eAccount is closed",
        "closed_text": (
            "Your eAccount is closed and you have been logged out. From now on your messages "
            "come to you on paper."
        ),
        "reauth_notice": "Identify yourself again to close your eAccount.",
        "events_heading": "Event log",
        "events_intro": "Everything that has happened on your account, newest first.",
        "events_filter": "Limit by date",
        "events_since": "From",
        "events_until": "To",
        "date_hint": "Format yyyy-mm-dd, for example 2024-03-01.",
        "events_filter_button": "Show",
        "events_col_time": "Time",
        "events_col_event": "Event",
        "events_empty": "No events.",
        "events_newer": "Newer events",
        "events_older": "Older events",
        "error_date": "The date is not valid. Use the format yyyy-mm-dd.",
        "error_date_order": "The end date is before the start date.",
        "events_export_heading": "Export the log",
        "events_export_help": (
            "You get the whole event log as CSV and JSON files in a message in your own inbox. "
            "Every event carries the hash of the one before it, so with an earlier export anyone "
            "can check that the history has not been rewritten."
        ),
        "events_export_button": "Export the event log to my inbox",
        "events_export_subject": "Event log",
        "events_export_text": (
            "Attached is your eAccount's event log up to {at}: {count} events as CSV and JSON."
            "\n\nThe events form a chain: each event's SHA-256 hash covers the hash before it. "
            "The last event is number {seq}, hash {hash}.\n\nKeep this message. A later export "
            "must show the same hashes for the same numbers; otherwise the history was changed."
        ),
        "events_export_signed": (
            "The JSON file holds the service's signature over the chain's last hash."
        ),
        "events_export_filename": "event-log",
        "event_other": "Event: {kind}",
        "event_citizen_created": "The eAccount was opened.",
        "event_citizen_status_active": "The eAccount was taken into use.",
        "event_citizen_status_passive": "The eAccount was taken out of use.",
        "event_citizen_status_closed": "The eAccount was closed.",
        "event_login": "You logged in ({method}).",
        "event_session_created": "You logged in.",
        "event_message_received": "A message arrived: {organisation}.",
        "event_message_opened": "You opened a message: {organisation}.",
        "event_message_replied": "You replied to a message: {organisation}.",
        "event_message_sent": "You sent a new message: {organisation}.",
        "nav_new_message": "New message",
        "new_message_heading": "New message",
        "new_message_intro": "Choose the organisation you want to write to.",
        "new_message_none": "No connected organisation accepts new messages through the eAccount.",
        "new_message_passive": (
            "A passive account cannot send messages. Reactivate the account first."
        ),
        "new_message_to": "To",
        "new_message_topic_label": "Topic",
        "new_message_topic_choose": "Choose a topic",
        "new_message_text_label": "Your message",
        "new_message_send_button": "Send message",
        "new_message_sent_notice": (
            "Your message has been saved and is being sent to the organisation. The answer "
            "will arrive in this conversation."
        ),
        "new_message_not_allowed": (
            "You cannot send a new message to this organisation through the eAccount."
        ),
        "new_message_bad_topic": "Choose a topic from the list.",
        "new_message_yours": "Your message",
        "event_message_acknowledged": "You acknowledged a verifiable message: {organisation}.",
        "event_message_acknowledgement_expired": (
            "The time to acknowledge a verifiable message ran out: {organisation}."
        ),
        "event_notification_sent": "A notice of a new message was sent.",
        "event_notification_deferred": "A notice of a new message was delayed; it is retried.",
        "event_notification_failed": "A notice of a new message could not be sent.",
        "event_notification_bounced": "A notice of a new message came back undelivered.",
        "event_notification_delayed": "A notice of a new message is delayed on its way.",
        "event_reply_sent": "Your reply was sent.",
        "event_reply_deferred": "Your reply was delayed; it is retried.",
        "event_reply_failed": "Your reply could not be delivered.",
        "event_reply_bounced": "Your reply came back undelivered.",
        "event_receipt_sent": "A receipt was sent to the message's sender.",
        "event_account_settings": "You changed settings: {fields}.",
        "event_messages_exported": "You downloaded your messages as a ZIP file ({count}).",
        "event_events_exported": "The event log was exported to your inbox.",
        "login_method_test": "test identification",
        "login_method_strong": "strong electronic identification",
        "event_receipt_expired_sent": (
            "The sender was told that a verifiable message was not acknowledged in time."
        ),
        "setting_email": "email address",
        "setting_phone": "mobile number",
        "setting_notify_email": "email notices",
        "setting_notify_sms": "text message notices",
        "setting_lang": "language",
        "nav_services": "Connected services",
        "services_heading": "Connected services",
        "services_intro": (
            "These organisations send messages to the eAccount. Under each organisation are the "
            "services its messages come from."
        ),
        "services_none": "The organisation has not listed its services.",
        "services_empty": "No organisation has joined the service yet.",
        "terms_heading": "Terms of use",
        "terms_intro_new": (
            "Welcome! You do not have an eAccount yet. Please read the terms of use. When you "
            "accept them, an eAccount is opened for you."
        ),
        "terms_intro_changed": (
            "The terms of use have changed. Accept the new terms to reach your eAccount."
        ),
        "terms_version": "Terms of use, version {version}",
        "terms_account_heading": "Your eAccount details",
        "name_label": "Name",
        "name_hint": "The name the service shows for you.",
        "terms_contact_intro": (
            "You may give an email address and a mobile number if you want notices of new "
            "messages. You can change them later in the account settings."
        ),
        "terms_accept_label": "I have read the terms of use and accept them",
        "terms_accept_button_new": "Accept and open the eAccount",
        "terms_accept_button": "Accept the terms of use",
        "terms_decline_button_new": "I do not accept, log out",
        "terms_decline_button": "Log out without accepting",
        "error_terms_accept": "Accept the terms of use to continue.",
        "error_name": "Enter your name (at most 200 characters).",
        "terms_declined_heading": "You have logged out",
        "terms_declined_new": (
            "You did not accept the terms of use, so no eAccount was opened and nothing about you "
            "was stored."
        ),
        "terms_declined_changed": (
            "You did not accept the new terms of use. Your messages stay in the eAccount, and you "
            "can accept the terms the next time you log in."
        ),
        "login_again": "Log in",
        "welcome_subject": "Welcome to the eAccount",
        "welcome_text": (
            "Welcome to the eAccount!\n\n"
            "Authorities and municipalities that have joined the service send you their decisions "
            "and other messages here instead of letters on paper. You find them in the Inbox.\n\n"
            "In the account settings you can give an email address for notices of new messages "
            "and change the language. The Connected services page shows who can send you "
            "messages. The event log shows everything that has happened in your account."
        ),
        "event_account_created": "You opened the eAccount.",
        "event_terms_accepted": "You accepted the terms of use (version {version}).",
        "datetime_format": "{d}.{m}.{y} {H}:{M}",
    },
}


def supported_lang(lang: str | None) -> str:
    """Return `lang` if the catalogue has it, else the default language."""
    return lang if lang is not None and lang in CATALOGUE else DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """Return `t(key, **values)` for one language; unknown keys raise KeyError (a bug to see)."""
    texts = CATALOGUE[supported_lang(lang)]

    def translate(key: str, **values: object) -> str:
        text = texts[key]
        return text.format(**values) if values else text

    return translate


def format_datetime(lang: str, moment: datetime) -> str:
    """Format a datetime in Finnish local time, in the language's usual style."""
    # SQLite hands back naive datetimes; the store writes UTC, so naive means UTC here.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_LOCAL_ZONE)
    return CATALOGUE[supported_lang(lang)]["datetime_format"].format(
        d=local.day, m=local.month, y=local.year, H=f"{local.hour:02d}", M=f"{local.minute:02d}"
    )
