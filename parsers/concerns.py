"""Safeguarding and urgency cues, and a referrer's request not to be named, in prose."""

from __future__ import annotations

import re
from collections.abc import Sequence

from parsers.prefilter import gated
from parsers.sentences import Found, Sentence, clause_start

# What a worried person writes about a child's safety. General English, not one referral's.
_SAFEGUARDING = (
    r"not\s+safe", r"isn'?t\s+safe", r"unsafe", r"in\s+danger",
    r"at\s+risk(?!\s+of\s+(?:missing|exclusion|being\s+excluded|not\s+attending|becoming))",
    r"bruis(?:e|es|ed|ing)", r"marks\s+on\s+(?:her|his|their)", r"injur(?:y|ies|ed)",
    r"(?:hit|hits|hitting|beat|beats|beaten|beating|kicks?|kicked|kicking|slaps?|slapped|"
    r"slapping|punch(?:es|ed|ing)?|smack(?:s|ed|ing)?)\s+(?:her|him|them|the\s+kids?)",
    r"hurt(?:s|ing)?", r"abus(?:e|ed|es|ive|ing)", r"neglect(?:ed|ing)?",
    r"not\s+(?:being\s+)?fed", r"(?:no|not\s+enough)\s+food", r"hungry", r"starving",
    r"filthy", r"unwashed", r"smell(?:s|y)", r"dirty\s+clothes", r"very\s+thin",
    r"scared", r"frightened", r"(?<!i'm\s)(?<!i\sam\s)afraid", r"terrified", r"screaming",
    r"domestic\s+(?:violence|abuse)", r"violen(?:t|ce)",
    r"police\s+(?:were|have\s+been|had\s+been|are|was)\s+(?:called|round|there|involved)",
    r"drugs?", r"drunk", r"alcohol(?:ic)?", r"self[- ]?harm(?:s|ing)?", r"suicid(?:e|al)",
    r"ran\s+away", r"run(?:s|ning)?\s+away", r"missing\s+from\s+home",
    r"locked\s+(?:in|up|out)", r"left\s+(?:alone|on\s+(?:her|his|their)\s+own)",
    r"home\s+alone", r"exploit(?:ed|ation|ing)?", r"groom(?:ed|ing)",
    r"older\s+(?:men|man|boys|lads)", r"county\s+lines", r"traffick(?:ed|ing)",
    r"forced\s+marriage", r"fgm", r"sexual(?:ly)?", r"not\s+allowed\s+(?:out|to\s+leave)",
    r"kept\s+(?:in\s+(?:her|his|their|the)\s+room|indoors|at\s+home)",
    r"(?:nobody|no-?\s?one)\s+has\s+seen\s+(?:her|him|them)",
    r"(?:her|his|their)\s+(?:safety|welfare|wellbeing)",
    r"(?<!designated\s)safeguarding(?!\s+(?:leads?|officer|team|manager|hub|partnership|board|"
    r"training|policy|advis[eo]r))",
    r"worried\s+for\s+(?:her|his|their)",
)  # fmt: skip
_URGENT = (
    r"urgent(?:ly)?", r"as\s+soon\s+as\s+possible", r"asap", r"immediate(?:ly)?",
    r"emergency", r"straight\s+away", r"right\s+away",
)  # fmt: skip
_WHO = r"(?:them|the\s+family|anyone|her|him|the\s+parents|his\s+\w+|her\s+\w+|the\s+\w+)"
_ANONYMOUS = (
    r"(?:don'?t|do\s+not|dont)\s+(?:tell|let)\s+" + _WHO + r"\s+(?:know\s+)?"
    r"(?:(?:that\s+)?it\s+was\s+me|it'?s\s+me|who\s+(?:told|rang|called|reported|contacted|"
    r"emailed|wrote|sent|it\s+was|i\s+am)|(?:that\s+)?i\s+(?:told|rang|called|reported|"
    r"contacted|emailed|wrote|got\s+in\s+touch|said))",
    r"(?:stay|remain|be|keep\s+me|kept)\s+anonymous",
    r"(?:report(?:ing)?|refer(?:ring)?|writ(?:e|ing)|tell(?:ing)?\s+you|contact(?:ing)?\s+you)"
    r"(?:\s+this)?\s+anonymously",
    r"anonymous(?:ly)?\s+(?:please|if\s+(?:possible|you\s+can))",
    r"(?:don'?t|do\s+not|dont)\s+(?:give|pass\s+on|share|mention|use|say|disclose|reveal)\s+"
    r"(?:out\s+)?(?:(?:my|her|his|their|the\s+(?:caller|referrer)['’]s)\s+(?:name|details|"
    r"number|identity)|me)\b",
    r"(?:asked|wants?|wishes|prefers?|would\s+like)\s+not\s+to\s+be\s+(?:named|identified)",
    r"(?:keep|leave)\s+(?:me|my\s+(?:name|details|identity))\s+out",
    r"not\s+(?:to\s+)?be\s+named",
    r"(?:don'?t|do\s+not|dont)\s+want\s+(?:to\s+be\s+named|" + _WHO + r"\s+to\s+know\s+"
    r"(?:it\s+was\s+me|who|that\s+i))",
    r"(?:don'?t|do\s+not|dont)\s+(?:say|mention)\s+(?:that\s+)?(?:it\s+was|it'?s)\s+me",
    r"without\s+(?:giving|saying|using|mentioning)\s+my\s+name",
    r"(?:keep|treat)\s+(?:this|it|my\s+name|me)\s+(?:confidential|in\s+confidence|private)",
)  # fmt: skip


def _compile(parts: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


SAFEGUARDING = gated(_compile(_SAFEGUARDING))
URGENT = gated(_compile(_URGENT))
ANONYMOUS = gated(_compile(_ANONYMOUS))
_NEGATION = re.compile(
    r"\b(?:no|not|nor|without|never|nothing|don'?t\s+think|do\s+not\s+think|no\s+signs?\s+of|"
    r"no\s+evidence\s+of|no\s+indication\s+of|no\s+concerns?\s+(?:about|of|for))"
    r"(?:\s+[\w']+){0,3}\s*$",
    re.IGNORECASE,
)


def _negated(text: str, start: int) -> bool:
    """'no safeguarding concerns', 'I don't think she is at risk': the cue is denied."""
    return _NEGATION.search(text[clause_start(text, start) : start]) is not None


_IF = re.compile(r"(?:if|should)\b", re.IGNORECASE)


def _conditional(sentence: Sentence) -> bool:
    """'If you are worried about a child's safety, call...': advice, not a concern."""
    return _IF.match(sentence.text) is not None


def find_cues(
    found: Sequence[Sentence],
) -> tuple[list[Found], list[Found], list[Found]]:
    """Safeguarding cues, urgency cues and anonymity requests, each with its words."""
    safeguarding: list[Found] = []
    urgent: list[Found] = []
    anonymous: list[Found] = []
    cue_kinds = ((SAFEGUARDING, safeguarding), (URGENT, urgent))
    for s in found:
        conf = 0.5 if s.quoted else 0.6
        for pattern, out in () if _conditional(s) else cue_kinds:
            for m in pattern.finditer(s.text):
                if _negated(s.text, m.start()):
                    continue
                out.append(
                    Found("cue", m.group(0), s.start + m.start(), s.start + m.end(), s, conf)
                )
        for m in ANONYMOUS.finditer(s.text):
            anonymous.append(
                Found("anonymous", True, s.start + m.start(), s.start + m.end(), s, conf)
            )
    return safeguarding, urgent, anonymous
