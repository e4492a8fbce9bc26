"""The words a person reads for the exchange's codes: answers, documents, statuses, fields.

The console shows these labels, never the codes.
"""

from __future__ import annotations

#: The six answers to an enquiry (parsers.exchange.ReplyStatus), as an officer says them.
REPLY_STATUSES = {
    "not-known": "Not known",
    "on-roll": "On roll at a school",
    "application-in-progress": "Applying for a school place",
    "ehe-notified": "Home educated (EHE notified)",
    "known-at-address": "Known at an address",
    "moved-on": "Moved on",
}

#: What each answer means, when we give it (the hint beside its radio).
REPLY_HINTS = {
    "not-known": "We have no record of this child.",
    "on-roll": "The child is on roll at one of our schools: give the school and start date.",
    "application-in-progress": "An application for a school place here is being dealt with.",
    "ehe-notified": "The child is registered with us as electively home educated.",
    "known-at-address": "We know the child at an address in our area: give the address.",
    "moved-on": "The child has moved on again: say where, if we know.",
}

DOC_TYPES = {
    "enquiry": "Enquiry",
    "reply": "Answer",
    "receipt": "Receipt",
    "status-request": "Status request",
    "case-transfer": "Case transfer",
}

PROPOSAL_KINDS = {
    "reply": "Enquiry to answer",
    "case_update": "Answer to our enquiry",
    "free_text": "Answer in their own words",
}

OUT_STATUSES = {
    "queued": "Waiting to be sent",
    "awaiting_receipt": "Sent, waiting for their receipt",
    "delivered": "Delivered",
    "dead": "Could not be delivered",
    "withdrawn": "Withdrawn (the case closed first)",
    "abandoned": "Abandoned",
    "pending": "Waiting to be sent",
    "sent": "Sent",
    "undelivered": "Bounced",
}

CHANNELS = {
    "https": "Secure HTTPS, to their CME Gateway",
    "mail": "Secure email (S/MIME, signed and encrypted)",
}

#: How a message goes, in a sentence ("it goes by secure email").
CHANNEL_WORDS = {"https": "secure HTTPS", "mail": "secure email"}

#: What left in a document (gateway.exchange.outbound._disclosed_items), in words.
DISCLOSED = {
    "surname": "Last name",
    "forename": "First name",
    "upn": "UPN",
    "middle_names": "Middle names",
    "former_surname": "Former last name",
    "dob": "Date of birth",
    "sex": "Sex",
    "address": "Address",
    "school": "School",
    "note": "Your note",
}

SEXES = {"M": "Male", "F": "Female", "U": "Not known"}

#: Kinds of email in the outbox, for the dead-letter list.
OUTBOX_KINDS = {
    "exchange": "Secure exchange message (by email)",
    "exchange_receipt": "Receipt for a secure exchange message (by email)",
    "officer_notice": "Notice to the CME officer",
    "acknowledgement": "Letter to the referrer: acknowledgement",
    "progress_update": "Letter to the referrer: progress update",
    "further_enquiries": "Letter to the referrer: missing information",
}


def label(table: dict[str, str], code: str | None) -> str:
    """The words for a code; a code not in the table is shown as words, never blank."""
    if not code:
        return "Not known"
    return table.get(code, code.replace("_", " ").replace("-", " ").capitalize())


def outbox_kind(kind: str) -> str:
    if kind.startswith("onward_"):
        return "Onward referral to " + kind.removeprefix("onward_").replace("_", " ")
    return label(OUTBOX_KINDS, kind)
