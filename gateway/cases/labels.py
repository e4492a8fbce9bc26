"""The words a person reads for each code: channels, urgencies, tasks, reasons, fields.

Pages, letters and the CLI's plain output show these labels, never the codes.
"""

from __future__ import annotations

CHANNELS = {
    "email": "email",
    "form": "the online referral form",
    "phone": "phone",
    "other_la": "another local authority",
    "lost_pupil_file": "a lost-pupil file",
    "school_deletion_return": "a school's deletion return",
}

URGENCIES = {
    "routine": "Routine",
    "urgent": "Urgent",
    "safeguarding": "Safeguarding concern",
}

TASKS = {
    "progress_update": "Send the referrer a progress update",
    "further_enquiries": "Ask the referrer for missing information",
    "first_contact": "First contact (urgent referral)",
    "claim_check": "Check a lost-pupil claim",
    "status_request": "Status request to the other authority",
    "phone_referrer": "Phone the referrer (no email address)",
    "post_letter": "Post a letter to the referrer (no email address)",
    "parent_contact": "Contact the parents urgently (no evidence of education)",
    "home_visit": "Home visit due",
    "escalation_review": "Review the escalation",
}

TASK_STATES = {"open": "To do", "done": "Done", "cancelled": "Cancelled"}

DISMISS_REASONS = {
    "on_roll": "On a school roll",
    "ehe": "Electively home educated",
    "not_resident": "Not resident in this authority",
    "duplicate": "Duplicate of a referral we already have",
    "not_a_referral": "Not a referral",
}

TRIAGE_STATES = {
    "awaiting": "Awaiting triage",
    "opened": "Opened a new case",
    "attached": "Added to an existing case",
    "dismissed": "Not CME",
}

#: Where a candidate comes from.
SOURCES = {
    "case": "Case",
    "lost_pupil": "Lost pupil",
    "roll": "School roll",
    "ehe": "EHE register",
    "referral": "Referral",
}

DECISIONS = {
    "proposed": "Likely match",
    "review": "Possible match",
    "none": "Unlikely",
}

CANDIDATE_STATES = {
    "pending": "To review",
    "not_sure": "Not sure yet",
    "confirmed": "Confirmed",
    "rejected": "Rejected",
    "superseded": "No longer proposed",
}

#: The child's details, as a form or a fact names them.
FIELDS = {
    "forename": "First name",
    "surname": "Last name",
    "middle_names": "Middle names",
    "dob": "Date of birth",
    "age_range": "Age (as the referrer gave it)",
    "sex": "Sex",
    "upn": "UPN",
    "year_group": "Year group",
    "address": "Address",
    "address_line1": "Address",
    "address_line2": "Address line 2",
    "town": "Town",
    "postcode": "Postcode",
    "alias": "Another name",
    "carer": "Parent or carer",
    "sibling": "Sibling",
    "school": "School",
    "language": "Language",
}

SEX = {"M": "Male", "F": "Female"}

#: National curriculum year groups as the case stores them ("N", "R", "1" to "13").
YEAR_GROUPS = {"N": "Nursery", "R": "Reception", **{str(n): f"Year {n}" for n in range(1, 14)}}

#: What a referral may say about the child's circumstances (Referral.flags).
REFERRAL_FLAGS = {
    "looked_after": "Looked after by a local authority",
    "social_care": "Known to children's social care",
    "child_protection": "On a child protection plan",
    "sen_ehcp": "Special educational needs or an EHC plan",
    "traveller": "From a Gypsy, Roma or Traveller family",
}

AGENCIES = {
    "children_social_care": "Children's Social Care",
    "admissions": "School Admissions",
    "routes_to_employment": "Routes to Employment",
    "inclusion_team": "Inclusion Team",
    "health": "Health",
    "choice_advice": "Choice Advice",
    "police": "Police",
    "attendance_welfare": "Attendance & Welfare",
    "housing": "Housing",
    "a_and_e": "A&E",
    "sen_case_worker": "SEN case worker",
    "other_la": "Another local authority",
    "health_visitor": "Health visitor",
    "school": "School",
    "parent_carer": "Parent or carer",
    "referrer": "The referrer",
    "ehe_team": "EHE team",
    "other": "Other",
}

METHODS = {
    "phone": "phone",
    "email": "email",
    "letter": "letter",
    "home_visit": "home visit",
    "meeting": "meeting",
    "database_check": "database check",
    "other": "other means",
}

#: Outcomes the system sets (the workflow file's outcomes are the officer's choices).
SYSTEM_OUTCOMES = {"duplicate": "Duplicate of another case (merged into it)"}


def channel_label(code: str) -> str:
    return CHANNELS.get(code, code.replace("_", " "))


def label(table: dict[str, str], code: str | None) -> str:
    """The label for a code from one of the tables above (the code itself if unknown)."""
    if code is None:
        return ""
    return table.get(code, code.replace("_", " ").capitalize())


#: The matching engine's fields, as the match review page names them.
MATCH_FIELDS = {
    "forename": "First name",
    "surname": "Last name",
    "middle_names": "Middle names",
    "dob": "Date of birth",
    "sex": "Sex",
    "upn": "UPN",
    "address": "Address",
    "parents": "Parents or carers",
    "school": "School",
    "year_group": "Year group",
}

#: How a field compared, in words.
MATCH_LEVELS = {
    "exact": "The same",
    "variant": "A spelling or short form of the same name",
    "part": "Part of the name",
    "former_or_alias": "A former name or alias",
    "fuzzy_high": "Nearly the same spelling",
    "fuzzy": "A similar spelling",
    "initial": "Only the initial agrees",
    "patronymic": "A related family name",
    "family": "A family name in common",
    "different": "Different",
    "agree": "The same",
    "day_month_swap": "Day and month swapped",
    "one_digit": "One digit different",
    "month_day": "Same day and month, other year",
    "year": "Same year only",
    "near": "Within a few weeks",
    "former": "A former UPN",
    "address": "Same address",
    "postcode": "Same postcode",
    "sector": "Same postcode sector",
    "district_or_town": "Same district or town",
    "full_name": "A parent with the same full name",
    "forename": "A parent with the same first name",
    "same": "The same school",
    "same_la": "A school in the same authority",
    "one_off": "One year apart",
    "missing": "Not known on one side",
}
